"""The record every benchmarked method returns, and how its training cost is measured."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

logger = logging.getLogger(__name__)

OK = "ok"


@dataclass
class MethodResult:
    """What one method produced on one data set.

    Attributes
    ----------
    name
        Method name as shown in tables (``"TOTALVI"``, ``"scMDCF-original"``, ...).
    status
        ``"ok"``, or why there is no embedding: ``"not installed: ..."``,
        ``"not available: ..."``, ``"not applicable: ..."`` or ``"failed: ..."``.
    embedding
        ``(n_cells, d)`` joint embedding, rows in the data set's cell order.
    clusters
        The method's own cluster assignments, if it makes any.
    connectivities
        A cell-by-cell graph to run Leiden on when the method gives a graph, not an embedding
        (muon WNN).
    train_time_s
        Wall time of training only (no preprocessing, no scoring).
    setup_time_s
        Wall time of the model's registration and construction (``setup_mudata`` and the
        constructor: for BICLUM its joint PCA, anchors and metacells), for the scvi-tools
        models; NaN for methods without that step.
    peak_memory_mb
        Peak resident memory above the level at the start of training (host), in MiB.
    gpu_peak_memory_mb
        ``torch.cuda.max_memory_allocated`` during training, in MiB, when a GPU was used.
    device
        Where it trained (``"cpu (2 threads)"``, ``"cuda:0 (NVIDIA H100)"``).
    n_epochs
        Epochs actually trained (after early stopping), if the method trains in epochs.
    settings
        The settings the method ran with, for the report.

    """

    name: str
    status: str = OK
    embedding: np.ndarray | None = None
    clusters: np.ndarray | None = None
    connectivities: sparse.spmatrix | None = None
    train_time_s: float = float("nan")
    setup_time_s: float = float("nan")
    peak_memory_mb: float = float("nan")
    gpu_peak_memory_mb: float = float("nan")
    device: str = ""
    n_epochs: int | None = None
    settings: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the method produced an embedding or a graph."""
        return self.status == OK

    def record(self) -> dict:
        """Return the scalar fields, for JSON/CSV reports."""
        return {
            "method": self.name,
            "status": self.status,
            "train_time_s": self.train_time_s,
            "setup_time_s": self.setup_time_s,
            "time_per_epoch_s": self.train_time_s / self.n_epochs if self.n_epochs else None,
            "peak_memory_mb": self.peak_memory_mb,
            "gpu_peak_memory_mb": self.gpu_peak_memory_mb,
            "device": self.device,
            "n_epochs": self.n_epochs,
            "embedding_dim": None if self.embedding is None else int(self.embedding.shape[1]),
            "settings": dict(self.settings),
        }


def torch_device_name(device=None) -> str:
    """Name a torch device: ``"cuda:0 (NVIDIA H100 ...)"`` or ``"cpu (2 threads)"``.

    Parameters
    ----------
    device
        A torch device or its string; ``None`` means the first GPU if any, else the CPU.

    """
    import torch

    if device is None:
        device = "cuda:0" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'s' if threads != 1 else ''})"


def _rss_mb() -> float:
    """Return the resident set size in MiB (``/proc``; else the peak from ``resource``)."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class TrainingCost:
    """Filled in by :func:`measure_training` when its block ends."""

    seconds: float = float("nan")
    peak_memory_mb: float = float("nan")
    gpu_peak_memory_mb: float = float("nan")

    def apply(self, result: MethodResult) -> MethodResult:
        """Copy the measured cost into ``result`` and return it."""
        result.train_time_s = self.seconds
        result.peak_memory_mb = self.peak_memory_mb
        result.gpu_peak_memory_mb = self.gpu_peak_memory_mb
        return result


@dataclass
class SetupTime:
    """Filled in by :func:`measure_setup` when its block ends."""

    seconds: float = float("nan")

    def apply(self, result: MethodResult) -> MethodResult:
        """Copy the measured setup time into ``result`` and return it."""
        result.setup_time_s = self.seconds
        return result


@contextmanager
def measure_setup() -> Iterator[SetupTime]:
    """Measure the wall time of a model's setup (registration and construction).

    Yields
    ------
    A :class:`SetupTime`, filled when the block exits.
    """
    setup = SetupTime()
    start = time.perf_counter()
    try:
        yield setup
    finally:
        setup.seconds = time.perf_counter() - start


@contextmanager
def measure_training(poll_s: float = 0.05) -> Iterator[TrainingCost]:
    """Measure wall time and peak memory of the enclosed block.

    Host memory is sampled from a background thread: the peak RSS above the level at entry,
    after memory freed by earlier steps has been handed back to the system (so that it is not
    silently reused and missed). On a GPU, ``torch.cuda.max_memory_allocated`` is reset at
    entry and read at exit.

    Parameters
    ----------
    poll_s
        Sampling interval of the resident memory, in seconds.

    Yields
    ------
    A :class:`TrainingCost`, filled when the block exits.

    """
    cost = TrainingCost()
    cuda = _cuda_reset()
    _release_freed_memory()
    start_rss = _rss_mb()
    peak = [start_rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(poll_s):
            peak[0] = max(peak[0], _rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        yield cost
    finally:
        cost.seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
        cost.peak_memory_mb = max(peak[0], _rss_mb()) - start_rss
        if cuda:
            import torch

            cost.gpu_peak_memory_mb = torch.cuda.max_memory_allocated() / 2**20


def _release_freed_memory() -> None:
    """Collect garbage and return freed heap memory to the OS (glibc ``malloc_trim``)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        logger.debug("malloc_trim unavailable: peak memory may miss reused heap memory")


def _cuda_reset() -> bool:
    try:
        import torch
    except ImportError:
        return False
    if not torch.cuda.is_available():
        return False
    torch.cuda.reset_peak_memory_stats()
    return True
