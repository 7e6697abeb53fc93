"""Evaluation mode for inference in the middle of training, restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Put ``module`` in evaluation mode (e.g. for a refresh or a getter), then restore it."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
