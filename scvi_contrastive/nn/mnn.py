"""Cross-modal cell pairing: nearest neighbours, mutual nearest neighbours, a shared embedding.

BiCLUM's cell-level loss needs positive pairs across two sets of different cells. They are
mutual nearest neighbours (MNN) in a representation both sets share: at the start a joint PCA of
the features the modalities have in common, later the model's own latent space.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import eigsh
from sklearn import config_context
from sklearn.neighbors import NearestNeighbors

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


def column_moments(matrix) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation of a dense or sparse matrix, without densifying."""
    mean = np.asarray(matrix.mean(axis=0), dtype=np.float64).ravel()
    if sparse.issparse(matrix):
        mean_sq = np.asarray(matrix.multiply(matrix).mean(axis=0), dtype=np.float64).ravel()
    else:
        mean_sq = np.mean(np.square(matrix, dtype=np.float64), axis=0)
    return mean, np.sqrt(np.maximum(mean_sq - mean**2, 0.0))


def joint_pca(matrices: Sequence, n_components: int = 20) -> list[np.ndarray]:
    """Embed several sets of cells over the same features in one PCA space.

    Each set is standardised with its own per-feature mean and standard deviation (which
    removes the offset between, e.g., RNA and gene activity), the sets' correlation matrices are
    averaged with equal weight, and every set is projected on the leading eigenvectors. Sparse
    inputs stay sparse: centring is applied implicitly.

    Parameters
    ----------
    matrices
        ``(n_i, n_features)`` log-normalised matrices (dense or sparse), same feature order.
    n_components
        Number of components (clipped to ``n_features``).

    Returns
    -------
    One ``(n_i, n_components)`` array per input set.
    """
    n_features = matrices[0].shape[1]
    if any(m.shape[1] != n_features for m in matrices):
        raise ValueError("All matrices passed to `joint_pca` must have the same columns.")
    moments = [column_moments(m) for m in matrices]
    correlation = np.zeros((n_features, n_features))
    for matrix, (mean, std) in zip(matrices, moments, strict=True):
        gram = np.asarray(
            (matrix.T @ matrix).todense() if sparse.issparse(matrix) else matrix.T @ matrix
        )
        covariance = gram / matrix.shape[0] - np.outer(mean, mean)
        scale = np.where(std > 0, std, 1.0)
        correlation += covariance / np.outer(scale, scale) / len(matrices)
    top = _leading_eigenvectors(correlation, min(n_components, n_features))
    embeddings = []
    for matrix, (mean, std) in zip(matrices, moments, strict=True):
        loadings = top / np.where(std > 0, std, 1.0)[:, None]
        embeddings.append(np.asarray(matrix @ loadings) - mean @ loadings)
    return embeddings


