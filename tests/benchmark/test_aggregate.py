"""Rows of several seeds aggregate into mean, sample SD and the worst seed."""

import math

import numpy as np
import pytest

from scvi_contrastive.benchmark.aggregate import seed_stats, summarize_methods


def _row(method, seed, status="ok", time=10.0, **scores):
    return {
        "method": method,
        "seed": seed,
        "status": status,
        "train_time_s": time,
        "n_epochs": 100,
        "scores": scores,
    }


def test_seed_stats_mean_sample_sd_and_worst():
    values = [0.5, 0.7, 0.9]
    stats = seed_stats(values)
    assert stats.mean == pytest.approx(0.7)
    assert stats.sd == pytest.approx(np.std(values, ddof=1))
    assert stats.worst == 0.5 and stats.n == 3
    assert seed_stats(values, lower_is_better=True).worst == 0.9


def test_one_seed_has_no_sd_and_nothing_finite_gives_none():
    assert math.isnan(seed_stats([0.3]).sd)
    assert seed_stats([None, float("nan")]) is None


def test_summaries_group_by_method_and_skip_failed_seeds():
    records = [
        _row("SCMDCF", 0, leiden_ari=0.8, foscttm=0.10),
        _row("RNA-PCA", 0, leiden_ari=0.6),
        _row("SCMDCF", 1, leiden_ari=0.6, foscttm=0.30, time=30.0),
        _row("RNA-PCA", 1, status="failed: RuntimeError: boom"),
        _row("SCMDCF", 2, leiden_ari=0.7, foscttm=0.20, time=20.0),
    ]
    ours, pca = summarize_methods(records)
    assert (ours.method, pca.method) == ("SCMDCF", "RNA-PCA")
    assert ours.seeds == [0, 1, 2] and ours.status == "ok"
    ari = ours.get("leiden_ari")
    assert (ari.mean, ari.worst, ari.n) == (pytest.approx(0.7), 0.6, 3)
    assert ari.sd == pytest.approx(0.1)
    assert ours.get("foscttm").worst == 0.30  # lower is better: the worst seed is the largest
    assert ours.get("train_time_s").mean == pytest.approx(20.0)
    assert pca.ok and pca.get("leiden_ari").n == 1
    assert pca.status == "ok on 1/2 seeds; seed 1: failed: RuntimeError: boom"


def test_a_method_that_failed_on_every_seed_is_not_ok():
    (summary,) = summarize_methods([_row("GLUE", 0, status="not installed: scglue")])
    assert not summary.ok
    assert summary.status == "seed 0: not installed: scglue"
    assert summary.get("leiden_ari") is None
