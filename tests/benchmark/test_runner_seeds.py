"""A multi-seed run on a real set with batches, then a run appended to its folder.

scib-metrics itself is replaced by a recording stand-in: its batch metrics compile one jax
kernel per cell type (minutes on 21 types), and ``tests/benchmark/test_metrics.py`` already runs
them. What is tested here is what the runner hands it.
"""

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from scvi_contrastive.benchmark import embedding_store
from scvi_contrastive.benchmark.__main__ import main
from scvi_contrastive.benchmark.datasets import load_dataset

N_CELLS = 200


class _RecordedScib:
    """What :func:`~scvi_contrastive.benchmark.metrics.scib_table` returns, with fixed scores."""

    note = ""
    batch_metrics = True

    def __init__(self, methods):
        scores = {"Bio conservation": 0.6, "Batch correction": 0.4, "Total": 0.52}
        self.results = pd.DataFrame(scores, index=methods)

    def save_plot(self, path):
        path.write_bytes(b"png")


@pytest.fixture
def scib_calls(monkeypatch):
    calls = []

    def scib_table(adata, keys, label_key, batch_key=None, pre_integrated_key=None):
        calls.append(
            {"adata": adata, "keys": keys, "batch_key": batch_key, "pre": pre_integrated_key}
        )
        return _RecordedScib(keys)

    monkeypatch.setattr(embedding_store, "scib_table", scib_table)
    return calls


@pytest.mark.slow
def test_seeds_aggregate_and_a_later_run_appends(tmp_path, scib_calls):
    out = tmp_path / "results"
    common = ["--dataset", "bmmc_multiome_500", "--n-cells", str(N_CELLS), "--threads", "1"]
    common += ["--max-epochs", "2", "--out", str(out)]
    main([*common, "--models", "RNA-PCA", "SCMDCF", "--seeds", "0", "1"])

    (data,) = json.loads((out / "results.json").read_text())["datasets"]
    rows = data["methods"]
    assert [(r["method"], r["seed"]) for r in rows] == [
        ("RNA-PCA", 0),
        ("SCMDCF", 0),
        ("RNA-PCA", 1),
        ("SCMDCF", 1),
    ]
    for row in rows:
        assert row["status"] == "ok", row["status"]
        assert row["torch_threads"] == 1
        assert row["wall_time_s"] >= row["train_time_s"] > 0
        assert row["load_avg_1min_start"] >= 0 and row["load_avg_1min_end"] >= 0
    assert all(r["settings"]["batch_key"] == "batch" for r in rows if r["method"] == "SCMDCF")
    assert data["batch_key"] == "batch" and data["n_cells"] == N_CELLS

    aris = [r["scores"]["leiden_ari"] for r in rows if r["method"] == "SCMDCF"]
    cell = f"{np.mean(aris):.3f} ± {np.std(aris, ddof=1):.3f} ({min(aris):.3f})"
    summary = (out / "summary.md").read_text()
    assert cell in summary
    assert "## Targets (SCMDCF, issue 11)" in summary

    (call,) = scib_calls  # once, on the first seed
    assert call["keys"] == ["RNA-PCA", "SCMDCF"] and call["batch_key"] == "batch"
    assert call["adata"].obsm[call["pre"]].shape == (N_CELLS, 30)  # unintegrated RNA PCA
    # Every seed scored the same cells: the data subsample does not follow the method seed.
    expected = load_dataset("bmmc_multiome_500", n_cells=N_CELLS)
    np.testing.assert_array_equal(call["adata"].obs["batch"], expected.batch)
    assert data["scib"]["seeds"] == {"RNA-PCA": 0, "SCMDCF": 0}
    assert data["scib"]["table"]["SCMDCF"]["Total"] == 0.52
    assert "| SCMDCF | 0.600 | 0.400 | 0.520 |" in summary
    stored = ad.read_h5ad(out / f"embeddings_{data['name']}.h5ad")
    np.testing.assert_array_equal(stored.obs_names, expected.mdata.obs_names)
    assert dict(stored.uns["seeds"]) == {"RNA-PCA": 0, "SCMDCF": 0}

    main([*common, "--models", "RNA-PCA", "--seed", "2", "--append"])
    report = json.loads((out / "results.json").read_text())
    assert len(report["runs"]) == 2
    (data,) = report["datasets"]
    seeds = [(r["method"], r["seed"]) for r in data["methods"]]
    assert seeds == [("RNA-PCA", 0), ("SCMDCF", 0), ("RNA-PCA", 1), ("SCMDCF", 1), ("RNA-PCA", 2)]
    assert scib_calls[-1]["keys"] == ["RNA-PCA", "SCMDCF"]  # recomputed on all stored ones
    assert data["scib"]["seeds"] == {"RNA-PCA": 2, "SCMDCF": 0}
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 5 and set(table["seed"]) == {0, 1, 2}
