"""Per-feature moments of log-normalised counts, for the encoders' input standardisation."""

from __future__ import annotations

import numpy as np
from scipy import sparse

_CHUNK_ROWS = 10_000


def log_normalize(counts, target_sum: float = 1e4, dtype=np.float64):
    """``log1p(counts / library * target_sum)``, as the models' encoders compute it.

    Parameters
    ----------
    counts
        Cells × features counts; sparse input stays sparse.
    target_sum
        Library size every cell is normalised to.
    dtype
        Floating dtype of the result.
    """
    library = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
    scale = target_sum / np.maximum(library, 1.0)
    if sparse.issparse(counts):
        normalized = sparse.csr_matrix(
            sparse.diags(scale) @ sparse.csr_matrix(counts), dtype=dtype
        )
        normalized.data = np.log1p(normalized.data)
        return normalized
    return np.log1p(np.asarray(counts, dtype=np.float64) * scale[:, None]).astype(dtype)


def log_normalized_moments(
    matrix, rows: np.ndarray | None = None, target_sum: float = 1e4
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation per feature of ``log1p(counts / library * target_sum)``.

    Parameters
    ----------
    matrix
        Cells × features counts, dense or sparse; read in chunks of rows.
    rows
        Rows (cells) to use; all when ``None``.
    target_sum
        Library size every cell is normalised to.

    Returns
    -------
    ``(mean, std)``, each of length ``n_features``.

    """
    rows = np.arange(matrix.shape[0]) if rows is None else np.asarray(rows)
    if rows.size == 0:
        raise ValueError("No cells to compute feature moments from.")
    total = np.zeros(matrix.shape[1])
    total_sq = np.zeros(matrix.shape[1])
    for start in range(0, rows.size, _CHUNK_ROWS):
        logged = log_normalize(matrix[rows[start : start + _CHUNK_ROWS]], target_sum)
        squared = logged.multiply(logged) if sparse.issparse(logged) else logged**2
        total += np.asarray(logged.sum(axis=0)).ravel()
        total_sq += np.asarray(squared.sum(axis=0)).ravel()
    mean = total / rows.size
    variance = np.maximum(total_sq / rows.size - mean**2, 0.0)
    return mean.astype(np.float32), np.sqrt(variance).astype(np.float32)
