"""The scaling benchmark: its timing arithmetic, and a real quick run in subprocesses."""

import json
import math

import pytest

from scvi_contrastive.benchmark.scaling import MODELS, QUICK_SIZES, main, measure
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
