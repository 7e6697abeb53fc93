"""Rows of docs/reliability.md on setup, saved models, training and data safety (both models)."""

import hashlib
import re
from pathlib import Path

import anndata as ad
import lightning.pytorch as pl
import mudata as md
import numpy as np
import pandas as pd
import pytest
import scvi
import torch
from reliability_cases import CASES, GENES, paired_mdata, unpaired_mdata
from scipy import sparse

from scvi_contrastive.data.validation import check_counts, row_sums
from scvi_contrastive.model import BICLUM, SCMDCF
from scvi_contrastive.train.callbacks import (
    LAST_CHECKPOINT,
    NonFiniteLossError,
    TrainingCheckpoint,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"


# ---------------------------------------------------------------------------- bad inputs


def _corrupt_counts(value):
    def corrupt(mdata):
        mdata["rna"].layers["counts"].data[3] = value

    return corrupt


def _set_obs(column, value):
    def corrupt(mdata):
        mdata.obs[column] = mdata.obs[column].astype(object)
        mdata.obs.iloc[2, mdata.obs.columns.get_loc(column)] = value

    return corrupt


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (_corrupt_counts(0.5), "layer 'counts' of modality 'rna' contains non-integer"),
        (_corrupt_counts(-1.0), "layer 'counts' of modality 'rna' contains negative"),
        (_corrupt_counts(np.nan), "layer 'counts' of modality 'rna' contains NaN or infinite"),
        (_corrupt_counts(np.inf), "layer 'counts' of modality 'rna' contains NaN or infinite"),
        (_set_obs("batch", np.nan), r"Column 'batch' \(`batch_key`\).*no value for 1 cells"),
    ],
    ids=["fraction", "negative", "nan", "inf", "nan-batch"],
)
def test_bad_values_name_the_input(case, corrupt, message):
    mdata = case.make("csr")
    corrupt(mdata)
    with pytest.raises(ValueError, match=message):
        case.setup(mdata, batch_key="batch")


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("argument", ["continuous_covariate_keys", "size_factor_key"])
def test_scmdcf_non_finite_numerical_covariates(argument, value):
    mdata = paired_mdata()
    mdata.obs["covariate"] = np.linspace(0.5, 1.5, mdata.n_obs)
    mdata.obs.loc["cell7", "covariate"] = value
    column = ["covariate"] if argument == "continuous_covariate_keys" else "covariate"
    with pytest.raises(ValueError, match=f"`{argument}` contains NaN or infinite"):
        CASES["SCMDCF"].setup(mdata, **{argument: column})


def test_scmdcf_size_factors_must_be_positive():
    mdata = paired_mdata()
    mdata.obs["size_factor"] = np.linspace(0.0, 1.0, mdata.n_obs)
    with pytest.raises(ValueError, match="`size_factor_key` holds zero or negative"):
        CASES["SCMDCF"].setup(mdata, size_factor_key="size_factor")


def test_scmdcf_missing_categorical_covariate():
    mdata = paired_mdata()
    mdata.obs["donor"] = np.resize(["x", None], mdata.n_obs)
    with pytest.raises(ValueError, match=r"'donor' \(`categorical_covariate_keys`\)"):
        CASES["SCMDCF"].setup(mdata, categorical_covariate_keys=["donor"])


def test_missing_layer_modality_and_column(case):
    with pytest.raises(
        ValueError, match=r"Layer 'raw' \(`rna_layer`\) not found in modality 'rna'"
    ):
        case.cls.setup_mudata(case.make(), rna_layer="raw", modalities=case.modalities)
    modalities = {**case.modalities, "rna_layer": "gex"}
    with pytest.raises(ValueError, match=r"Modality 'gex' not found.*modalities\['rna_layer'\]"):
        case.cls.setup_mudata(case.make(), modalities=modalities)
    with pytest.raises(ValueError, match=r"Column 'donor' not found in `mdata.obs`.*batch_key"):
        case.setup(case.make(), batch_key="donor")


def test_modalities_with_unknown_keys(case):
    modalities = {**case.modalities, "rna_layr": "rna"}
    with pytest.raises(ValueError, match=r"Unknown key\(s\) \['rna_layr'\] in `modalities`"):
        case.cls.setup_mudata(case.make(), modalities=modalities)


