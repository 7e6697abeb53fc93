"""Rows of docs/reliability.md about pairing, getters' and ``train()``'s arguments."""

import logging

import mudata as md
import numpy as np
import pytest
from reliability_cases import CASES, QUIET, paired_mdata, unpaired_mdata
from scipy import sparse

from scvi_contrastive.model import SCMDCF

SCMDCF_CASE, BICLUM_CASE = CASES["SCMDCF"], CASES["BICLUM"]


# ---------------------------------------------------------------------------- which cells pair


def _renamed(mdata, modality, prefix, keep=0):
    """``mdata`` with the cells of ``modality`` renamed (all but the first ``keep``)."""
    names = list(mdata[modality].obs_names)
    mdata[modality].obs_names = names[:keep] + [prefix + n for n in names[keep:]]
    mdata.update()
    return mdata


def test_scmdcf_refuses_modalities_that_share_no_cell():
    mdata = _renamed(paired_mdata(), "prot", "other_")
    with pytest.raises(ValueError, match=r"Modality 'rna' shares no cell with \['prot'\].*BICLUM"):
        SCMDCF_CASE.setup(mdata)


def test_scmdcf_warns_when_few_cells_are_paired():
    mdata = _renamed(paired_mdata(), "prot", "other_", keep=4)
    with pytest.warns(UserWarning, match=r"Only 4 of the 60 cells .* measured in both.*BICLUM"):
        SCMDCF_CASE.setup(mdata)


def test_scmdcf_takes_a_modality_measured_in_a_subset_of_the_cells(recwarn):
    mdata = paired_mdata()
    mdata.mod["prot"] = mdata["prot"][:20].copy()
    mdata.update()
    SCMDCF_CASE.setup(mdata)  # every protein cell has RNA: fully paired where measured
    assert not [w for w in recwarn if "measured in both" in str(w.message)]


def _indexed_alike():
    """Two experiments whose cells are both named 0, 1, …: MuData merges them by name."""
    mdata = unpaired_mdata()
    for name in mdata.mod:
        mdata[name].obs_names = [str(i) for i in range(mdata[name].n_obs)]
    return md.MuData(dict(mdata.mod))


def test_biclum_refuses_cells_of_two_experiments_indexed_alike():
    with pytest.raises(ValueError, match=r"share 50 cell names .*'atac_' \+ mdata.mod\['atac'\]"):
        BICLUM_CASE.setup(_indexed_alike())


def test_biclum_logs_the_cells_measured_in_both(caplog):
    with caplog.at_level(logging.INFO, logger="scvi_contrastive.model.biclum"):
        BICLUM_CASE.setup(unpaired_mdata())
    assert "0 cells measured in both modalities (rna: 60 cells, atac: 50 cells)" in caplog.text
    mdata = _indexed_alike()
    with caplog.at_level(logging.INFO, logger="scvi_contrastive.model.biclum"):
        BICLUM_CASE.setup(mdata, partially_paired=True)
    assert "50 cells measured in both modalities" in caplog.text
    assert BICLUM_CASE.cls(mdata, **BICLUM_CASE.init).adata.n_obs == 60


def test_scmdcf_refuses_a_modality_without_counts():
    mdata = paired_mdata()
    mdata["prot"].layers["counts"] = sparse.csr_matrix(mdata["prot"].shape, dtype=np.float32)
    with pytest.raises(ValueError, match=r"Modality 'prot' has no counts in any cell"):
        SCMDCF_CASE.setup(mdata)


def test_float16_counts_name_the_layer_and_the_fix(case):
    mdata = case.make("dense")
    mdata["rna"].layers["counts"] = mdata["rna"].layers["counts"].astype(np.float16)
    with pytest.raises(TypeError, match=r"'counts' of modality 'rna' has dtype float16.*float32"):
        case.setup(mdata)


# ---------------------------------------------------------------------------- getters


@pytest.mark.parametrize(
    ("indices", "error", "message"),
    [
        ([0, 500], ValueError, r"1 positions outside 0\.\.\d+ \(e\.g\. \[500\]\)"),
        ([-1], ValueError, r"positions outside 0\.\.\d+ \(e\.g\. \[-1\]\)"),
        ([], ValueError, "`indices` selects no cells"),
        (np.ones(3, dtype=bool), ValueError, r"boolean mask of shape \(3,\)"),
        ([0.5], TypeError, "integer positions or a boolean mask"),
    ],
    ids=["out-of-range", "negative", "empty", "short-mask", "float"],
)
def test_getters_check_indices(trained, indices, error, message):
    with pytest.raises(error, match=message):
        trained.get_latent_representation(indices=indices)


