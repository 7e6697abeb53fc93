"""A shared embedding of two sets of cells by Gromov–Wasserstein matching of their shapes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .joint_pca import joint_pca


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
