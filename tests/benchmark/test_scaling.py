"""The scaling benchmark: its timing arithmetic, and a real quick run in subprocesses."""

import json
import math

import mudata
import numpy as np
import pytest
from anndata.abc import CSRDataset

from scvi_contrastive.benchmark import synthetic
from scvi_contrastive.benchmark.scaling import MODELS, QUICK_SIZES, main, measure, run_scaling
from scvi_contrastive.benchmark.scaling_report import estimate_missing_epochs, write_outputs
from scvi_contrastive.benchmark.step_timer import StepTimer


def _timer(epoch_starts, first_step_starts, step_ends):
    timer = StepTimer()
    timer.epoch_starts, timer.first_step_starts = epoch_starts, first_step_starts
    timer.step_ends = step_ends
    return timer


def test_step_timer_keeps_epoch_start_work_out_of_the_epoch_and_extrapolates_a_partial_one():
    # The first epoch starts at t=0 and its first step at t=3 (3 s of epoch-start work), after
    # which 30 steps of 0.1 s follow a slow first one; the second epoch starts at t=10 and its
    # first step at t=12 (2 s of epoch-start work).
    first = [4.0 + 0.1 * i for i in range(30)]
    timer = _timer([0.0, 10.0], [3.0, 12.0], [first, [12.1, 12.2]])
    full = timer.first_epoch_costs(steps_per_epoch=30)
    assert full["epoch_s"] == pytest.approx(first[-1] - 3.0) and full["how"].startswith("measured")
    assert full["step_ms"] == pytest.approx(100.0)
    assert full["start_work_s"] == pytest.approx(3.0)
    partial = timer.first_epoch_costs(steps_per_epoch=300)
    assert partial["epoch_s"] == pytest.approx(30.0) and partial["how"].startswith("extrap")
    assert timer.boundary_s() == pytest.approx(2.0)
    assert math.isnan(_timer([0.0], [3.0], [first]).boundary_s())


def test_missing_epochs_are_estimated_from_the_largest_finished_size():
    rows = [
        {"model": "M", "n_cells": 1_000, "epoch_s": 1.0, "step_ms": 100.0, "steps_per_epoch": 10},
        {"model": "M", "n_cells": 10_000, "epoch_s": 5.0, "step_ms": 50.0, "steps_per_epoch": 100},
        {"model": "M", "n_cells": 100_000, "status": "stopped after 60 s while setting up"},
    ]
    estimate_missing_epochs(rows)
    assert rows[2]["epoch_s"] == pytest.approx(0.05 * 1_000)
    assert rows[2]["how"].startswith("estimated, not run")


