"""Training hooks of the bilateral alignment model."""

from __future__ import annotations

from collections.abc import Callable

import lightning.pytorch as pl

from .scheduled_refresh import ScheduledRefresh


class MNNRefresh(ScheduledRefresh):
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
        if every < 0 or start < 0:
            raise ValueError("`every` and `start` must be non-negative.")
        super().__init__(lambda trainer, final: refresh(), self._due)
        self.every = every
        self.start = start

    def _due(self, trainer: pl.Trainer) -> bool:
        epoch = trainer.current_epoch
        return self.every > 0 and epoch >= self.start and (epoch - self.start) % self.every == 0
