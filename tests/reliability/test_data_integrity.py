"""Rows of docs/reliability.md on data safety and large inputs (both models): setup, training
and getters leave the user's data alone, all that setup adds is documented, and CSC and dense
counts give the latent of CSR without being converted or densified.
"""

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from scvi_contrastive.data.count_checks import check_counts, row_sums
from scvi_contrastive.model import SCMDCF

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


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
