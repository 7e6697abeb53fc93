"""Smoke test of the side-by-side runner on one real data set (``--quick``)."""

import json
import math

import pandas as pd
import pytest

from scvi_contrastive.benchmark.__main__ import main

MODELS = ["SCMDCF", "TOTALVI", "scMDCF-original", "WNN", "RNA-PCA", "GLUE"]
IN_UNIT_RANGE = ("leiden_nmi", "kmeans_nmi", "silhouette_label", "clisi", "own_clusters_nmi")
IN_ARI_RANGE = ("leiden_ari", "kmeans_ari", "own_clusters_ari")


@pytest.mark.slow
def test_quick_run_writes_every_output(tmp_path):
    out = tmp_path / "results"
    main(["--dataset", "cbmc_cite", "--models", *MODELS, "--quick", "--out", str(out)])

    for name in (
        "results.json",
        "results.csv",
        "summary.md",
        "scib_cbmc_cite.png",
        "umap_cbmc_cite.png",
        "embeddings_cbmc_cite.h5ad",
    ):
        assert (out / name).stat().st_size > 0, name

    report = json.loads((out / "results.json").read_text())
    (data,) = report["datasets"]
    rows = {m["method"]: m for m in data["methods"]}
    assert list(rows) == MODELS  # every requested row is there, in order
    assert rows["GLUE"]["status"].startswith("not applicable")
    for name in ("TOTALVI", "WNN", "RNA-PCA"):
        row = rows[name]
        assert row["status"] == "ok", row["status"]
        assert row["train_time_s"] > 0
        scores = row["scores"]
        assert math.isfinite(scores["leiden_ari"])
        for key in IN_ARI_RANGE:
            if scores.get(key) is not None:
                assert -1.0 <= scores[key] <= 1.0, (name, key)
        for key in IN_UNIT_RANGE:
            if scores.get(key) is not None:
                assert 0.0 <= scores[key] <= 1.0, (name, key)
    assert rows["TOTALVI"]["n_epochs"] == 5
    # setup (registration and construction) is timed apart from training, per epoch as well
    assert rows["TOTALVI"]["setup_time_s"] > 0
    assert rows["TOTALVI"]["time_per_epoch_s"] == pytest.approx(
        rows["TOTALVI"]["train_time_s"] / 5
    )
    assert rows["RNA-PCA"]["setup_time_s"] is None  # no model to set up
    assert rows["RNA-PCA"]["scores"]["leiden_ari"] > 0.3
    assert rows["WNN"]["scores"]["kmeans_ari"] is None  # a graph, no embedding

    table = pd.read_csv(out / "results.csv")
    assert set(table["method"]) == set(MODELS)
    summary = (out / "summary.md").read_text()
    assert "## cbmc_cite" in summary and "TOTALVI" in summary and "setup (s)" in summary
    assert data["scib"]["table"]["TOTALVI"]["Bio conservation"] > 0


@pytest.mark.slow
def test_quick_multiome_runs_multivi_and_biclum(tmp_path):
    out = tmp_path / "results"
    datasets = ["pbmc_multiome", "pbmc_multiome_unpaired"]
    models = ["SCMDCF", "MULTIVI", "BICLUM", "GeneActivity-PCA"]
    main(["--dataset", *datasets, "--models", *models, "--quick", "--out", str(out)])

    report = json.loads((out / "results.json").read_text())
    paired, unpaired = report["datasets"]
    rows = {m["method"]: m for m in paired["methods"]}
    assert rows["BICLUM"]["status"].startswith("not applicable")
    for name in ("SCMDCF", "MULTIVI"):
        scores = rows[name]["scores"]
        assert rows[name]["status"] == "ok", rows[name]["status"]
        # Marker-derived labels: ambiguous cells are left out of the scores.
        assert 0 < scores["n_cells_labelled"] < 600
        assert -1.0 <= scores["leiden_ari"] <= 1.0
    assert paired["n_labels"] == 4

    rows = {m["method"]: m for m in unpaired["methods"]}
    assert rows["MULTIVI"]["status"].startswith("not applicable")
    for name in ("BICLUM", "GeneActivity-PCA"):
        scores = rows[name]["scores"]
        assert rows[name]["status"] == "ok", rows[name]["status"]
        assert 0.0 <= scores["foscttm"] <= 1.0
        assert 0.0 <= scores["label_transfer_accuracy"] <= 1.0
    # BICLUM's setup (joint PCA, anchors, metacells) is reported apart from its training
    assert rows["BICLUM"]["setup_time_s"] > 0
    assert (out / "umap_pbmc_multiome_unpaired.png").stat().st_size > 0
