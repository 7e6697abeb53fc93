"""One PCA space for several sets of cells over the same features, without densifying."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import eigsh

from .chunks import RowReader, row_chunks, take_rows
from .sketch import random_sketch


def column_moments(matrix) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation of a dense or sparse matrix, without densifying.

    A sparse matrix is read a chunk of rows at a time
    (:func:`~scvi_contrastive.tools.chunks.row_chunks`): scipy's mean copies the matrix it
    averages, and the copies are then a chunk's. A
    :class:`~scvi_contrastive.tools.chunks.RowReader` is read the same chunks at a time.
    """
    if not (sparse.issparse(matrix) or isinstance(matrix, RowReader)):
        mean = np.asarray(matrix.mean(axis=0), dtype=np.float64).ravel()
        mean_sq = np.mean(np.square(matrix, dtype=np.float64), axis=0)
        return mean, np.sqrt(np.maximum(mean_sq - mean**2, 0.0))
    mean = mean_sq = 0.0
    for chunk in row_chunks(matrix.shape[0]):
        part = take_rows(matrix, chunk)
        weight = part.shape[0] / max(matrix.shape[0], 1)
        mean = mean + weight * np.asarray(part.mean(axis=0), dtype=np.float64).ravel()
        mean_sq = (
            mean_sq
            + weight * np.asarray(part.multiply(part).mean(axis=0), dtype=np.float64).ravel()
        )
    return mean, np.sqrt(np.maximum(mean_sq - mean**2, 0.0))


@dataclass
class JointPCA:
    """A joint PCA fitted by :func:`fit_joint_pca`.

    Attributes
    ----------
    axes
        ``(n_features, n_components)`` leading eigenvectors of the sets' averaged correlation
        matrix, largest first.
    variances
        ``(n_components,)`` their eigenvalues: the variance of the standardised features each
        component holds, averaged over the sets.
    moments
        Per set, the per-feature ``(mean, std)`` it is standardised with.
    """

    axes: np.ndarray
    variances: np.ndarray
    moments: list[tuple[np.ndarray, np.ndarray]]

    def transform(self, matrices: Sequence) -> list[np.ndarray]:
        """Project each set, standardised with its own moments, on the axes."""
        embeddings = []
        for matrix, (mean, std) in zip(matrices, self.moments, strict=True):
            loadings = self.axes / np.where(std > 0, std, 1.0)[:, None]
            projected = [
                np.asarray(take_rows(matrix, chunk) @ loadings)
                for chunk in row_chunks(matrix.shape[0])
            ]
            embeddings.append(np.vstack(projected) - mean @ loadings)
        return embeddings


def fit_joint_pca(
    matrices: Sequence,
    n_components: int = 20,
    max_fit_cells: int | None = None,
    random_state: int = 0,
) -> JointPCA:
    """Fit one PCA space to several sets of cells over the same features.

    Each set is standardised with its own per-feature mean and standard deviation (which
    removes the offset between, e.g., RNA and gene activity), and the sets' correlation
    matrices are averaged with equal weight. Sparse inputs stay sparse: centring is applied
    implicitly.

    The correlation matrix costs time in proportion to the cells times the squared number of
    features each cell expresses; with ``max_fit_cells``, a set of more cells is fitted on a
    random sketch of that many (:func:`~scvi_contrastive.tools.sketch.random_sketch`), whose
    means, deviations and correlations estimate the whole set's closely.

    Parameters
    ----------
    matrices
        ``(n_i, n_features)`` log-normalised matrices (dense, sparse or
        :class:`~scvi_contrastive.tools.chunks.RowReader`, read a chunk of rows at a time), same
        feature order.
    n_components
        Number of components (clipped to ``n_features``).
    max_fit_cells
        Most cells per set the moments and correlations are computed on; ``None``: all. Sets no
        larger are fitted whole, with the same result as without it.
    random_state
        Seed of the sketches.

    Returns
    -------
    The fitted :class:`JointPCA`.
    """
    n_features = matrices[0].shape[1]
    if any(m.shape[1] != n_features for m in matrices):
        raise ValueError("All matrices passed to `joint_pca` must have the same columns.")
    fitted = []
    for matrix in matrices:
        rows = random_sketch(matrix.shape[0], max_fit_cells, random_state)
        fitted.append(matrix if len(rows) == matrix.shape[0] else matrix[rows])
    moments = [column_moments(m) for m in fitted]
    correlation = np.zeros((n_features, n_features))
    for matrix, (mean, std) in zip(fitted, moments, strict=True):
        covariance = _gram(matrix) / matrix.shape[0] - np.outer(mean, mean)
        scale = np.where(std > 0, std, 1.0)
        correlation += covariance / np.outer(scale, scale) / len(matrices)
    top = _leading_eigenvectors(correlation, min(n_components, n_features))
    variances = np.sum(top * (correlation @ top), axis=0)
    return JointPCA(top, variances, moments)


def joint_pca(
    matrices: Sequence,
    n_components: int = 20,
    max_fit_cells: int | None = None,
    random_state: int = 0,
) -> list[np.ndarray]:
    """Embed several sets of cells over the same features in one PCA space.

    :func:`fit_joint_pca`, then every cell of every set projected
    (:meth:`JointPCA.transform`).

    Parameters
    ----------
    matrices, n_components, max_fit_cells, random_state
        As for :func:`fit_joint_pca`.

    Returns
    -------
    One ``(n_i, n_components)`` array per input set.
    """
    pca = fit_joint_pca(matrices, n_components, max_fit_cells, random_state)
    return pca.transform(matrices)


def _gram(matrix) -> np.ndarray:
    """``matrix.T @ matrix`` as a dense array; a reader's summed over chunks of its rows."""
    if isinstance(matrix, RowReader):
        parts = (take_rows(matrix, chunk) for chunk in row_chunks(matrix.shape[0]))
        return sum(np.asarray((part.T @ part).todense()) for part in parts)
    return np.asarray(
        (matrix.T @ matrix).todense() if sparse.issparse(matrix) else matrix.T @ matrix
    )


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
