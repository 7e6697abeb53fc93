"""Loaders for minibatches: cells in the order asked (backed data), or of two modalities."""

from .mapped_collection import PairedMappedDataModule
from .ordered_rows import OrderedRowsDataset, OrderedRowsManager
from .unpaired_loader import UnpairedBatchSampler, UnpairedDataLoader, UnpairedDataset
from .unpaired_splitter import UnpairedDataSplitter

__all__ = [
    "OrderedRowsDataset",
    "OrderedRowsManager",
    "PairedMappedDataModule",
    "UnpairedBatchSampler",
    "UnpairedDataLoader",
    "UnpairedDataSplitter",
    "UnpairedDataset",
]
