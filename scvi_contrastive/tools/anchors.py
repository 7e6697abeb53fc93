"""Cross-modal anchor pairs: nearest neighbours and mutual nearest neighbours (MNN).

BiCLUM's cell-level loss needs positive pairs across two sets of different cells. They are
mutual nearest neighbours in a representation both sets share: at the start a joint PCA of
the features the modalities have in common (:mod:`.joint_pca`), later the model's own latent
space.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn import config_context
from sklearn.neighbors import NearestNeighbors

from .sketch import random_sketch

#: Above this many reference cells the exact (brute-force) search gives way to pynndescent.
EXACT_SEARCH_MAX_CELLS = 50_000
#: Memory (MiB) of one block of the exact search's distance matrix.
_EXACT_SEARCH_BLOCK_MB = 64


def nearest_neighbors(
    query: np.ndarray,
    reference: np.ndarray,
    k: int,
    metric: str = "cosine",
    random_state: int = 0,
) -> np.ndarray:
    """Indices of the ``k`` nearest reference rows of every query row.

    Exact search with scikit-learn up to :data:`EXACT_SEARCH_MAX_CELLS` reference rows, then an
    approximate graph search (pynndescent), so that refreshing pairs stays cheap on large data.

    Parameters
    ----------
    query
        ``(n_query, d)`` points.
    reference
        ``(n_reference, d)`` points.
    k
        Number of neighbours, at most ``n_reference``.
    metric
        Distance understood by scikit-learn and pynndescent.
    random_state
        Seed of the approximate search.

    Returns
    -------
    ``(n_query, k)`` integer array, nearest first.
    """
    if not 0 < k <= reference.shape[0]:
        raise ValueError(f"`k` must be in [1, {reference.shape[0]}], got {k}.")
    if reference.shape[0] <= EXACT_SEARCH_MAX_CELLS:
        search = NearestNeighbors(n_neighbors=k, metric=metric, algorithm="brute")
        # Distances are computed in blocks of bounded size, so memory does not grow with n^2.
        with config_context(working_memory=_EXACT_SEARCH_BLOCK_MB):
            return search.fit(reference).kneighbors(query, return_distance=False)
    from pynndescent import NNDescent

    index = NNDescent(reference, metric=metric, n_neighbors=max(k, 15), random_state=random_state)
    return index.query(query, k=k)[0]


def find_mnn_pairs(
    x_a: np.ndarray,
    x_b: np.ndarray,
    k: int = 20,
    metric: str = "cosine",
) -> tuple[np.ndarray, np.ndarray]:
    """Mutual nearest neighbour pairs between two sets of points in one space.

    Cell ``i`` of ``x_a`` and cell ``j`` of ``x_b`` form a pair when ``j`` is among the ``k``
    nearest ``x_b`` rows of ``i`` and ``i`` among the ``k`` nearest ``x_a`` rows of ``j``.

    Parameters
    ----------
    x_a, x_b
        ``(n_a, d)`` and ``(n_b, d)`` points in the same space.
    k
        Neighbourhood size on each side (clipped to the size of the other set).
    metric
        Distance, cosine by default as in BiCLUM.

    Returns
    -------
    Two integer arrays of equal length: the row in ``x_a`` and the row in ``x_b`` of each pair,
    sorted by ``x_a`` row.
    """
    if x_a.ndim != 2 or x_b.ndim != 2 or x_a.shape[1] != x_b.shape[1]:
        raise ValueError(
            f"`x_a` and `x_b` must be 2-D with the same number of columns, got {x_a.shape} and "
            f"{x_b.shape}."
        )
    n_a, n_b = x_a.shape[0], x_b.shape[0]
    a_to_b = _neighbor_graph(nearest_neighbors(x_a, x_b, min(k, n_b), metric), n_b)
    b_to_a = _neighbor_graph(nearest_neighbors(x_b, x_a, min(k, n_a), metric), n_a)
    mutual = a_to_b.multiply(b_to_a.T).tocoo()
    order = np.lexsort((mutual.col, mutual.row))
    return mutual.row[order].astype(np.int64), mutual.col[order].astype(np.int64)


def find_anchor_pairs(
    x_a: np.ndarray,
    x_b: np.ndarray,
    k: int = 20,
    keep: float = 1.0,
    max_cells: int | None = None,
    metric: str = "cosine",
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Anchor pairs between two sets: mutual nearest neighbours, the best-scored share kept.

    A set of more than ``max_cells`` cells is searched on a random sketch of that many
    (:func:`~scvi_contrastive.tools.sketch.random_sketch`): the exact search costs the product
    of the two sets' sizes, the sketched one at most ``max_cells ** 2``. Sketched anchors are
    mutual nearest neighbours among the sketched cells, so each stands for a neighbourhood
    about ``n / max_cells`` times wider in the whole set. Sets no larger than ``max_cells`` are
    searched whole, with the result of :func:`find_mnn_pairs` and :func:`shared_neighbor_scores`.

    Parameters
    ----------
    x_a, x_b
        ``(n_a, d)`` and ``(n_b, d)`` points in the same space.
    k
        Neighbourhood size of the mutual nearest neighbour search.
    keep
        Share of the pairs kept, those whose two cells share the most neighbours
        (:func:`shared_neighbor_scores`, in the sketch); 1 keeps all.
    max_cells
        Most cells per set searched; ``None``: all.
    metric
        Distance of the neighbour searches.
    random_state
        Seed of the sketches.

    Returns
    -------
    Two integer arrays of equal length: rows of ``x_a`` and of ``x_b``, sorted by ``x_a`` row.
    """
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"`keep` must be in (0, 1], got {keep}.")
    rows_a = random_sketch(x_a.shape[0], max_cells, random_state)
    rows_b = random_sketch(x_b.shape[0], max_cells, random_state)
    sketch_a, sketch_b = x_a[rows_a], x_b[rows_b]
    idx_a, idx_b = find_mnn_pairs(sketch_a, sketch_b, k=k, metric=metric)
    if keep < 1.0 and len(idx_a) > 0:
        scores = shared_neighbor_scores(sketch_a, sketch_b, idx_a, idx_b, metric=metric)
        best = scores >= np.quantile(scores, 1.0 - keep)
        idx_a, idx_b = idx_a[best], idx_b[best]
    return rows_a[idx_a], rows_b[idx_b]


