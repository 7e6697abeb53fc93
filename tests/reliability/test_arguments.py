"""Rows of docs/reliability.md on the arguments of the getters and of ``train()``."""

import logging

import numpy as np
import pytest
from reliability_cases import CASES, QUIET, paired_mdata

from scvi_contrastive.model import SCMDCF

SCMDCF_CASE, BICLUM_CASE = CASES["SCMDCF"], CASES["BICLUM"]


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
