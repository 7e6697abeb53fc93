"""Minibatches of ``mdata.obs`` rows from counts registered in their modality's own rows.

BICLUM registers the counts of a backed unpaired MuData with
:data:`~scvi_contrastive.data.unpaired_backed.MuDataModalityCountField`: each modality's
``.X`` in its own rows, left in the file. :class:`ModalityRowsManager` hands out
:class:`ModalityRowsDataset`, which reads for the ``mdata.obs`` rows of a minibatch the
modality's rows (zero rows for cells it lacks, as the aligned in-memory copy holds) and the
other registered data (batch, ...) as scvi does, all in the order asked, so the minibatches
are those of the same data in memory.
"""

from __future__ import annotations

import numpy as np
from scvi.data import AnnTorchDataset
from scvi.data._utils import scipy_to_torch_sparse

from ..data.unpaired_backed import MuDataModalityCountField, cell_positions, read_cells
from .ordered_rows import OrderedRowsDataset, OrderedRowsManager


class ModalityRowsDataset(AnnTorchDataset):
    """:class:`~scvi.data.AnnTorchDataset` indexed by ``mdata.obs`` rows, counts read per cell.

    Parameters as :class:`~scvi.data.AnnTorchDataset`; ``adata_manager`` is a
    :class:`ModalityRowsManager`.
    """

    def __init__(self, adata_manager: ModalityRowsManager, getitem_tensors=None, **kwargs):
        super().__init__(adata_manager, getitem_tensors=getitem_tensors, **kwargs)
        modality_of = adata_manager.modality_count_keys()
        keys = self.keys_and_dtypes
        self._mapped = {key: dtype for key, dtype in keys.items() if key in modality_of}
        self._positions = {
            key: cell_positions(adata_manager.adata, modality_of[key]) for key in self._mapped
        }
        others = {key: dtype for key, dtype in keys.items() if key not in self._mapped}
        self._others = (
            OrderedRowsDataset(adata_manager, getitem_tensors=others, **kwargs) if others else None
        )

    def __getitem__(self, indexes):
        """Registered data of the cells ``indexes``, row ``i`` holding cell ``indexes[i]``."""
        indexes = np.atleast_1d(np.arange(len(self))[indexes])
        data = self._others[indexes] if self._others is not None else {}
        for key, dtype in self._mapped.items():
            counts = read_cells(self.data[key], self._positions[key][indexes]).astype(dtype)
            data[key] = (
                scipy_to_torch_sparse(counts) if self.load_sparse_tensor else counts.toarray()
            )
        return {key: data[key] for key in self.keys_and_dtypes}


class ModalityRowsManager(OrderedRowsManager):
    """An :class:`~scvi.data.AnnDataManager` whose datasets are :class:`ModalityRowsDataset`.

    For counts registered in their modality's own rows
    (:data:`~scvi_contrastive.data.unpaired_backed.MuDataModalityCountField`). Parameters as
    :class:`~scvi.data.AnnDataManager`; scvi's ``transfer_fields`` keeps the
    class for new data given to the getters.
    """

    dataset_cls = ModalityRowsDataset

    def modality_count_keys(self) -> dict[str, str]:
        """Registry key → modality of the counts registered in their modality's own rows."""
        return {
            field.registry_key: field.mod_key
            for field in self.fields
            if isinstance(field, MuDataModalityCountField)
        }