def _leading_eigenvectors(matrix: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` leading eigenvectors of a symmetric matrix, largest eigenvalue first.

    Lanczos iterations (``eigsh``) find a few of them in a fraction of the time of a full
    decomposition, which dominated setup at 10^3 features and more; small matrices, or ``k``
    close to their size, are decomposed in full.
    """
    n = matrix.shape[0]
    if k >= n - 1 or n <= 200:
        _, vectors = np.linalg.eigh(matrix)
        return vectors[:, ::-1][:, :k]
    # A fixed start vector: the same data always give the same signs and pairs.
    start = np.random.default_rng(0).standard_normal(n)
    values, vectors = eigsh(matrix, k=k, which="LA", v0=start)
    return vectors[:, np.argsort(values)[::-1]]


def structural_embedding(
    x_a,
    x_b,
    n_components: int = 30,
    n_metacells: int = 32,
    n_restarts: int = 10,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Place two sets of cells that share no features in one space by matching their shapes.

    With no feature in common, the only link between two modalities is that the same cell
    states occur in both, in similar proportions and at similar relative distances. Each set is
    reduced to ``n_metacells`` k-means centroids of its own PCA; the centroids are matched by
    entropic Gromov-Wasserstein optimal transport between their distance matrices (as SCOT and
    Pamona match cells); every cell of ``x_a`` is then carried into the PCA space of ``x_b``
    through its soft centroid membership and the transport plan.

    Parameters
    ----------
    x_a, x_b
        ``(n_a, p)`` and ``(n_b, q)`` log-normalised matrices (dense or sparse).
    n_components
        PCA components of each set (at most the smaller feature count).
    n_metacells
        Centroids per set.
    n_restarts
        Random initialisations of the (non-convex) matching; the plan of lowest
        Gromov-Wasserstein cost is kept.
    random_state
        Seed.

    Returns
    -------
    ``(n_a, d)`` and ``(n_b, d)`` arrays in the PCA space of ``x_b``.
    """
    from sklearn.cluster import KMeans

    # The same number of components on both sides, so the two geometries are comparable.
    n_components = min(n_components, x_a.shape[1], x_b.shape[1])
    sets = []
    for x in (x_a, x_b):
        (pcs,) = joint_pca([x], n_components)
        m = min(n_metacells, x.shape[0])
        kmeans = KMeans(n_clusters=m, n_init=3, random_state=random_state).fit(pcs)
        weights = np.bincount(kmeans.labels_, minlength=m) / x.shape[0]
        centroids = kmeans.cluster_centers_
        distances = np.sqrt(np.sum((centroids[:, None] - centroids[None]) ** 2, axis=-1))
        sets.append((pcs, centroids, weights, distances / max(distances.max(), 1e-12)))
    (pcs_a, cent_a, w_a, d_a), (pcs_b, cent_b, w_b, d_b) = sets
    rng = np.random.default_rng(random_state)
    plan = gromov_wasserstein(d_a, d_b, w_a, w_b, n_restarts=n_restarts, rng=rng)
    sq_dist = np.sum((pcs_a[:, None, :] - cent_a[None]) ** 2, axis=-1)
    # Soft membership, with the typical squared distance of a cell to its centroid as bandwidth.
    bandwidth = max(float(np.median(sq_dist.min(axis=1))), 1e-12)
    membership = np.exp(-(sq_dist - sq_dist.min(axis=1, keepdims=True)) / bandwidth)
    membership /= membership.sum(axis=1, keepdims=True)
    barycentres = (plan / np.maximum(w_a, 1e-12)[:, None]) @ cent_b
    return membership @ barycentres, pcs_b


def gromov_wasserstein(
    d_a: np.ndarray,
    d_b: np.ndarray,
    w_a: np.ndarray,
    w_b: np.ndarray,
    n_restarts: int = 10,
    epsilons: Sequence[float] = (0.05, 0.02, 0.01, 0.005),
    n_outer: int = 10,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Entropic Gromov-Wasserstein plan between two metric spaces (square loss).

    Projected-gradient iterations of Peyré, Cuturi & Solomon (ICML 2016), each a Sinkhorn
    projection in the log domain, with the entropy annealed through ``epsilons``; the best of
    ``n_restarts`` starts (the first is the independent coupling, the others random) is kept.

    Parameters
    ----------
    d_a, d_b
        ``(m, m)`` and ``(n, n)`` distance matrices.
    w_a, w_b
        Marginal weights (each sums to 1).
    n_restarts
        Number of starting plans.
    epsilons
        Entropic regularisation schedule.
    n_outer
        Iterations per regularisation level.
    rng
        Random generator of the starts.

    Returns
    -------
    ``(m, n)`` transport plan with marginals ``w_a`` and ``w_b``.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    const = (d_a**2 @ w_a)[:, None] + (d_b**2 @ w_b)[None, :]

    def cost(plan: np.ndarray) -> np.ndarray:
        return const - 2.0 * d_a @ plan @ d_b.T

    best, best_value = None, np.inf
    for restart in range(n_restarts):
        noise = rng.random((len(w_a), len(w_b))) if restart else np.zeros((len(w_a), len(w_b)))
        plan = sinkhorn(w_a, w_b, noise, 1.0)
        for epsilon in epsilons:
            for _ in range(n_outer):
                plan = sinkhorn(w_a, w_b, cost(plan), epsilon)
        value = float(np.sum(cost(plan) * plan))
        if value < best_value:
            best, best_value = plan, value
    return best


def sinkhorn(
    w_a: np.ndarray, w_b: np.ndarray, cost: np.ndarray, epsilon: float, n_iter: int = 50
) -> np.ndarray:
    """Entropic optimal transport plan, computed in the log domain (stable for small epsilon).

    Parameters
    ----------
    w_a, w_b
        Marginal weights (each sums to 1).
    cost
        ``(m, n)`` cost matrix.
    epsilon
        Entropic regularisation.
    n_iter
        Sinkhorn iterations.
    """
    from scipy.special import logsumexp

    log_a, log_b = np.log(np.maximum(w_a, 1e-300)), np.log(np.maximum(w_b, 1e-300))
    f, g = np.zeros(len(w_a)), np.zeros(len(w_b))
    for _ in range(n_iter):
        f = epsilon * (log_a - logsumexp((g[None, :] - cost) / epsilon, axis=1))
        g = epsilon * (log_b - logsumexp((f[:, None] - cost) / epsilon, axis=0))
    return np.exp((f[:, None] + g[None, :] - cost) / epsilon)
