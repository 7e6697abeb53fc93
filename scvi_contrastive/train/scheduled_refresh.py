"""Embed the cells with the model, then act on the embedding, at scheduled epoch starts."""

from __future__ import annotations

from collections.abc import Callable

import lightning.pytorch as pl

from .threads import preserve_torch_threads


class ScheduledRefresh(pl.Callback):
    """Run an embed-then-act step at the start of the epochs a schedule names.

    Both models refresh something from their own embedding during training through it:
    SCMDCF its modality weights and, once, its DEC centres; BICLUM its cross-modal positive
    pairs. The step runs before the epoch's dataloader is iterated, with torch's thread
    count kept as the trainer set it (scanpy and scikit-learn may change it).

    Parameters
    ----------
    refresh
        ``refresh(trainer, final)``: embeds with the model and acts on the embedding;
        ``final`` is True for the run at the end of training.
    due
        ``due(trainer)``: whether the step runs at the start of ``trainer.current_epoch``.
    due_at_end
        ``due_at_end(trainer)``: whether the step runs once more when training ends
        (``None``: never).
    """

    def __init__(
        self,
        refresh: Callable[[pl.Trainer, bool], None],
        due: Callable[[pl.Trainer], bool],
        due_at_end: Callable[[pl.Trainer], bool] | None = None,
    ):
        super().__init__()
        self.refresh = refresh
        self.due = due
        self.due_at_end = due_at_end

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Run the step when this epoch is due."""
        if self.due(trainer):
            with preserve_torch_threads():
                self.refresh(trainer, False)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Run the step once more when the end of training is due."""
        if self.due_at_end is not None and self.due_at_end(trainer):
            with preserve_torch_threads():
                self.refresh(trainer, True)
