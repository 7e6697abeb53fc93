"""Synthetic data sets: counts follow the cell types, modalities are laid out as documented."""

import numpy as np
import pytest
from scipy import sparse

from scvi_contrastive.benchmark.synthetic import (
    _umi_counts,
    synthetic_paired,
    synthetic_unpaired,
)


def test_umi_counts_follow_the_type_profiles():
    rng = np.random.default_rng(0)
    profiles = rng.dirichlet(np.full(30, 0.3), size=2)
    labels = np.repeat([0, 1], 20_000)
    counts = _umi_counts(rng, profiles, labels, mean_library=200.0)
    assert sparse.isspmatrix_csr(counts) and counts.has_canonical_format
    assert np.array_equal(counts.data, np.round(counts.data)) and counts.data.min() > 0
    for t in (0, 1):
        totals = np.asarray(counts[labels == t].sum(axis=0)).ravel()
        np.testing.assert_allclose(totals / totals.sum(), profiles[t], atol=2e-3)
    assert counts.sum(axis=1).mean() == pytest.approx(200.0 * np.exp(0.3**2 / 2), rel=0.02)


def test_synthetic_paired_is_cite_seq_like():
    mdata = synthetic_paired(500, n_genes=100, n_proteins=8, n_types=3)
    rna, protein = mdata.mod["rna"], mdata.mod["prot"]
    assert rna.shape == (500, 100) and protein.shape == (500, 8)
    assert sparse.isspmatrix_csr(rna.X) and isinstance(protein.X, np.ndarray)
    assert (rna.obs_names == protein.obs_names).all()
    assert mdata.obs["cell_type"].nunique() == 3
    assert 0.05 < rna.X.nnz / np.prod(rna.shape) < 0.95


def test_synthetic_unpaired_halves_share_genes_not_cells():
    mdata = synthetic_unpaired(501, n_genes=50, n_types=4)
    rna, activity = mdata.mod["rna"], mdata.mod["atac"]
    assert (rna.n_obs, activity.n_obs) == (250, 251)
    assert not set(rna.obs_names) & set(activity.obs_names)
    assert (rna.var_names == activity.var_names).all()
    assert mdata.obs["cell_type"].notna().all()
    # Gene activity is the shallower modality.
    assert activity.X.sum(axis=1).mean() < rna.X.sum(axis=1).mean()
