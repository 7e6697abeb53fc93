"""Checks on the arguments of ``train`` and of the getters, with the fix in each message."""

from __future__ import annotations

import numbers

import numpy as np


def check_indices(indices, n_obs: int) -> np.ndarray | None:
    """Cell positions for a getter's ``indices``: integers in ``[0, n_obs)`` or a boolean mask.

    Parameters
    ----------
    indices
        ``None`` (all cells), integer positions, or a boolean mask over the cells.
    n_obs
        Number of cells of the data the getter reads.

    Returns
    -------
    ``None`` for all cells, else the positions as an integer array.

    """
    if indices is None:
        return None
    positions = np.asarray(indices)
    if positions.dtype == bool:
        if positions.shape != (n_obs,):
            raise ValueError(
                f"`indices` is a boolean mask of shape {positions.shape}, but the data have "
                f"{n_obs} cells; give one value per cell, or integer positions."
            )
        positions = np.flatnonzero(positions)
    elif positions.size and not np.issubdtype(positions.dtype, np.integer):
        raise TypeError(
            f"`indices` must be integer positions or a boolean mask, got dtype {positions.dtype}; "
            "for cell names use `mdata.obs_names.get_indexer(names)`."
        )
    positions = positions.astype(np.int64).ravel()
    if positions.size == 0:
        raise ValueError("`indices` selects no cells; pass at least one, or None for all cells.")
    outside = positions[(positions < 0) | (positions >= n_obs)]
    if outside.size:
        raise ValueError(
            f"`indices` holds {outside.size} positions outside 0..{n_obs - 1} (e.g. "
            f"{outside[:5].tolist()}); the data have {n_obs} cells."
        )
    return positions


def check_count_argument(value, name: str, minimum: int, why: str = "") -> None:
    """Raise ``TypeError`` unless ``value`` is an integer, ``ValueError`` if below ``minimum``.

    Parameters
    ----------
    value
        Value of the argument.
    name
        Name of the argument (e.g. ``"max_epochs"``).
    minimum
        Smallest value allowed.
    why
        Why smaller values are refused, appended to the message.

    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"`{name}` must be at least {minimum}, got {value}.{why}")


def check_training_arguments(
    max_epochs: int | None, batch_size: int, n_epochs_pretrain: int | None = None
) -> None:
    """Refuse epoch counts and minibatch sizes training cannot run with.

    Parameters
    ----------
    max_epochs
        ``None`` (the model's default) or at least 1.
    batch_size
        At least 2.
    n_epochs_pretrain
        ``None`` or at least 0.

    """
    if max_epochs is not None:
        check_count_argument(max_epochs, "max_epochs", 1)
    check_count_argument(
        batch_size,
        "batch_size",
        2,
        " BatchNorm layers and the contrastive losses compare cells within a minibatch.",
    )
    if n_epochs_pretrain is not None:
        check_count_argument(n_epochs_pretrain, "n_epochs_pretrain", 0)