def shared_neighbor_scores(
    x_a: np.ndarray,
    x_b: np.ndarray,
    idx_a: np.ndarray,
    idx_b: np.ndarray,
    k: int = 30,
    metric: str = "cosine",
) -> np.ndarray:
    """Score cross-set pairs by how much the two cells' neighbourhoods overlap (Seurat's anchors).

    Every cell gets its ``k`` nearest neighbours in each set (``2 k`` in all); a pair ``(i, j)``
    scores the number of cells that are neighbours of both ``i`` and ``j``, divided by ``2 k``.
    A mutual nearest neighbour pair between two different cell types tends to sit where the
    types' clouds touch, and its two cells then share few neighbours: the score ranks such
    pairs last (Stuart et al., Cell 2019).

    Parameters
    ----------
    x_a, x_b
        ``(n_a, d)`` and ``(n_b, d)`` points in the same space.
    idx_a, idx_b
        The pairs: rows of ``x_a`` and ``x_b`` of equal length.
    k
        Neighbours per set (clipped to each set's size).
    metric
        Distance of the neighbour search.

    Returns
    -------
    One score in ``[0, 1]`` per pair.
    """
    n_a, n_b = x_a.shape[0], x_b.shape[0]
    k_a, k_b = min(k, n_a), min(k, n_b)

    def neighbourhoods(query: np.ndarray) -> sparse.csr_matrix:
        """Rows: query cells; columns: the cells of ``x_a`` then of ``x_b``."""
        return sparse.hstack(
            [
                _neighbor_graph(nearest_neighbors(query, x_a, k_a, metric), n_a),
                _neighbor_graph(nearest_neighbors(query, x_b, k_b, metric), n_b),
            ]
        ).tocsr()

    shared = neighbourhoods(x_a)[idx_a].multiply(neighbourhoods(x_b)[idx_b])
    return np.asarray(shared.sum(axis=1)).ravel() / (k_a + k_b)


def _neighbor_graph(neighbors: np.ndarray, n_columns: int) -> sparse.csr_matrix:
    n_rows, k = neighbors.shape
    rows = np.repeat(np.arange(n_rows), k)
    data = np.ones(n_rows * k, dtype=np.float32)
    return sparse.csr_matrix((data, (rows, neighbors.ravel())), shape=(n_rows, n_columns))
