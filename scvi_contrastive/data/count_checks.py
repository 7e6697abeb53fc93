"""Checks on count matrices: integers, finite values, cells and modalities with counts.

Matrices are read chunk by chunk (in-memory sparse: their stored values; dense and backed:
:data:`~scvi_contrastive.data.backed.CHUNK_ROWS` rows at a time), never densified or loaded
whole.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import sparse
from scvi import settings

from .backed import row_blocks


def _value_chunks(matrix):
    """Yield the stored values of ``matrix`` chunk by chunk, never densifying all of it."""
    if sparse.issparse(matrix):
        yield np.asarray(matrix.data)
        return
    for block in row_blocks(matrix):
        yield np.asarray(block.data) if sparse.issparse(block) else np.asarray(block)


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
        _check_finite_values(values, name)


def _check_finite_values(values: np.ndarray, name: str) -> None:
    if not np.issubdtype(values.dtype, np.number) and values.dtype != bool:
        raise TypeError(f"{name} has dtype {values.dtype}; a numeric matrix is required.")
    if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
        raise ValueError(
            f"{name} contains NaN or infinite values. Replace or remove them (e.g. "
            "`np.nan_to_num`, or drop the affected cells) before setup."
        )


def check_counts(matrix, name: str, fix: str = _COUNTS_FIX) -> None:
    """Raise ``ValueError`` unless ``matrix`` holds finite, non-negative integer counts.

    One pass over the matrix: each chunk is checked for non-finite, then negative, then
    non-integer values.

    Parameters
    ----------
    matrix
        Dense, sparse or backed matrix.
    name
        How the user knows this matrix (e.g. ``"layer 'counts' of modality 'rna'"``).
    fix
        What the user should do instead, appended to the message.

    """
    if matrix.dtype == np.float16:
        raise TypeError(
            f"{name} has dtype float16, which scipy's sparse matrices and the models' count "
            "checks cannot take. Store the counts as integers or float32 first, e.g. "
            "`layer = layer.astype(np.float32)`."
        )
    for values in _value_chunks(matrix):
        _check_finite_values(values, name)
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
    """Per-row sums of a dense, sparse or backed matrix as a flat float array, chunk by chunk."""
    if sparse.issparse(matrix):
        return _sparse_row_sums(matrix)
    return np.concatenate(
        [
            _sparse_row_sums(block)
            if sparse.issparse(block)
            else np.asarray(block, dtype=np.float64).sum(axis=1)
            for block in row_blocks(matrix)
        ]
    )


def _sparse_row_sums(matrix) -> np.ndarray:
    return np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()


def registered_row_sums(adata_manager, registry_keys: list[str]) -> dict[str, np.ndarray]:
    """Per-cell totals of each registered count matrix, read once for every count check."""
    return {key: row_sums(adata_manager.get_from_registry(key)) for key in registry_keys}


def check_cells_have_counts(
    obs_names: pd.Index, totals: list[np.ndarray], refuse: bool = True
) -> None:
    """Refuse (or warn about) cells without counts in any of the registered count matrices.

    Such cells carry no information for the models.

    Parameters
    ----------
    obs_names
        Names of the registered cells.
    totals
        Per-cell totals of each count matrix (:func:`registered_row_sums`), aligned to
        ``obs_names``.
    refuse
        Raise ``ValueError``; otherwise warn (for a model that embeds such cells from their
        all-zero input without numerical trouble).

    """
    totals = np.sum(totals, axis=0)
    empty = np.flatnonzero(totals == 0)
    if not empty.size:
        return
    names = list(obs_names[empty[:5]])
    message = f"{empty.size} cells have no counts in any registered modality (e.g. {names})."
    fix = "Remove them before setup, e.g. `mdata = mdata[total_counts > 0].copy()`."
    if refuse:
        raise ValueError(f"{message} {fix}")
    warnings.warn(
        f"{message} They are embedded from an all-zero input, which says nothing about them. "
        f"{fix}",
        UserWarning,
        stacklevel=settings.warnings_stacklevel,
    )


def check_modality_has_counts(totals: np.ndarray, description: str) -> None:
    """Raise ``ValueError`` if a registered count matrix is zero in every cell.

    Parameters
    ----------
    totals
        Per-cell totals of the count matrix (:func:`registered_row_sums`).
    description
        How the user knows it (e.g. ``"Modality 'prot'"``).

    """
    if not totals.any():
        raise ValueError(
            f"{description} has no counts in any cell: it carries no information, yet the "
            "fusion would give it a share of every cell's embedding. Check that the right "
            "layer was registered, or leave the modality out of `modalities`."
        )