def test_no_cells_after_filtering(case):
    mdata = case.make()
    empty = mdata[np.zeros(mdata.n_obs, dtype=bool)].copy()
    with pytest.raises(ValueError, match=r"no cells|0 cells"):
        case.setup(empty)


def test_no_features_after_filtering(case):
    mdata = case.make()
    mdata.mod["rna"] = mdata["rna"][:, []].copy()
    mdata.update()
    with pytest.raises(
        ValueError, match=r"No features in modality 'rna'|'rna' has \d+ cells and 0"
    ):
        case.setup(mdata)


def test_a_partially_measured_modality_without_cells():
    mdata = paired_mdata()
    mdata.mod["prot"] = mdata["prot"][:0].copy()
    mdata.update()
    with pytest.raises(ValueError, match="Modality 'prot' has 0 cells"):
        CASES["SCMDCF"].setup(mdata)


def test_cells_without_counts(case):
    mdata = case.make()
    for name in mdata.mod:
        mdata[name].layers["counts"][4] = 0  # row 4 of each modality: one cell, or two
    message = r"cells have no counts in any registered modality \(e.g. \['(cell|r)4'"
    if case.cls is SCMDCF:  # paired cells empty in every modality: droplets to filter out
        with pytest.raises(ValueError, match=message):
            case.setup(mdata)
        return
    # BICLUM embeds them from their all-zero input (ATAC gene activity often has a few).
    with pytest.warns(UserWarning, match=message):
        case.setup(mdata)
    latent = case.fit(case.cls(mdata, **case.init), max_epochs=1).get_latent_representation()
    assert np.isfinite(latent).all()


def test_repeated_obs_names(case):
    mdata = case.make()
    names = list(mdata["rna"].obs_names)
    names[1] = names[0]
    mdata["rna"].obs_names = names
    with pytest.raises(ValueError, match=r"obs_names of .* not unique \(e.g. \['(cell|r)0'\]\)"):
        case.setup(mdata)


def _stacked():
    mdata = unpaired_mdata()
    return ad.concat(
        {"rna": mdata["rna"], "atac": mdata["atac"]}, label="modality", index_unique="-"
    )


def _repeat_first_name(adata):
    adata.obs_names = [adata.obs_names[0], *adata.obs_names[1:-1], adata.obs_names[0]]


def _drop_modality(adata):
    adata.obs["modality"] = adata.obs["modality"].astype(object)
    adata.obs.iloc[3, adata.obs.columns.get_loc("modality")] = None


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda a: a.layers["counts"].data.__setitem__(0, 0.5), "layer 'counts' of the AnnData"),
        (_repeat_first_name, r"`adata.obs_names` are not unique"),
        (_drop_modality, r"Column 'modality' \(`modality_key`\).*no value for 1 cells"),
    ],
    ids=["fraction", "repeated-names", "no-modality"],
)
def test_biclum_anndata_form_checks(corrupt, message):
    adata = _stacked()
    corrupt(adata)
    with pytest.raises(ValueError, match=message):
        BICLUM.setup_anndata(adata, modality_key="modality", layer="counts")


def test_biclum_anndata_form_warns_about_rows_without_counts():
    adata = _stacked()
    adata.layers["counts"][5] = 0
    with pytest.warns(UserWarning, match=r"1 cells have no counts .*\['r5-rna'\]"):
        BICLUM.setup_anndata(adata, modality_key="modality", layer="counts")


def test_backed_data_are_refused_with_the_fix(case, trained, tmp_path):
    path = tmp_path / "data.h5mu"
    case.make().write(path)
    backed = md.read_h5mu(path, backed=True)
    with pytest.raises(ValueError, match=r"`mdata` is backed.*mdata.filename = None"):
        case.setup(backed)
    # A backed MuData given to a getter of a trained model is refused as well.
    with pytest.raises(ValueError, match="modality 'rna' is backed"):
        trained.get_latent_representation(md.read_h5mu(path, backed=True))
    backed.filename = None  # the documented fix
    case.setup(backed)


def test_query_with_reordered_or_missing_genes(case, trained):
    reordered = case.make()
    reordered.mod["rna"] = reordered["rna"][:, GENES[::-1]].copy()
    reordered.update()
    with pytest.raises(ValueError, match=r"different order.*'g19' at position 0 where 'g0'"):
        trained.get_latent_representation(reordered)
    missing = case.make()
    missing.mod["rna"] = missing["rna"][:, GENES[2:]].copy()
    missing.update()
    with pytest.raises(ValueError, match=r"2 registered ones missing: \['g0', 'g1'\]"):
        trained.get_latent_representation(missing)


