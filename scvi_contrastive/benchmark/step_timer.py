"""A Lightning callback timing every training step and epoch start."""

from __future__ import annotations

import time

import lightning.pytorch as pl
import numpy as np

#: Steps left out of the steady-state step time (first allocations, lazy initialisation).
WARMUP_STEPS = 10
#: Steps of the second epoch, run to time the epoch boundary.
BOUNDARY_STEPS = 2


class StepTimer(pl.Callback):
    """Time every training step and epoch start; stop early in the second epoch.

    Parameters
    ----------
    boundary_steps
        Steps of the second epoch after which training stops.
    """

    def __init__(self, boundary_steps: int = BOUNDARY_STEPS):
        super().__init__()
        self.boundary_steps = boundary_steps
        self.epoch_starts: list[float] = []
        self.first_step_starts: list[float] = []
        self.step_ends: list[list[float]] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Record the epoch's start (before the model's own epoch-start work)."""
        self.epoch_starts.append(time.perf_counter())
        self.step_ends.append([])

    def on_train_batch_start(self, trainer: pl.Trainer, *args) -> None:
        """Record the start of the epoch's first step (after the model's epoch-start work)."""
        if len(self.first_step_starts) < len(self.epoch_starts):
            self.first_step_starts.append(time.perf_counter())

    def on_train_batch_end(self, trainer: pl.Trainer, *args) -> None:
        """Record the step's end; stop once the second epoch has run a few steps."""
        self.step_ends[-1].append(time.perf_counter())
        if len(self.step_ends) > 1 and len(self.step_ends[-1]) >= self.boundary_steps:
            trainer.should_stop = True

    def first_epoch_costs(self, steps_per_epoch: int) -> dict:
        """Per-step and per-epoch time of the first epoch, and how they were obtained."""
        ends = np.asarray(self.step_ends[0])
        warmup = min(WARMUP_STEPS, len(ends) // 2)
        step_s = (ends[-1] - ends[warmup - 1]) / (len(ends) - warmup)
        if len(ends) == steps_per_epoch:
            epoch_s = ends[-1] - self.first_step_starts[0]
            how = f"measured: a full epoch of {len(ends)} steps"
        else:
            epoch_s = step_s * steps_per_epoch
            how = (
                f"extrapolated: {steps_per_epoch} steps x the mean step time of steps "
                f"{warmup + 1}-{len(ends)}"
            )
        return {
            "epoch_s": float(epoch_s),
            "step_ms": float(step_s * 1e3),
            "how": how,
            "start_work_s": self.start_work_s(0),
        }

    def start_work_s(self, epoch: int) -> float:
        """Time from an epoch's start to its first step's start (nan if it ran no step)."""
        if len(self.first_step_starts) <= epoch:
            return float("nan")
        return float(self.first_step_starts[epoch] - self.epoch_starts[epoch])

    def boundary_s(self) -> float:
        """The second epoch's start work: the model's once-per-epoch work between epochs."""
        return self.start_work_s(1)
