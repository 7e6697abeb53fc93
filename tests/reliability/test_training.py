"""Rows of docs/reliability.md on training (both models unless named): a NaN loss stops it,
gradients are clipped, a seed repeats a run, an interrupted run resumes, and a second
``train()`` of SCMDCF continues.
"""

import logging
import re

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from reliability_cases import CASES

from scvi_contrastive.model import BICLUM, SCMDCF
from scvi_contrastive.train.callbacks import (
    LAST_CHECKPOINT,
    NonFiniteLossError,
    TrainingCheckpoint,
)

SCMDCF_CASE = CASES["SCMDCF"]


class _Poison(pl.Callback):
    """Set one parameter to NaN when an epoch starts."""

    def __init__(self, parameter, epoch):
        self.parameter, self.epoch = parameter, epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            with torch.no_grad():
                dict(pl_module.module.named_parameters())[self.parameter].fill_(float("nan"))


def test_nan_loss_stops_training_naming_term_and_epoch(case):
    parameter, bad_term, good_term = case.poison
    model = case.model()
    message = rf"at epoch 1 \(step \d+\) is NaN; non-finite terms: .*{re.escape(bad_term)}"
    with pytest.raises(NonFiniteLossError, match=message) as error:
        case.fit(model, max_epochs=3, callbacks=[_Poison(parameter, epoch=1)])
    assert good_term not in str(error.value)
    assert "kl_global" not in str(error.value)  # scvi's placeholder (0 * loss) is not blamed
    assert len(model.history["train_loss"]) == 1  # the first epoch completed


def _gradient_norm(module):
    grads = [p.grad.detach().norm() for p in module.parameters() if p.grad is not None]
    return float(torch.stack(grads).norm())


class _GradientNorms(pl.Callback):
    """Gradient norm before it is clipped and when the module's optimiser steps.

    Only the module's optimiser counts: SCMDCF with batches also steps an adversarial
    classifier's.
    """

    def __init__(self):
        self.before, self.at_step = [], []

    def on_train_start(self, trainer, pl_module):
        record = lambda *_: self.at_step.append(_gradient_norm(pl_module.module))  # noqa: E731
        trainer.optimizers[0].register_step_post_hook(record)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        if optimizer is trainer.optimizers[0]:
            self.before.append(_gradient_norm(pl_module.module))


# With batches SCMDCF trains an adversarial batch classifier, whose manual optimisation its
# training plan clips itself (Lightning clips only automatic optimisation).
@pytest.mark.parametrize("setup_kwargs", [{}, {"batch_key": "batch"}], ids=["one", "batches"])
def test_gradient_clipping_through_trainer_kwargs(case, setup_kwargs):
    norms = _GradientNorms()
    model = case.model(**setup_kwargs)
    case.fit(model, max_epochs=1, gradient_clip_val=0.01, callbacks=[norms])
    assert len(norms.at_step) == len(norms.before) > 0
    assert max(norms.before) > 0.01  # clipping had work to do
    assert max(norms.at_step) <= 0.01 * (1 + 1e-4)


def test_same_seed_gives_the_same_latent(case):
    first = case.fit(case.model()).get_latent_representation()
    second = case.fit(case.model()).get_latent_representation()
    np.testing.assert_array_equal(first, second)


# ---------------------------------------------------------------------------- resuming


class _StopAfter(pl.Callback):
    """Interrupt training at the end of an epoch."""

    def __init__(self, n_epochs):
        self.n_epochs = n_epochs

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch + 1 == self.n_epochs:
            trainer.should_stop = True


# SCMDCF: the clustering phase starts at the resumed epoch. BICLUM: the pairs refreshed at
# epoch 1 are used in epoch 2, so they must come back from the checkpoint.
RESUME = {
    SCMDCF: {"n_epochs_pretrain": 2},
    BICLUM: {"mnn_refresh_every": 2, "mnn_refresh_start": 1},
}


class _PairsAtStart(pl.Callback):
    """BICLUM's positive pairs when the first epoch of a (resumed) run starts."""

    def __init__(self, model):
        self.model, self.pairs = model, None

    def on_train_epoch_start(self, trainer, pl_module):
        if self.pairs is None:
            self.pairs = self.model.mnn_pairs_.copy()


def _resumed(case, folder):
    """Models trained 4 epochs in one go, interrupted after 2, and resumed from there."""
    kwargs = RESUME[case.cls]
    uninterrupted = case.fit(case.model(), max_epochs=4, **kwargs)
    checkpoint = TrainingCheckpoint(folder)
    interrupted = case.model()
    case.fit(interrupted, max_epochs=4, callbacks=[checkpoint, _StopAfter(2)], **kwargs)
    resumed = case.model()
    pairs = _PairsAtStart(resumed) if case.cls is BICLUM else None
    callbacks = [pairs] if pairs else []
    case.fit(resumed, max_epochs=4, ckpt_path=checkpoint.last_path, callbacks=callbacks, **kwargs)
    return uninterrupted, interrupted, resumed, pairs and pairs.pairs


def test_resumed_training_continues_epochs_and_state(case, tmp_path):
    _, interrupted, resumed, pairs_at_resume = _resumed(case, tmp_path)
    assert (tmp_path / LAST_CHECKPOINT).is_file()
    assert list(interrupted.history["train_loss"].index) == [0, 1]
    assert resumed.trainer.current_epoch == 4
    assert list(resumed.history["train_loss"].index) == [2, 3]
    if case.cls is BICLUM:  # the pairs of the interrupted run's last refresh came back
        assert not np.array_equal(interrupted.mnn_pairs_, interrupted.initial_mnn_pairs_)
        np.testing.assert_array_equal(pairs_at_resume, interrupted.mnn_pairs_)


def test_resumed_training_matches_the_uninterrupted_run(case, tmp_path):
    uninterrupted, _, resumed, _ = _resumed(case, tmp_path)
    np.testing.assert_array_equal(
        resumed.get_latent_representation(), uninterrupted.get_latent_representation()
    )


def test_a_second_train_continues_with_clustering_on(caplog):
    model = SCMDCF_CASE.fit(SCMDCF_CASE.model(), max_epochs=2, n_epochs_pretrain=1)
    centers = model.module.dec.centers.detach().clone()
    with caplog.at_level(logging.INFO, logger="scvi_contrastive.model.scmdcf"):
        SCMDCF_CASE.fit(model, max_epochs=2, n_epochs_pretrain=1)
    assert "already trained: this call continues" in caplog.text
    assert not np.allclose(model.module.dec.centers.detach(), centers)  # trained on, not reset
    # The clustering term: epoch 1 of the first call, then every epoch of the second.
    assert list(model.history["clustering_train"].index) == [1, 2, 3]
    for name, frame in model.history.items():
        assert frame.index.is_unique and frame.index.is_monotonic_increasing, name
    assert list(model.history["train_loss"].index) == [0, 1, 2, 3]
