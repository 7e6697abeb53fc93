"""Counts of modalities that hold other cells than ``mdata.obs``, read from their file.

In an unpaired MuData each modality holds its own cells and ``mdata.obs`` is their union. In
memory, a modality that does not hold the cells of ``mdata.obs`` in order is copied into
``mdata.obsm`` aligned to them (:mod:`scvi_contrastive.data.fields`); backed on disk
(``mudata.read_h5mu(path, backed=True)``) that copy would be the whole matrix. Here a
modality's counts are registered in its own rows instead (:data:`MuDataModalityCountField`):
the model and its loaders look up, for the ``mdata.obs`` rows they need, the modality's rows
(:func:`cell_positions`) and read only those from the file (:func:`read_cells`, in increasing
order, as HDF5 requires, then handed back in the order asked).
"""

from __future__ import annotations

import numpy as np
from mudata import MuData
from scipy import sparse
from scvi.data.fields import MuDataWrapper

from .backed import read_rows
from .fields import CountLayerField


def cell_positions(mdata: MuData, mod_key: str) -> np.ndarray:
    """Row of modality ``mod_key`` holding each cell of ``mdata.obs``; -1 where it lacks one.

    Parameters
    ----------
    mdata
        The MuData.
    mod_key
        One of its modalities.

    Returns
    -------
    ``(mdata.n_obs,)`` integer array.
    """
    return np.asarray(mdata.mod[mod_key].obs_names.get_indexer(mdata.obs_names), dtype=np.int64)


def read_cells(matrix, positions: np.ndarray) -> sparse.csr_matrix:
    """Rows ``positions`` of ``matrix`` in that order, -1 giving an all-zero row.

    The distinct rows are read once each, in increasing order (a backed matrix reads at most
    :data:`~scvi_contrastive.data.backed.CHUNK_ROWS` rows at a time,
    :func:`~scvi_contrastive.data.backed.read_rows`), then put in the order asked.

    Parameters
    ----------
    matrix
        Dense, sparse or backed matrix.
    positions
        Rows to read, in any order, repeats allowed; -1 for a cell the matrix lacks.

    Returns
    -------
    ``len(positions)`` × features float64 CSR matrix.
    """
    positions = np.asarray(positions, dtype=np.int64)
    held = positions >= 0
    rows, inverse = np.unique(positions[held], return_inverse=True)
    block = read_rows(matrix, rows)
    if held.all():
        return block[inverse.ravel()]
    order = np.full(len(positions), len(rows))
    order[held] = inverse.ravel()
    empty = sparse.csr_matrix((1, matrix.shape[1]), dtype=block.dtype)
    return sparse.vstack([block, empty], format="csr")[order]


#: A modality's counts registered in its own rows (not aligned to ``mdata.obs``): raw counts
#: checked chunk by chunk, a CSC matrix on disk refused
#: (:class:`~scvi_contrastive.data.fields.CountLayerField` with ``allow_backed=True``), new
#: data's feature names compared with the registered ones. Read through
#: :class:`~scvi_contrastive.dataloaders.modality_rows.ModalityRowsManager`.
MuDataModalityCountField = MuDataWrapper(CountLayerField)
