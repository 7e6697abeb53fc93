"""Rows in chunks: whole-matrix work done a bounded number of cells at a time.

Products of a float32 matrix with float64 operands copy it as float64 first; done a chunk of
rows at a time, that copy is a chunk's, not the whole matrix's. A matrix of at most one chunk is
processed whole, with the result of one pass. A :class:`RowReader` (rows kept in a file, read
on demand) is read a chunk at a time by the same functions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

import numpy as np
from scipy import sparse

#: Rows per chunk: a float64 CSR copy of 20,000 cells x 2,000 features with 30 % non-zeros is
#: about 150 MB, and a pass over a chunk makes a few such copies (100,000 rows peaked at 2.6 GiB
#: in BICLUM's setup at 10^6 cells from disk).
CHUNK_ROWS = 20_000


def row_chunks(n_rows: int, chunk_rows: int | None = None) -> Iterator[slice]:
    """Consecutive slices of at most ``chunk_rows`` rows covering ``n_rows`` rows.

    Parameters
    ----------
    n_rows
        Rows to cover.
    chunk_rows
        Most rows per slice (``None``: :data:`CHUNK_ROWS`).

    Yields
    ------
    ``slice(start, stop)``; one empty slice when ``n_rows`` is 0, so that a result can still be
    assembled from the chunks.
    """
    chunk_rows = CHUNK_ROWS if chunk_rows is None else chunk_rows
    if chunk_rows < 1:
        raise ValueError(f"`chunk_rows` must be at least 1, got {chunk_rows}.")
    for start in range(0, max(n_rows, 1), chunk_rows):
        yield slice(start, min(start + chunk_rows, n_rows))


class RowReader(ABC):
    """A cells × features matrix whose rows are read on demand (e.g. from a file), never whole.

    Indexing selects without reading: ``reader[rows]`` (an integer array) and
    ``reader[:, columns]`` are readers of those rows or columns; :meth:`read` (and
    :func:`take_rows`) reads rows into memory as a CSR matrix. The chunked tools
    (:func:`~scvi_contrastive.tools.joint_pca.column_moments`,
    :func:`~scvi_contrastive.tools.joint_pca.joint_pca`,
    :func:`~scvi_contrastive.tools.metacells.metacell_sketch`) read it
    :data:`CHUNK_ROWS` rows at a time, with the result they give the same rows in memory.
    """

    @property
    @abstractmethod
    def shape(self) -> tuple[int, int]:
        """``(n_rows, n_columns)``."""

    @abstractmethod
    def read(self, rows: slice | np.ndarray) -> sparse.csr_matrix:
        """The given rows, in memory."""

    @abstractmethod
    def select(self, rows: np.ndarray | None, columns: np.ndarray | None) -> RowReader:
        """A reader of ``rows`` (``None``: all) and ``columns`` (``None``: all) of this one."""

    def __getitem__(self, key) -> RowReader:
        """``reader[rows]`` or ``reader[:, columns]``, without reading."""
        rows, columns = key if isinstance(key, tuple) else (key, slice(None))
        if isinstance(rows, slice) and rows == slice(None):
            rows = None
        if isinstance(columns, slice) and columns == slice(None):
            columns = None
        return self.select(rows, columns)


def take_rows(matrix, rows: slice):
    """``matrix[rows]``; the matrix itself, not a copy, when ``rows`` covers all of its rows.

    Parameters
    ----------
    matrix
        Dense or sparse matrix, or a :class:`RowReader` (whose rows are then read).
    rows
        A slice from :func:`row_chunks`.

    Returns
    -------
    The rows, as the matrix's type (a reader's: CSR).
    """
    if isinstance(matrix, RowReader):
        return matrix.read(rows)
    if rows.start == 0 and rows.stop >= matrix.shape[0]:
        return matrix
    return matrix[rows]