def test_unknown_batch_category_points_to_query_mapping(case, trained):
    query = case.make()
    query.obs["batch"] = np.resize(["a", "zz"], query.n_obs)
    name = case.cls.__name__
    with pytest.raises(ValueError, match=rf"Batch category 'zz'.*{name}\.load_query_data"):
        trained.get_latent_representation(query)


# ---------------------------------------------------------------------------- saved models


@pytest.fixture
def saved(case, trained, tmp_path):
    folder = tmp_path / case.cls.__name__
    trained.save(folder, save_anndata=True)
    return folder


def test_save_load_reproduces_the_latent_bit_for_bit(case, trained, saved):
    latent = trained.get_latent_representation()
    np.testing.assert_array_equal(case.cls.load(saved).get_latent_representation(), latent)
    with_data = case.cls.load(saved, adata=trained.adata.copy())
    np.testing.assert_array_equal(with_data.get_latent_representation(), latent)


def test_load_from_missing_or_incomplete_folders(case, saved, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        case.cls.load(tmp_path / "nowhere")
    (saved / "model.pt").rename(saved / "moved.pt")
    with pytest.raises(FileNotFoundError, match=r"holds no 'model.pt'.*moved.pt"):
        case.cls.load(saved)


def test_load_truncated_model_file(case, saved):
    content = (saved / "model.pt").read_bytes()
    (saved / "model.pt").write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        case.cls.load(saved)


def test_load_with_the_wrong_class(case, saved, tmp_path):
    other = BICLUM if case.cls is SCMDCF else SCMDCF
    name = case.cls.__name__
    with pytest.raises(ValueError, match=rf"holds a {name} model, not a {other.__name__} one"):
        other.load(saved)
    adata = scvi.data.synthetic_iid(batch_size=10, n_genes=10, n_proteins=0, n_regions=0)
    scvi.model.SCVI.setup_anndata(adata)
    scvi.model.SCVI(adata, n_hidden=8, n_latent=2).save(tmp_path / "scvi")
    with pytest.raises(ValueError, match=r"holds a SCVI model.*`SCVI.load\(...\)`"):
        case.cls.load(tmp_path / "scvi")


def test_load_lists_genes_that_differ(case, saved):
    renamed = case.make()
    renamed["rna"].var_names = [f"x{i}" for i in range(len(GENES))]
    renamed.update()
    with pytest.raises(ValueError, match=r"missing: \['g0', 'g1'.*not registered: \['x0', 'x1'"):
        case.cls.load(saved, adata=renamed)
    reordered = case.make()
    reordered.mod["rna"] = reordered["rna"][:, GENES[::-1]].copy()
    reordered.update()
    with pytest.raises(ValueError, match=r"modality 'rna' are the registered ones in a different"):
        case.cls.load(saved, adata=reordered)


# ---------------------------------------------------------------------------- training


class _Poison(pl.Callback):
    """Set one parameter to NaN when an epoch starts."""

    def __init__(self, parameter, epoch):
        self.parameter, self.epoch = parameter, epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            with torch.no_grad():
                dict(pl_module.module.named_parameters())[self.parameter].fill_(float("nan"))


def test_nan_loss_stops_training_naming_term_and_epoch(case):
    parameter, bad_term, good_term = case.poison
    model = case.model()
    message = rf"at epoch 1 \(step \d+\) is NaN; non-finite terms: .*{re.escape(bad_term)}"
    with pytest.raises(NonFiniteLossError, match=message) as error:
        case.fit(model, max_epochs=3, callbacks=[_Poison(parameter, epoch=1)])
    assert good_term not in str(error.value)
    assert "kl_global" not in str(error.value)  # scvi's placeholder (0 * loss) is not blamed
    assert len(model.history["train_loss"]) == 1  # the first epoch completed


def _gradient_norm(module):
    grads = [p.grad.detach().norm() for p in module.parameters() if p.grad is not None]
    return float(torch.stack(grads).norm())


class _GradientNorms(pl.Callback):
    """Gradient norm before Lightning clips it and when the optimiser steps."""

    def __init__(self):
        self.before, self.at_step = [], []

    def on_train_start(self, trainer, pl_module):
        record = lambda *_: self.at_step.append(_gradient_norm(pl_module.module))  # noqa: E731
        trainer.optimizers[0].register_step_post_hook(record)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.before.append(_gradient_norm(pl_module.module))


def test_gradient_clipping_through_trainer_kwargs(case):
    norms = _GradientNorms()
    case.fit(case.model(), max_epochs=1, gradient_clip_val=0.01, callbacks=[norms])
    assert len(norms.at_step) == len(norms.before) > 0
    assert max(norms.before) > 0.01  # clipping had work to do
    assert max(norms.at_step) <= 0.01 * (1 + 1e-4)


def test_same_seed_gives_the_same_latent(case):
    first = case.fit(case.model()).get_latent_representation()
    second = case.fit(case.model()).get_latent_representation()
    np.testing.assert_array_equal(first, second)


class _StopAfter(pl.Callback):
    """Interrupt training at the end of an epoch."""

    def __init__(self, n_epochs):
        self.n_epochs = n_epochs

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch + 1 == self.n_epochs:
            trainer.should_stop = True


# SCMDCF: the clustering phase starts at the resumed epoch. BICLUM: the pairs refreshed at
# epoch 1 are used in epoch 2, so they must come back from the checkpoint.
RESUME = {
    SCMDCF: {"n_epochs_pretrain": 2},
    BICLUM: {"mnn_refresh_every": 2, "mnn_refresh_start": 1},
}


class _PairsAtStart(pl.Callback):
    """BICLUM's positive pairs when the first epoch of a (resumed) run starts."""

    def __init__(self, model):
        self.model, self.pairs = model, None

    def on_train_epoch_start(self, trainer, pl_module):
        if self.pairs is None:
            self.pairs = self.model.mnn_pairs_.copy()


def _resumed(case, folder):
    """Models trained 4 epochs in one go, interrupted after 2, and resumed from there."""
    kwargs = RESUME[case.cls]
    uninterrupted = case.fit(case.model(), max_epochs=4, **kwargs)
    checkpoint = TrainingCheckpoint(folder)
    interrupted = case.model()
    case.fit(interrupted, max_epochs=4, callbacks=[checkpoint, _StopAfter(2)], **kwargs)
    resumed = case.model()
    pairs = _PairsAtStart(resumed) if case.cls is BICLUM else None
    callbacks = [pairs] if pairs else []
    case.fit(resumed, max_epochs=4, ckpt_path=checkpoint.last_path, callbacks=callbacks, **kwargs)
    return uninterrupted, interrupted, resumed, pairs and pairs.pairs


def test_resumed_training_continues_epochs_and_state(case, tmp_path):
    _, interrupted, resumed, pairs_at_resume = _resumed(case, tmp_path)
    assert (tmp_path / LAST_CHECKPOINT).is_file()
    assert list(interrupted.history["train_loss"].index) == [0, 1]
    assert resumed.trainer.current_epoch == 4
    assert list(resumed.history["train_loss"].index) == [2, 3]
    if case.cls is BICLUM:  # the pairs of the interrupted run's last refresh came back
        assert not np.array_equal(interrupted.mnn_pairs_, interrupted.initial_mnn_pairs_)
        np.testing.assert_array_equal(pairs_at_resume, interrupted.mnn_pairs_)


def test_resumed_training_matches_the_uninterrupted_run(case, tmp_path):
    uninterrupted, _, resumed, _ = _resumed(case, tmp_path)
    np.testing.assert_array_equal(
        resumed.get_latent_representation(), uninterrupted.get_latent_representation()
    )


# ---------------------------------------------------------------------------- data safety


def _digest(*arrays):
    sha = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        sha.update(f"{array.dtype}{array.shape}".encode())
        sha.update(array.tobytes())
    return sha.hexdigest()


def _matrix_digest(matrix):
    if sparse.issparse(matrix):
        return matrix.format, _digest(matrix.data, matrix.indices, matrix.indptr, matrix.shape)
    return "dense", _digest(matrix)


def _frame_digest(frame):
    return (
        list(frame.columns),
        list(frame.dtypes.astype(str)),
        _digest(pd.util.hash_pandas_object(frame, index=True).to_numpy()),
    )


def fingerprint(mdata):
    """Digests of every modality's X, layers, obs and var, and of mdata's obs and var."""
    prints = {"var": _frame_digest(mdata.var)}
    for name, modality in mdata.mod.items():
        prints[f"{name}.X"] = _matrix_digest(modality.X)
        for layer, matrix in modality.layers.items():
            prints[f"{name}.layers[{layer}]"] = _matrix_digest(matrix)
        prints[f"{name}.obs"] = _frame_digest(modality.obs)
        prints[f"{name}.var"] = _frame_digest(modality.var)
    return prints


def _assert_unchanged(mdata, before, obs_before):
    assert fingerprint(mdata) == before
    # Setup adds documented columns to mdata.obs; the existing ones stay as they were.
    assert _frame_digest(mdata.obs[obs_before.columns]) == _frame_digest(obs_before)


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_setup_training_and_getters_leave_the_data_alone(case, fmt):
    mdata = case.make(fmt)
    before, obs_before = fingerprint(mdata), mdata.obs.copy()
    case.setup(mdata, batch_key="batch")
    _assert_unchanged(mdata, before, obs_before)
    model = case.fit(case.cls(mdata, **case.init), max_epochs=1)
    model.get_latent_representation()
    if case.cls is SCMDCF:
        model.get_normalized_expression(modality="protein")
        model.get_fusion_weights()
    _assert_unchanged(mdata, before, obs_before)
    other = case.make(fmt)
    other_before, other_obs = fingerprint(other), other.obs.copy()
    model.get_latent_representation(other)
    _assert_unchanged(other, other_before, other_obs)


def _is_documented(key, text):
    """Whether ``key`` or a template of it (``_scvi_contrastive_<modality>``) is in ``text``."""
    templates = {re.sub(r"<\w+>", r"\\w+", t) for t in re.findall(r"_scvi[\w<>]*", text)}
    return any(re.fullmatch(template, key) for template in templates)


def test_everything_setup_adds_is_documented(case):
    mdata = case.make()
    if case.cls is SCMDCF:  # a partially measured modality and every covariate
        mdata.mod["prot"] = mdata["prot"][:40].copy()
        mdata.update()
        mdata.obs["batch"] = np.resize(["a", "b"], mdata.n_obs)
        mdata.obs["donor"] = np.resize(["x", "y"], mdata.n_obs)
        mdata.obs["mito"] = np.linspace(0, 1, mdata.n_obs)
        extra = {"categorical_covariate_keys": ["donor"], "continuous_covariate_keys": ["mito"]}
    else:
        extra = {}
    before = {slot: set(getattr(mdata, slot)) for slot in ("obs", "obsm", "uns")}
    case.setup(mdata, batch_key="batch", **extra)
    added = {key for slot, keys in before.items() for key in set(getattr(mdata, slot)) - keys}
    assert {"_scvi_batch", "_scvi_contrastive_observed", "_scvi_uuid"} <= added
    docstring = case.cls.setup_mudata.__doc__
    table = DOC.read_text()
    for key in added:
        assert _is_documented(key, docstring), f"{key} missing from the setup_mudata docstring"
        assert _is_documented(key, table), f"{key} missing from docs/reliability.md"


# ---------------------------------------------------------------------------- large inputs


@pytest.mark.parametrize("fmt", ["csc", "dense"])
def test_csc_and_dense_inputs_give_the_csr_latent(case, fmt):
    reference = case.fit(case.model("csr")).get_latent_representation()
    model = case.fit(case.model(fmt))
    np.testing.assert_allclose(model.get_latent_representation(), reference, atol=1e-5)
    kept_format = _matrix_digest(model.adata["rna"].layers["counts"])[0]
    assert kept_format == fmt  # neither converted nor densified


class _NoDensify(sparse.csc_matrix):
    def toarray(self, *args, **kwargs):
        raise AssertionError("the whole matrix was densified")

    todense = toarray


def test_count_checks_do_not_densify_and_read_every_chunk():
    counts = _NoDensify(np.eye(5, dtype=np.float32))
    check_counts(counts, "m")
    np.testing.assert_array_equal(row_sums(counts), np.ones(5))
    dense = np.ones((10_001, 2), dtype=np.float32)  # more rows than one chunk
    dense[-1, 0] = 0.5
    with pytest.raises(ValueError, match="non-integer"):
        check_counts(dense, "m")
