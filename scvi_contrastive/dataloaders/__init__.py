"""Loaders for minibatches that hold cells of two modalities of different cells."""

from .unpaired_loader import UnpairedBatchSampler, UnpairedDataLoader, UnpairedDataset
from .unpaired_splitter import UnpairedDataSplitter

__all__ = [
    "UnpairedBatchSampler",
    "UnpairedDataLoader",
    "UnpairedDataSplitter",
    "UnpairedDataset",
]
