"""One PCA space for several sets of cells over the same features, without densifying."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import eigsh


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
