"""scvi's training plan, with per-term metrics that distributed training can synchronise."""

from __future__ import annotations

import inspect

import torch
from scvi.module.base import LossOutput
from scvi.train import TrainingPlan
from torchmetrics import Metric


class SyncedTrainingPlan(TrainingPlan):
    """:class:`~scvi.train.TrainingPlan` whose logged loss terms survive DDP's epoch-end sync.

    scvi logs every ``LossOutput.extra_metrics`` term under ``torch.inference_mode()``, so the
    epoch accumulators Lightning creates on the first ``self.log`` are inference tensors. With
    ``sync_dist=True`` (any DDP strategy) Lightning averages them across processes in place at
    the end of the epoch, which inference tensors forbid: training stops with "Inplace update
    to inference tensor outside InferenceMode". Logging under ``torch.no_grad()`` records the
    same values with ordinary tensors. Single-process training is unchanged.
    """

    @torch.no_grad()
    def compute_and_log_metrics(
        self, loss_output: LossOutput, metrics: dict[str, Metric], mode: str
    ) -> None:
        """Log as scvi does, under ``no_grad`` instead of ``inference_mode``."""
        log_metrics = inspect.unwrap(TrainingPlan.compute_and_log_metrics)
        log_metrics(self, loss_output, metrics, mode)