def test_quick_run_measures_both_models_in_subprocesses(tmp_path):
    main(["--quick", "--out", str(tmp_path)])
    for name in ("scaling.json", "scaling.csv", "scaling.md", "scaling.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    report = json.loads((tmp_path / "scaling.json").read_text())
    rows = {(r["model"], r["n_cells"]): r for r in report["rows"]}
    assert set(rows) == {(m, n) for m in MODELS for n in QUICK_SIZES}
    for row in rows.values():
        assert row["status"] == "ok", row
        assert row["device"].startswith(("cpu", "cuda")), row
        # The quick epochs are short enough to be measured whole.
        assert row["how"].startswith("measured") and row["steps_timed"] == row["steps_per_epoch"]
        assert row["epoch_s"] > 0 and row["step_ms"] > 0
        assert row["start_work_s"] >= 0 and row["boundary_s"] >= 0
        assert row["peak_rss_mb"] >= row["data_rss_mb"] > 0 and row["baseline_rss_mb"] > 0
    small, large = QUICK_SIZES
    for model in MODELS:
        # Ten times the cells: about ten times the steps, and a longer epoch.
        ratio = rows[model, large]["steps_per_epoch"] / rows[model, small]["steps_per_epoch"]
        assert 7 <= ratio <= 11
        assert rows[model, large]["epoch_s"] > rows[model, small]["epoch_s"]


def test_report_is_rewritten_from_the_json_with_each_note_once(tmp_path):
    row = {"model": "M", "status": "ok", "epoch_s": 2.0, "setup_s": 1.0, "peak_rss_mb": 1024.0}
    rows = [
        {**row, "n_cells": 1_000, "how": "measured"},
        {**row, "n_cells": 10_000, "how": "measured", "epoch_s": 20.0, "peak_rss_mb": 3072.0},
        {"model": "M", "n_cells": 100_000, "status": "stopped after 9 s while setting up"},
    ]
    meta = {"machine": "test box", "limits per run": "9 s"}
    (tmp_path / "scaling.json").write_text(json.dumps({"meta": meta, "rows": rows}))
    main(["--report-only", "--out", str(tmp_path)])
    markdown = (tmp_path / "scaling.md").read_text()
    for line in ("- machine: test box", "- limits per run: 9 s"):
        assert markdown.count(line) == 1, markdown
    assert "- M, 1,000 to 10,000 cells: time/epoch x10.0, setup x1.0, peak RSS x3.0" in markdown
    assert "- M, 10,000 to 100,000 cells: not compared (stopped after 9 s" in markdown
    assert markdown.count("| M |") == 3 and (tmp_path / "scaling.png").stat().st_size > 0


def test_setup_only_measures_setup_without_training(tmp_path):
    row = measure("BICLUM", 1_000, setup_only=True)
    assert row["status"] == "ok" and row["setup_s"] > 0
    assert row["peak_rss_mb"] >= row["data_rss_mb"] > 0
    assert "epoch_s" not in row and "train_s" not in row
    # Rows without an epoch time still make a table and a plot (setup time on the time axis).
    table = write_outputs([row, {**row, "n_cells": 2_000}], tmp_path, {"training": "none"})
    assert math.isnan(table["epoch_s"].iloc[0])
    assert (tmp_path / "scaling.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("write", "build", "sparse_modalities"),
    [
        (synthetic.write_synthetic_paired, synthetic.synthetic_paired, ["rna"]),
        (synthetic.write_synthetic_unpaired, synthetic.synthetic_unpaired, ["rna", "atac"]),
    ],
)
def test_the_written_h5mu_holds_the_in_memory_data_set(
    tmp_path, monkeypatch, write, build, sparse_modalities
):
    # Several chunks of cells and several copy slices, so that the pieces must join up.
    monkeypatch.setattr(synthetic, "_CHUNK_CELLS", 300)
    monkeypatch.setattr(synthetic, "_COPY_VALUES", 10_000)
    path = write(tmp_path / "cells.h5mu", 1_001, seed=2)
    expected = build(1_001, seed=2)
    backed = mudata.read_h5mu(path, backed=True)
    written = mudata.read_h5mu(path)
    for name in sparse_modalities:
        assert isinstance(backed[name].X, CSRDataset)
        assert written[name].X.shape == expected[name].X.shape
        assert (written[name].X != expected[name].X).nnz == 0
    for name in set(expected.mod) - set(sparse_modalities):
        np.testing.assert_array_equal(written[name].X, expected[name].X)
    for name in expected.mod:
        assert list(written[name].obs_names) == list(expected[name].obs_names)
    assert list(written.obs_names) == list(expected.obs_names)
    assert list(written.obs["cell_type"]) == list(expected.obs["cell_type"])
    assert not list(tmp_path.glob("tmp*"))  # the raw chunk files are removed


def test_backed_runs_train_from_disk_and_append_to_earlier_rows(tmp_path):
    earlier = {"model": "SCMDCF", "status": "ok", "epoch_s": 1.0, "setup_s": 1.0}
    rows = [{**earlier, "n_cells": 300}, {**earlier, "n_cells": 300, "backed": True}]
    (tmp_path / "scaling.json").write_text(json.dumps({"meta": {"machine": "m"}, "rows": rows}))
    arguments = ["--sizes", "300", "--models", "SCMDCF", "--backed", "--max-steps", "3"]
    main([*arguments, "--append", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "scaling.json").read_text())
    assert report["meta"]["machine"] != "m" and "from disk" in report["meta"]
    kept, measured = report["rows"]
    # The earlier in-memory row is kept (rows of earlier versions were all in memory); the
    # earlier row from disk of the same size is replaced.
    assert {key: kept[key] for key in rows[0]} == rows[0] and not kept["backed"]
    assert measured["backed"] and measured["status"] == "ok", measured
    assert measured["latent_s"] > 0 and measured["load_start"] >= 0
    assert measured["peak_rss_mb"] >= measured["data_rss_mb"] > 0
    markdown = (tmp_path / "scaling.md").read_text()
    assert "| SCMDCF | 300 | memory |" in markdown and "| SCMDCF | 300 | disk |" in markdown
    with pytest.raises(ValueError, match="Unknown model"):
        run_scaling(tmp_path, sizes=[300], models=["TOTALVI"], backed=True)


def test_biclum_trains_from_disk_in_the_benchmark(tmp_path):
    row = measure("BICLUM", 600, max_steps=3, backed=True, data_dir=tmp_path)
    assert row["status"] == "ok" and row["backed"], row
    assert row["epoch_s"] > 0 and row["latent_s"] > 0
    assert row["peak_rss_mb"] >= row["data_rss_mb"] > 0
    assert (tmp_path / "synthetic_BICLUM_600_seed0.h5mu").exists()


def test_memory_and_disk_rows_are_separate_series(tmp_path):
    row = {"model": "M", "status": "ok", "setup_s": 1.0, "peak_rss_mb": 1024.0}
    rows = [
        {**row, "n_cells": 1_000, "epoch_s": 1.0, "step_ms": 10.0, "steps_per_epoch": 100},
        {**row, "n_cells": 10_000, "epoch_s": 10.0, "step_ms": 10.0, "steps_per_epoch": 1_000},
        {**row, "n_cells": 1_000, "backed": True, "epoch_s": 2.0, "step_ms": 20.0}
        | {"steps_per_epoch": 100},
        {**row, "n_cells": 10_000, "backed": True, "epoch_s": 30.0, "step_ms": 30.0}
        | {"steps_per_epoch": 1_000},
        {"model": "M", "n_cells": 100_000, "backed": True, "status": "stopped"},
    ]
    estimate_missing_epochs(rows)
    # Estimated from the largest finished run from disk, not from the one in memory.
    assert rows[4]["epoch_s"] == pytest.approx(0.03 * 10_000)
    write_outputs(rows, tmp_path, {})
    markdown = (tmp_path / "scaling.md").read_text()
    assert "- M, 1,000 to 10,000 cells: time/epoch x10.0" in markdown
    assert "- M from disk, 1,000 to 10,000 cells: time/epoch x15.0" in markdown
    assert "- M from disk, 10,000 to 100,000 cells: not compared (stopped)" in markdown
    assert markdown.count("| disk |") == 3 and markdown.count("| memory |") == 2
