"""The runner reports every method's row, whatever happened to it."""

import numpy as np
import pytest

from scvi_contrastive.benchmark import runner
from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.peers import MethodNotAvailable, RunSettings
from scvi_contrastive.benchmark.result import MethodResult, measure_setup, measure_training
from scvi_contrastive.benchmark.scoring import score_result


@pytest.fixture
def tiny_dataset():
    return BenchmarkDataset("tiny", mdata=None, modalities=("rna", "prot"), paired=True)


@pytest.mark.parametrize(
    ("error", "prefix"),
    [
        (ImportError("No module named 'scMDCF'", name="scMDCF"), "not installed"),
        (MethodNotAvailable("not written yet"), "not available"),
        (RuntimeError("boom"), "failed: RuntimeError: boom"),
    ],
)
def test_run_method_turns_errors_into_status(monkeypatch, tiny_dataset, error, prefix):
    def adapter(dataset, settings):
        raise error

    monkeypatch.setattr(runner, "get_adapter", lambda name: (name, adapter))
    result = runner.run_method("X", tiny_dataset, RunSettings())
    assert not result.ok
    assert result.status.startswith(prefix)
    if prefix == "not installed":
        assert "pip install scmdcf --no-deps" in result.status


def test_unpaired_scores_with_known_pairs():
    rng = np.random.default_rng(0)
    n = 100
    labels = np.repeat(np.array(["a", "b"]), n // 2)
    rna = rng.normal(size=(n, 4)) + 10 * (labels == "a")[:, None]
    shuffle = rng.permutation(n)
    embedding = np.vstack([rna, rna[shuffle]])  # the other modality's row j is RNA cell shuffle[j]

    class Obs:
        n_obs = 2 * n

    dataset = BenchmarkDataset(
        "pairs",
        mdata=Obs(),
        modalities=("rna", "atac"),
        paired=False,
        labels=np.concatenate([labels, labels[shuffle]]),
        cell_modality=np.array(["rna"] * n + ["atac"] * n),
        true_pairs=(np.arange(n), n + np.argsort(shuffle)),
    )
    scores = score_result(dataset, MethodResult("perfect", embedding=embedding))
    assert scores["foscttm"] == 0.0
    assert scores["label_transfer_accuracy"] == 1.0
    assert scores["omics_mixing"] > 0.8


def test_measure_setup_records_time_apart_from_training():
    with measure_setup() as setup:
        np.ones((1000, 1000)).sum()
    result = setup.apply(MethodResult("x", train_time_s=2.0, n_epochs=4))
    assert result.setup_time_s > 0
    assert result.record()["setup_time_s"] == result.setup_time_s
    assert result.record()["time_per_epoch_s"] == 0.5
    assert MethodResult("no epochs").record()["time_per_epoch_s"] is None


def test_measure_training_records_time():
    with measure_training() as cost:
        np.ones((1000, 1000)).sum()
    result = cost.apply(MethodResult("x"))
    assert result.train_time_s > 0
    assert result.peak_memory_mb >= 0
