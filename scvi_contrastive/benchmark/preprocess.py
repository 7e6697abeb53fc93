"""Standard preprocessing the benchmark's baselines share (from raw counts, never in place)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import scanpy as sc
from scipy import sparse


def _counts(adata: ad.AnnData) -> sparse.csr_matrix:
    matrix = adata.layers["counts"] if "counts" in adata.layers else adata.X
    return sparse.csr_matrix(matrix, dtype=np.float32)


def log_normalized(adata: ad.AnnData, target_sum: float = 1e4) -> ad.AnnData:
    """Library-size normalised, log1p-transformed copy of ``adata``'s counts."""
    out = ad.AnnData(X=_counts(adata), obs=adata.obs[[]].copy(), var=adata.var[[]].copy())
    sc.pp.normalize_total(out, target_sum=target_sum)
    sc.pp.log1p(out)
    return out


def rna_pca(adata: ad.AnnData, n_comps: int = 30, seed: int = 0) -> np.ndarray:
    """RNA baseline embedding: log-normalise, scale (max 10), PCA.

    Parameters
    ----------
    adata
        RNA modality; counts in ``layers["counts"]`` (else ``.X``).
    n_comps
        Principal components.
    seed
        Random state of the PCA solver.

    Returns
    -------
    ``(n_cells, n_comps)`` array.

    """
    out = log_normalized(adata)
    sc.pp.scale(out, max_value=10)
    n_comps = min(n_comps, min(out.shape) - 1)
    sc.tl.pca(out, n_comps=n_comps, svd_solver="arpack", random_state=seed)
    return np.asarray(out.obsm["X_pca"], dtype=np.float32)


def protein_clr_pca(adata: ad.AnnData, n_comps: int = 30, seed: int = 0) -> np.ndarray:
    """Protein embedding: CLR per cell (muon), scale, PCA on all antibodies.

    Parameters
    ----------
    adata
        Protein modality; counts in ``layers["counts"]`` (else ``.X``).
    n_comps
        Principal components, at most one fewer than the antibodies.
    seed
        Random state of the PCA solver.

    Returns
    -------
    ``(n_cells, n_comps)`` array.

    """
    from muon import prot as mu_prot

    out = ad.AnnData(X=_counts(adata), obs=adata.obs[[]].copy(), var=adata.var[[]].copy())
    mu_prot.pp.clr(out)
    out.X = np.asarray(out.X.todense() if sparse.issparse(out.X) else out.X)
    sc.pp.scale(out, max_value=10)
    n_comps = min(n_comps, out.shape[1] - 1)
    sc.tl.pca(out, n_comps=n_comps, svd_solver="arpack", random_state=seed)
    return np.asarray(out.obsm["X_pca"], dtype=np.float32)


def zscore(matrix: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit variance (constant columns left at 0)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    std = matrix.std(axis=0)
    return (matrix - matrix.mean(axis=0)) / np.where(std > 0, std, 1.0)
