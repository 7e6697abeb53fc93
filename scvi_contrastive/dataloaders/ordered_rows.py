"""Minibatches whose cells come in the order asked, also from data backed on disk.

scvi-tools' :class:`~scvi.data.AnnTorchDataset` reads the cells of a minibatch of backed data
in increasing order (HDF5 reads only increasing indices) and returns them in that order, not
in the order its sampler drew them. A shuffled training minibatch then holds its cells in
another order than in memory (each row gets another dropout mask and sampling noise), and a
getter asked for cells in a given order returns them sorted. :class:`OrderedRowsDataset`
reads them in increasing order and hands them back in the order asked, so backed and
in-memory data give the same minibatches; data in memory go through scvi's dataset
unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scvi.data import AnnDataManager, AnnTorchDataset
from torch.utils.data import Subset

from ..data.backed import is_on_disk


class OrderedRowsDataset(AnnTorchDataset):
    """:class:`~scvi.data.AnnTorchDataset` that returns each minibatch's cells in their order.

    Parameters as :class:`~scvi.data.AnnTorchDataset`.
    """

    def __getitem__(self, indexes):
        """Registered data of the cells ``indexes``, row ``i`` holding cell ``indexes[i]``."""
        if isinstance(indexes, int | slice) or not self._read_sorted():
            return super().__getitem__(indexes)
        indexes = np.asarray(indexes)
        order = np.argsort(indexes, kind="stable")
        if (order == np.arange(order.size)).all():
            return super().__getitem__(indexes)
        data = super().__getitem__(indexes[order])
        position = np.empty_like(order)
        position[order] = np.arange(order.size)
        return {key: value[position] for key, value in data.items()}

    def _read_sorted(self) -> bool:
        """Whether scvi's dataset returns the cells sorted: backed data, or a matrix on disk."""
        if not hasattr(self, "_sorted"):
            self._sorted = self.adata_manager.adata.isbacked or any(
                is_on_disk(value) for value in self.data.values()
            )
        return self._sorted


class OrderedRowsManager(AnnDataManager):
    """:class:`~scvi.data.AnnDataManager` whose datasets are :class:`OrderedRowsDataset`.

    Parameters as :class:`~scvi.data.AnnDataManager`; the models' setup registers data with
    it, and scvi's ``transfer_fields`` keeps the class for new data given to the getters.
    """

    #: The torch dataset :meth:`create_torch_dataset` builds.
    dataset_cls: type[AnnTorchDataset] = OrderedRowsDataset

    def create_torch_dataset(
        self,
        indices: Sequence[int] | Sequence[bool] | None = None,
        data_and_attributes: list[str] | dict[str, np.dtype] | None = None,
        load_sparse_tensor: bool = False,
    ) -> OrderedRowsDataset | Subset:
        """The registered data as a torch dataset, as scvi's method of the same name."""
        dataset = self.dataset_cls(
            self, getitem_tensors=data_and_attributes, load_sparse_tensor=load_sparse_tensor
        )
        return dataset if indices is None else Subset(dataset, indices)
