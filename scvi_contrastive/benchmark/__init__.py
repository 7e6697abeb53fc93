"""Benchmark: metrics, peer adapters and a side-by-side runner.

Run ``python -m scvi_contrastive.benchmark --help``. The metrics in :mod:`.metrics` are plain
functions of numpy arrays, used by the tests and tutorials of the whole package.
"""

from ..tools.clustering import leiden_clusters
from .datasets import DATASETS, BenchmarkDataset, load_dataset
from .metrics import (
    cell_type_preservation,
    cluster_scores,
    foscttm,
    knn_label_transfer,
    label_transfer_accuracy,
    label_transfer_balanced_accuracy,
    omics_mixing,
    scib_table,
)
from .result import MethodResult
from .runner import run_benchmark

__all__ = [
    "DATASETS",
    "BenchmarkDataset",
    "MethodResult",
    "cell_type_preservation",
    "cluster_scores",
    "foscttm",
    "knn_label_transfer",
    "label_transfer_accuracy",
    "label_transfer_balanced_accuracy",
    "leiden_clusters",
    "load_dataset",
    "omics_mixing",
    "run_benchmark",
    "scib_table",
]
