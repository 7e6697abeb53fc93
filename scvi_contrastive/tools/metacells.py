"""A fixed-size sketch of the cells: standardised mean expression in k-means metacells."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.cluster import MiniBatchKMeans

from .chunks import row_chunks, take_rows


def metacell_sketch(
    normalized,
    embedding: np.ndarray,
    n_metacells: int,
    feature_mean: np.ndarray,
    feature_std: np.ndarray,
    random_state: int = 0,
) -> np.ndarray:
    """Standardised mean expression of every feature in ``n_metacells`` clusters of cells.

    Parameters
    ----------
    normalized
        ``(n_cells, n_features)`` log-normalised expression (dense, sparse or a
        :class:`~scvi_contrastive.tools.chunks.RowReader`, read a chunk of rows at a time).
    embedding
        ``(n_cells, d)`` low-dimensional representation the cells are clustered on.
    n_metacells
        Number of clusters; must not exceed ``n_cells``.
    feature_mean, feature_std
        Per-feature statistics the cluster means are standardised with (those the cell encoder
        uses, so genes and cells see the data on the same scale).
    random_state
        Seed of the mini-batch k-means.

    Returns
    -------
    ``(n_metacells, n_features)`` float32 array, metacells ordered by size (largest first).
    """
    n_cells = normalized.shape[0]
    if not 0 < n_metacells <= n_cells:
        raise ValueError(f"`n_metacells` must be in [1, {n_cells}], got {n_metacells}.")
    kmeans = MiniBatchKMeans(
        n_clusters=n_metacells, random_state=random_state, n_init=3, batch_size=4096
    )
    assignment = kmeans.fit_predict(embedding)
    sizes = np.bincount(assignment, minlength=n_metacells)
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(n_metacells)
    membership = sparse.csr_matrix(
        (np.ones(n_cells), (rank[assignment], np.arange(n_cells))), shape=(n_metacells, n_cells)
    )
    # Summed a chunk of cells at a time: the product copies float32 values as float64.
    sums = np.zeros((n_metacells, normalized.shape[1]))
    for chunk in row_chunks(n_cells):
        part = membership[:, chunk] @ take_rows(normalized, chunk)
        sums += part.toarray() if sparse.issparse(part) else part
    means = sums / np.maximum(sizes[order], 1)[:, None]
    return ((means - feature_mean) / np.maximum(feature_std, 1e-3)).astype(np.float32)
