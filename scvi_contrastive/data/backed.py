"""Count matrices left on disk (``backed=True``), read a bounded number of rows at a time.

In anndata's backed mode a modality's ``.X`` stays in the file: an ``h5py.Dataset`` (dense)
or an anndata ``CSRDataset`` / ``CSCDataset`` (sparse), which read only the rows they are
indexed with. The whole-matrix passes of setup (count checks, per-cell totals) read
:data:`CHUNK_ROWS` consecutive rows at a time, and the input-transform fit reads the rows it
samples in groups of at most :data:`CHUNK_ROWS`; in memory the same functions read the matrix
as before, so both give the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterator

import h5py
import numpy as np
from anndata.abc import CSCDataset, CSRDataset
from scipy import sparse

from ..tools.chunks import row_chunks

#: Rows read from a matrix at a time by the passes over all its rows.
CHUNK_ROWS = 10_000


def is_on_disk(matrix) -> bool:
    """Whether ``matrix`` is a backed matrix read from its file on indexing."""
    return isinstance(matrix, h5py.Dataset | CSRDataset | CSCDataset)


def check_readable_by_rows(matrix, name: str) -> None:
    """Raise ``ValueError`` for a CSC matrix on disk: each of its minibatches reads every column.

    Parameters
    ----------
    matrix
        Dense, sparse or backed matrix.
    name
        How the user knows this matrix (e.g. ``".X of modality 'rna'"``).

    """
    if isinstance(matrix, CSCDataset):
        raise ValueError(
            f"{name} is a CSC matrix on disk: reading a minibatch of its cells reads every "
            "column of the file. Write the file again with the matrix as CSR (in memory: "
            "`modality.X = scipy.sparse.csr_matrix(modality.X)`, then `mdata.write(path)`), "
            "or read it without `backed`."
        )


def row_blocks(matrix) -> Iterator:
    """Consecutive blocks of at most :data:`CHUNK_ROWS` rows of ``matrix``, each in memory.

    Parameters
    ----------
    matrix
        Dense, sparse or backed matrix.

    Yields
    ------
    Each block as a dense array or a sparse matrix (a backed sparse matrix gives CSR).
    """
    for rows in row_chunks(matrix.shape[0], CHUNK_ROWS):
        if rows.stop > rows.start:
            yield matrix[rows]


def read_rows(matrix, rows: np.ndarray) -> sparse.csr_matrix:
    """The given rows of ``matrix`` as a float64 CSR matrix.

    A backed matrix is read :data:`CHUNK_ROWS` of the given rows at a time, so no more of its
    rows than that (besides the result) are in memory at once.

    Parameters
    ----------
    matrix
        Dense, sparse or backed matrix.
    rows
        Increasing, distinct row numbers (a backed matrix reads rows in increasing order only).

    Returns
    -------
    ``len(rows)`` × features CSR matrix, in the order of ``rows``.
    """
    if not is_on_disk(matrix):
        return sparse.csr_matrix(matrix[rows], dtype=np.float64)
    blocks = [
        sparse.csr_matrix(matrix[rows[start : start + CHUNK_ROWS]], dtype=np.float64)
        for start in range(0, len(rows), CHUNK_ROWS)
    ]
    if not blocks:
        return sparse.csr_matrix((0, matrix.shape[1]), dtype=np.float64)
    return sparse.vstack(blocks, format="csr")
