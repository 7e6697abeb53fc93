"""Training hooks of the bilateral alignment model."""

from __future__ import annotations

from collections.abc import Callable

import lightning.pytorch as pl

from .threads import preserve_torch_threads


class MNNRefresh(pl.Callback):
    """Recompute the cross-modal positive pairs on the model's embedding every few epochs.

    The first pairs come from a representation fixed before training; as the latent space
    aligns the modalities, its mutual nearest neighbours become better positives than those.

    Parameters
    ----------
    refresh
        Called without arguments; recomputes and stores the pairs (the loaders read them when
        the next epoch starts).
    every
        Refresh period in epochs; 0 switches refreshing off.
    start
        First epoch at which pairs are refreshed.
    """

    def __init__(self, refresh: Callable[[], None], every: int = 5, start: int = 5):
        super().__init__()
        if every < 0 or start < 0:
            raise ValueError("`every` and `start` must be non-negative.")
        self.refresh = refresh
        self.every = every
        self.start = start

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Refresh the pairs when this epoch is due (before its dataloader is iterated)."""
        epoch = trainer.current_epoch
        if self.every > 0 and epoch >= self.start and (epoch - self.start) % self.every == 0:
            with preserve_torch_threads():
                self.refresh()