def test_getters_take_a_boolean_mask(trained):
    mask = np.zeros(trained.adata.n_obs, dtype=bool)
    mask[[1, 4]] = True
    np.testing.assert_array_equal(
        trained.get_latent_representation(indices=mask),
        trained.get_latent_representation(indices=[1, 4]),
    )


def test_getters_name_a_missing_modality(case, trained):
    mdata = case.make()
    del mdata.mod[list(case.modalities.values())[1]]
    mdata.update()
    with pytest.raises(ValueError, match=r"Modality '(prot|atac)', which the model was set up"):
        trained.get_latent_representation(mdata)


@pytest.mark.parametrize("library_size", [-1, 0, np.nan])
def test_scmdcf_library_size_must_be_positive(library_size):
    model = SCMDCF_CASE.fit(SCMDCF_CASE.model(), max_epochs=1)
    with pytest.raises(ValueError, match="`library_size` must be a positive number"):
        model.get_normalized_expression(library_size=library_size)


# ---------------------------------------------------------------------------- training


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"max_epochs": -1}, ValueError, "`max_epochs` must be at least 1, got -1"),
        ({"max_epochs": 0}, ValueError, "`max_epochs` must be at least 1, got 0"),
        ({"max_epochs": 2.5}, TypeError, r"`max_epochs` must be an integer, got 2\.5"),
        ({"batch_size": 1}, ValueError, "`batch_size` must be at least 2.*BatchNorm"),
    ],
    ids=["negative-epochs", "zero-epochs", "fractional-epochs", "batch-of-one"],
)
def test_training_arguments_are_checked(case, arguments, error, message):
    model = case.model()
    with pytest.raises(error, match=message):
        model.train(**{**QUIET, "max_epochs": 1, **case.train, **arguments})


def test_biclum_early_stopping_needs_held_out_cells():
    with pytest.raises(ValueError, match=r"`early_stopping` .*holds out no cells.*train_size=0.9"):
        BICLUM_CASE.fit(BICLUM_CASE.model(), max_epochs=1, early_stopping=True)
    BICLUM_CASE.fit(BICLUM_CASE.model(), max_epochs=2, early_stopping=True, train_size=0.9)


def test_biclum_batch_size_is_at_most_the_smaller_modality(caplog):
    model = BICLUM_CASE.model()
    with caplog.at_level(logging.INFO, logger="scvi_contrastive.model.biclum"):
        model.train(**{**QUIET, **BICLUM_CASE.train, "max_epochs": 1, "batch_size": 500})
    assert "batch_size 500 is more than the smaller modality's 50 cells; using 50" in caplog.text
    loader = model.trainer.train_dataloader
    assert loader.sampler.batch_size == 50


def test_scmdcf_needs_three_cells():
    mdata = paired_mdata()[:2].copy()
    SCMDCF_CASE.setup(mdata)
    model = SCMDCF(mdata, **SCMDCF_CASE.init)
    with pytest.raises(ValueError, match="SCMDCF needs at least 3 cells to train, got 2"):
        SCMDCF_CASE.fit(model, max_epochs=1)


def test_a_second_train_continues_with_clustering_on(caplog):
    model = SCMDCF_CASE.fit(SCMDCF_CASE.model(), max_epochs=2, n_epochs_pretrain=1)
    centers = model.module.dec.centers.detach().clone()
    with caplog.at_level(logging.INFO, logger="scvi_contrastive.model.scmdcf"):
        SCMDCF_CASE.fit(model, max_epochs=2, n_epochs_pretrain=1)
    assert "already trained: this call continues" in caplog.text
    assert not np.allclose(model.module.dec.centers.detach(), centers)  # trained on, not reset
    # The clustering term: epoch 1 of the first call, then every epoch of the second.
    assert list(model.history["clustering_train"].index) == [1, 2, 3]
    for name, frame in model.history.items():
        assert frame.index.is_unique and frame.index.is_monotonic_increasing, name
    assert list(model.history["train_loss"].index) == [0, 1, 2, 3]
