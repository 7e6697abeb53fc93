"""Lightning callbacks that make training fail loudly and resume exactly.

- :class:`NonFiniteLossGuard` stops training at the first NaN or infinite loss, naming the
  loss terms that went bad and the epoch, instead of letting NaN weights train on silently.
- :class:`ResumableState` adds to every Lightning checkpoint what a resumed run needs beyond
  the weights, optimiser and epoch counter that Lightning saves itself: the random number
  generators' states (so minibatch order and dropout continue as in an uninterrupted run) and
  state a model keeps outside its module (e.g. BICLUM's current positive pairs).
- :class:`TrainingCheckpoint` writes ``last.ckpt`` at the end of every epoch, for
  ``model.train(..., ckpt_path=...)`` to resume from.

Both models' ``train()`` add the first two by default (see :func:`with_default_callbacks`).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from scvi.module.base import LossOutput

#: File name :class:`TrainingCheckpoint` writes (and overwrites) every epoch.
LAST_CHECKPOINT = "last.ckpt"

#: ``LossOutput`` attributes holding the individual loss terms, in the order they are reported.
_TERM_GROUPS = ("reconstruction_loss", "kl_local", "kl_global", "extra_metrics")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


def non_finite_terms(loss_output: LossOutput) -> list[str]:
    """Names of the terms of ``loss_output`` holding NaN or infinite values.

    Parameters
    ----------
    loss_output
        Output of a module's ``loss``.

    Returns
    -------
    Names such as ``"reconstruction_loss['rna']"`` or ``"cell_contrastive"`` (an extra metric,
    logged as ``cell_contrastive_train``), in the order of :data:`_TERM_GROUPS`.
    """
    named, unnamed = [], []
    for group in _TERM_GROUPS:
        terms = getattr(loss_output, group, None)
        if not isinstance(terms, dict):
            terms = {} if terms is None else {group: terms}
        for key, value in terms.items():
            if not torch.is_tensor(value) or torch.isfinite(value.detach()).all():
                continue
            if key == group:
                unnamed.append(group)
            else:
                named.append(key if group == "extra_metrics" else f"{group}[{key!r}]")
    # A term a module gives without a name is keyed by its group; scvi also fills the groups a
    # module leaves out with ``0 * loss``, which is NaN whenever the total is. Such entries
    # only help when no named term explains the failure.
    return named or unnamed


class NonFiniteLossGuard(pl.Callback):
    """Stop training with :class:`NonFiniteLossError` at the first NaN or infinite loss.

    The check runs before the backward pass, so the weights are still those that produced a
    finite loss one step earlier. To name the culprit, the guard keeps the last
    :class:`~scvi.module.base.LossOutput` of the module's forward pass (through a forward hook,
    so any scvi-tools training plan works) and reports each of its terms that is not finite.
    """

    def __init__(self):
        super().__init__()
        self._last_output: LossOutput | None = None
        self._hook: torch.utils.hooks.RemovableHandle | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Start recording the module's loss outputs."""
        self._hook = pl_module.module.register_forward_hook(self._record)

    def _record(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        # scvi modules return (inference outputs, generative outputs, LossOutput) when they
        # compute the loss; other calls (e.g. inference only) are not recorded.
        if isinstance(output, tuple) and output and isinstance(output[-1], LossOutput):
            self._last_output = output[-1]

    def on_before_backward(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor
    ) -> None:
        """Raise if ``loss`` is not finite, naming the bad terms and the epoch."""
        finite = bool(torch.isfinite(loss.detach()).all())
        # In distributed training every process must stop: one raising alone would leave the
        # others waiting for it in the gradient all-reduce.
        if not trainer.strategy.reduce_boolean_decision(not finite, all=False):
            return
        what = "finite here but not on another process" if finite else self._diagnosis(loss)
        raise NonFiniteLossError(
            f"The training loss at epoch {trainer.current_epoch} (step {trainer.global_step}) "
            f"is {what}. Training stopped before the weights took the bad step. Lower the "
            "learning rate (`plan_kwargs={'lr': ...}`), clip gradients "
            "(`gradient_clip_val=...`), or check the inputs of that term."
        )

    def _diagnosis(self, loss: torch.Tensor) -> str:
        value = "NaN" if torch.isnan(loss.detach()).any() else "infinite"
        terms = non_finite_terms(self._last_output) if self._last_output is not None else []
        if not terms:
            return f"{value}, though each of its terms is finite"
        return f"{value}; non-finite terms: {', '.join(terms)}"

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args):
        """Release the step's loss output (and the graph it references)."""
        self._last_output = None

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Remove the forward hook when training ends, normally or not."""
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        self._last_output = None


#: A model attribute saved with checkpoints: a getter and a setter of its value.
ModelState = tuple[Callable[[], Any], Callable[[Any], None]]


class ResumableState(pl.Callback):
    """Save random number generator states and extra model state in Lightning checkpoints.

    Lightning's checkpoints hold weights, optimiser state and the epoch counter. Restoring the
    random number generators too makes a run resumed from a checkpoint written at the end of an
    epoch continue exactly as the uninterrupted run would have (same minibatch order and
    dropout masks; bit for bit on CPU).

    Parameters
    ----------
    model_state
        Named model attributes, each as ``(get, set)``, that training changes and a resumed
        run needs (e.g. BICLUM's positive pairs, which are refreshed during training). Values
        are numpy arrays, tuples or lists of them, or plain Python values.
    """

    def __init__(self, model_state: dict[str, ModelState] | None = None):
        super().__init__()
        self.model_state = dict(model_state or {})

    def state_dict(self) -> dict[str, Any]:
        """Random states and model state at the time the checkpoint is written."""
        # The legacy global generator is the one libraries (scikit-learn, scanpy) draw from.
        kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()  # noqa: NPY002
        state = {
            "python": random.getstate(),
            # Lightning reads checkpoints with ``weights_only=True``, which refuses numpy
            # arrays: store them as tensors.
            "numpy": (kind, torch.from_numpy(keys), position, has_gauss, cached_gaussian),
            "torch": torch.get_rng_state(),
            "model": {name: _to_tensors(get()) for name, (get, _) in self.model_state.items()},
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the random states and model state of the checkpoint."""
        random.setstate(state_dict["python"])
        kind, keys, *rest = state_dict["numpy"]
        np.random.set_state((kind, keys.numpy(), *rest))  # noqa: NPY002
        torch.set_rng_state(state_dict["torch"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])
        for name, value in state_dict["model"].items():
            if name in self.model_state:
                self.model_state[name][1](_to_arrays(value))


def _to_tensors(value: Any) -> Any:
    """Numpy arrays (also inside tuples and lists) as tensors."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, tuple | list):
        return type(value)(_to_tensors(v) for v in value)
    return value


def _to_arrays(value: Any) -> Any:
    """Inverse of :func:`_to_tensors`."""
    if torch.is_tensor(value):
        return value.numpy()
    if isinstance(value, tuple | list):
        return type(value)(_to_arrays(v) for v in value)
    return value


class TrainingCheckpoint(pl.Callback):
    """Write a Lightning checkpoint to ``dirpath / "last.ckpt"`` at the end of every epoch.

    Pass it in ``callbacks`` of a model's ``train()``; resume an interrupted run with the same
    arguments plus ``ckpt_path=dirpath / "last.ckpt"``. Unlike Lightning's ``ModelCheckpoint``
    this needs no ``enable_checkpointing=True``, which would make scvi-tools' trainer also add
    its own :class:`~scvi.train.SaveCheckpoint` (a model save per validation improvement,
    which keeps no Lightning checkpoint to resume from) and validate every epoch, and so fail
    for a model trained without validation cells (BICLUM's default).

    Parameters
    ----------
    dirpath
        Folder of the checkpoint (created if needed).
    every_n_epochs
        Write every this many epochs.
    """

    def __init__(self, dirpath: str | os.PathLike, every_n_epochs: int = 1):
        super().__init__()
        if every_n_epochs < 1:
            raise ValueError(f"`every_n_epochs` must be at least 1, got {every_n_epochs}.")
        self.dirpath = Path(dirpath)
        self.every_n_epochs = every_n_epochs

    @property
    def last_path(self) -> Path:
        """Path of the latest checkpoint."""
        return self.dirpath / LAST_CHECKPOINT

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Write the checkpoint when the epoch is due."""
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        self.dirpath.mkdir(parents=True, exist_ok=True)
        partial = self.dirpath / f"{LAST_CHECKPOINT}.partial"
        trainer.save_checkpoint(partial)
        # Replace the previous checkpoint only once the new one is complete, so an
        # interruption while writing leaves a usable checkpoint behind.
        if trainer.is_global_zero:
            os.replace(partial, self.last_path)


def with_default_callbacks(
    callbacks: Sequence[pl.Callback] | pl.Callback | None,
    model_state: dict[str, ModelState] | None = None,
) -> list[pl.Callback]:
    """The user's callbacks plus :class:`NonFiniteLossGuard` and :class:`ResumableState`.

    Parameters
    ----------
    callbacks
        Callbacks passed to ``train()``; a guard or state callback given there is kept
        instead of the default one.
    model_state
        Model attributes for :class:`ResumableState`.

    Returns
    -------
    The callbacks to give the trainer.
    """
    if isinstance(callbacks, pl.Callback):
        callbacks = [callbacks]
    callbacks = list(callbacks or [])
    defaults = (NonFiniteLossGuard(), ResumableState(model_state))
    return callbacks + [d for d in defaults if not _has_instance(callbacks, type(d))]


def _has_instance(callbacks: list[pl.Callback], cls: type) -> bool:
    return any(isinstance(callback, cls) for callback in callbacks)
