"""Keep torch's thread count across calls into libraries that reset it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def preserve_torch_threads() -> Iterator[None]:
    """Restore torch's intra-op thread count on exit.

    scikit-learn's thread-pool limits followed by scanpy's neighbour search can reset the
    OpenMP thread count that torch uses to the number of cores. Mid-training that silently
    oversubscribes the CPU when the user (or a parallel test runner) chose fewer threads,
    and every later training step runs many times slower.
    """
    n_threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(n_threads)
