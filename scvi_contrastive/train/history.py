"""Epoch numbers of the training history when ``train()`` is called again on a trained model."""

from __future__ import annotations

import numpy as np
import pandas as pd


def history_so_far(model) -> tuple[int, dict[str, int]] | None:
    """Epochs a trained model has run and rows per history term (``None`` if untrained).

    Parameters
    ----------
    model
        An scvi-tools model, before ``train()``.
    """
    history = model.history_ if model.is_trained_ else None
    if not isinstance(history, dict) or not any(len(frame) for frame in history.values()):
        return None
    epochs = max(int(frame.index.max()) + 1 for frame in history.values() if len(frame))
    return epochs, {name: len(frame) for name, frame in history.items()}


def number_continued_epochs(model, before: tuple[int, dict[str, int]] | None) -> None:
    """Number the epochs of a continued training after those of the earlier calls.

    scvi-tools numbers a term's new rows from its earlier row count, so a term logged in only
    some epochs (SCMDCF's clustering loss, after the warm-up) repeats epoch numbers. A term's
    new rows are the last epochs of this call.

    Parameters
    ----------
    model
        The model, after ``train()``.
    before
        :func:`history_so_far` of the model before ``train()``.
    """
    if before is None:
        return
    epochs_before, lengths = before
    epochs_now = model.trainer.current_epoch
    for name, frame in model.history_.items():
        n_new = len(frame) - lengths.get(name, len(frame))
        if n_new > 0:
            index = frame.index.to_numpy().copy()
            index[-n_new:] = epochs_before + epochs_now - n_new + np.arange(n_new)
            frame.index = pd.Index(index, name=frame.index.name)
