"""Checks on user matrices that fail early with a message naming the input and the fix."""

from __future__ import annotations

import numpy as np
from scipy import sparse

_CHUNK_ROWS = 10_000


def _value_chunks(matrix):
    """Yield the stored values of ``matrix`` chunk by chunk, never densifying all of it."""
    if sparse.issparse(matrix):
        yield np.asarray(matrix.data)
        return
    if hasattr(matrix, "to_memory"):  # anndata backed/lazy arrays
        matrix = matrix.to_memory()
    for start in range(0, matrix.shape[0], _CHUNK_ROWS):
        yield np.asarray(matrix[start : start + _CHUNK_ROWS])


_COUNTS_FIX = (
    "Pass the layer holding raw counts (e.g. `rna_layer='counts'`), not normalised or "
    "log-transformed data."
)


def check_finite(matrix, name: str) -> None:
    """Raise ``ValueError`` if ``matrix`` holds NaN or infinite values.

    Parameters
    ----------
    matrix
        Dense or sparse matrix.
    name
        How the user knows this matrix (e.g. ``"layer 'counts' of modality 'rna'"``).

    """
    for values in _value_chunks(matrix):
        if not np.issubdtype(values.dtype, np.number) and values.dtype != bool:
            raise TypeError(f"{name} has dtype {values.dtype}; a numeric matrix is required.")
        if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
            raise ValueError(
                f"{name} contains NaN or infinite values. Replace or remove them (e.g. "
                "`np.nan_to_num`, or drop the affected cells) before setup."
            )


def check_counts(matrix, name: str, fix: str = _COUNTS_FIX) -> None:
    """Raise ``ValueError`` unless ``matrix`` holds finite, non-negative integer counts.

    Parameters
    ----------
    matrix
        Dense or sparse matrix.
    name
        How the user knows this matrix (e.g. ``"layer 'counts' of modality 'rna'"``).
    fix
        What the user should do instead, appended to the message.

    """
    check_finite(matrix, name)
    for values in _value_chunks(matrix):
        if (values < 0).any():
            raise ValueError(
                f"{name} contains negative values (min {values.min()}), but raw counts are "
                f"required. {fix}"
            )
        if np.issubdtype(values.dtype, np.floating) and (np.mod(values, 1) != 0).any():
            example = values[np.mod(values, 1) != 0].flat[0]
            raise ValueError(
                f"{name} contains non-integer values (e.g. {example}), but raw counts are "
                f"required. {fix}"
            )


def row_sums(matrix) -> np.ndarray:
    """Per-row sums of a dense or sparse matrix as a flat float array, chunk by chunk."""
    if sparse.issparse(matrix):
        return np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()
    if hasattr(matrix, "to_memory"):
        matrix = matrix.to_memory()
    return np.concatenate(
        [
            np.asarray(matrix[start : start + _CHUNK_ROWS], dtype=np.float64).sum(axis=1)
            for start in range(0, matrix.shape[0], _CHUNK_ROWS)
        ]
    )
