"""Results measured in pieces merge into one report."""

import json

import pytest

from scvi_contrastive.benchmark.merge import main, merge_reports, read_report
from scvi_contrastive.benchmark.peers import OURS
from scvi_contrastive.benchmark.report import write_report


def _row(method, seed, ari):
    return {
        "method": method,
        "seed": seed,
        "status": "ok",
        "train_time_s": 1.0,
        "scores": {"leiden_ari": ari},
    }


def _report(name, rows, n_cells=100, scib=None):
    entry = {
        "name": name,
        "paired": True,
        "n_cells": n_cells,
        "cells_per_modality": {"rna": n_cells, "prot": n_cells},
        "n_labels": 3,
        "label_columns": ["cell_type"],
        "methods": rows,
        "scib": scib,
        "umap_png": None,
    }
    return {"runs": [{"datasets": [name]}], "datasets": [entry]}


def test_later_rows_of_the_same_method_and_seed_win():
    first = _report("a", [_row("WNN", 0, 0.1), _row("SCMDCF", 0, 0.2)])
    second = _report("a", [_row("SCMDCF", 0, 0.5), _row("SCMDCF", 1, 0.6)])
    merged = merge_reports([first, second])
    assert len(merged["runs"]) == 2
    (entry,) = merged["datasets"]
    rows = [(r["method"], r["seed"], r["scores"]["leiden_ari"]) for r in entry["methods"]]
    assert rows == [("WNN", 0, 0.1), ("SCMDCF", 0, 0.5), ("SCMDCF", 1, 0.6)]
    assert first["datasets"][0]["methods"][1]["scores"]["leiden_ari"] == 0.2  # inputs unchanged


def test_scib_rows_are_united():
    first = _report("a", [], scib={"png": "x.png", "note": "", "table": {"WNN": {"Total": 0.4}}})
    second = _report(
        "a", [], scib={"png": "x.png", "note": "", "table": {"SCMDCF": {"Total": 0.5}}}
    )
    (entry,) = merge_reports([first, second])["datasets"]
    assert entry["scib"]["table"] == {"WNN": {"Total": 0.4}, "SCMDCF": {"Total": 0.5}}


def test_different_cell_counts_refuse_to_merge():
    with pytest.raises(ValueError, match="--n-cells"):
        merge_reports([_report("a", [], n_cells=100), _report("a", [], n_cells=200)])


def test_merge_folders_from_the_command_line(tmp_path):
    write_report(_report("a", [_row("SCMDCF", 0, 0.3)]), tmp_path / "a", OURS)
    write_report(_report("b", [_row("SCMDCF", 0, 0.4)]), tmp_path / "b", OURS)
    (tmp_path / "b" / "umap_b.png").write_bytes(b"png")
    main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "all")])
    report = read_report(tmp_path / "all")
    assert [d["name"] for d in report["datasets"]] == ["a", "b"]
    assert (tmp_path / "all" / "umap_b.png").read_bytes() == b"png"
    summary = (tmp_path / "all" / "summary.md").read_text()
    assert "## a (" in summary and "## b (" in summary


def test_reports_written_before_seeds_read_as_one_run(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"settings": {"seed": 0}, "datasets": []}))
    assert read_report(tmp_path)["runs"] == [{"seed": 0}]
    with pytest.raises(FileNotFoundError, match="benchmark output"):
        read_report(tmp_path / "missing")
