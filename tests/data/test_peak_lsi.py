"""``peak_lsi``: TF-IDF + SVD of peak counts, components weighted, the depth component left out."""

import anndata as ad
import numpy as np
import pytest
from scipy import sparse

from scvi_contrastive.data import peak_lsi


def _peaks(n_cells=120, n_peaks=300, seed=0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 3, n_cells)
    open_in = rng.random((3, n_peaks)) < 0.15
    depth = rng.uniform(0.5, 2.0, n_cells)[:, None]
    counts = rng.poisson(0.05 + 1.5 * open_in[groups] * depth)
    adata = ad.AnnData(sparse.csr_matrix(counts.astype(np.float32)))
    adata.obs["group"] = groups
    return adata


def test_components_separate_groups_and_data_stay_unchanged():
    adata = _peaks()
    before = adata.X.copy()
    lsi = peak_lsi(adata, n_comps=10)
    assert lsi.shape == (adata.n_obs, 10) and lsi.dtype == np.float32
    assert np.isfinite(lsi).all()
    assert (adata.X != before).nnz == 0 and not adata.obsm and not adata.uns
    # Weighted by their singular values: the leading kept component has the largest spread.
    spread = lsi.std(axis=0)
    assert spread[0] == spread.max()
    # Each cell's nearest neighbour (cosine) is of its own group.
    unit = lsi / np.linalg.norm(lsi, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    groups = adata.obs["group"].to_numpy()
    assert np.mean(groups[similarity.argmax(axis=1)] == groups) > 0.95


def test_counts_layer_first_and_missing_layer_named():
    adata = _peaks()
    adata.layers["counts"] = adata.X.copy()
    adata.X = sparse.csr_matrix(adata.shape, dtype=np.float32)  # e.g. normalised elsewhere
    np.testing.assert_array_equal(peak_lsi(adata), peak_lsi(adata, layer="counts"))
    with pytest.raises(ValueError, match="'raw' not found"):
        peak_lsi(adata, layer="raw")
