"""The embed-then-act schedule shared by SCMDCF (weights, DEC start) and BICLUM (pairs)."""

from types import SimpleNamespace

import pytest
import torch

from scvi_contrastive.module.fusion import ContrastiveFusionModule
from scvi_contrastive.train import ContrastiveFusionTrainingPlan, MNNRefresh, ScheduledRefresh


def _run(callback, n_epochs):
    """Epochs at whose start the callback acted, then whether it acted at the end."""
    for epoch in range(n_epochs):
        callback.on_train_epoch_start(SimpleNamespace(current_epoch=epoch), None)
    callback.on_train_end(SimpleNamespace(current_epoch=n_epochs - 1), None)


def test_scheduled_refresh_runs_on_due_epochs_and_at_the_end_when_asked():
    calls = []
    callback = ScheduledRefresh(
        lambda trainer, final: calls.append((trainer.current_epoch, final)),
        due=lambda trainer: trainer.current_epoch % 3 == 1,
        due_at_end=lambda trainer: True,
    )
    _run(callback, 8)
    assert calls == [(1, False), (4, False), (7, False), (7, True)]


def test_scheduled_refresh_keeps_torch_threads():
    threads = torch.get_num_threads()
    callback = ScheduledRefresh(
        lambda trainer, final: torch.set_num_threads(max(1, threads + 1)), lambda trainer: True
    )
    _run(callback, 1)
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize(
    ("every", "start", "expected"), [(5, 5, [5, 10]), (2, 1, [1, 3, 5, 7, 9, 11]), (0, 0, [])]
)
def test_mnn_refresh_schedule(every, start, expected):
    epochs = []
    callback = MNNRefresh(lambda: epochs.append(len(epochs)), every=every, start=start)
    for epoch in range(12):
        before = len(epochs)
        callback.on_train_epoch_start(SimpleNamespace(current_epoch=epoch), None)
        if len(epochs) > before:
            epochs[-1] = epoch
    callback.on_train_end(SimpleNamespace(current_epoch=11), None)
    assert epochs == expected


def test_mnn_refresh_rejects_negative_schedule():
    with pytest.raises(ValueError, match="non-negative"):
        MNNRefresh(lambda: None, every=-1)


def test_fusion_plan_reweighs_in_the_warm_up_then_starts_the_clustering_phase_once():
    module = ContrastiveFusionModule({"rna": 20, "protein": 8}, n_latent=4)
    plan = ContrastiveFusionTrainingPlan(module, n_epochs_pretrain=8, n_weight_refreshes=4)
    assert [e for e in range(12) if plan.refresh_due(e)] == [0, 2, 4, 6, 8, 9, 10, 11]
    module.dec.set_centers(torch.zeros(3, module.n_joint))
    assert not any(plan.refresh_due(e) for e in range(12))
    attention = ContrastiveFusionModule({"rna": 20, "protein": 8}, n_latent=4, fusion="attention")
    plan = ContrastiveFusionTrainingPlan(attention, n_epochs_pretrain=8)
    assert [e for e in range(10) if plan.refresh_due(e)] == [8, 9]
