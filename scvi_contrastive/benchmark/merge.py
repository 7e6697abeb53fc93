"""Combine benchmark results measured in pieces into one report.

The full grid runs as several invocations (one data set with all its peers and seeds each).
``python -m scvi_contrastive.benchmark --append --out DIR`` adds a run to an existing folder;
``python -m scvi_contrastive.benchmark.merge DIR_A DIR_B --out DIR`` merges finished folders.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import shutil
from pathlib import Path

from scvi_contrastive.benchmark.peers import OURS
from scvi_contrastive.benchmark.report import write_report

logger = logging.getLogger(__name__)

#: Per data set files a run writes next to ``results.json``.
FIGURE_PATTERNS = ("scib_{}.png", "umap_{}.png", "embeddings_{}.h5ad")


def empty_report() -> dict:
    """A report without runs or data sets."""
    return {"runs": [], "datasets": []}


def read_report(folder: str | os.PathLike) -> dict:
    """Read ``results.json`` of a results folder.

    Raises
    ------
    FileNotFoundError
        When the folder holds no ``results.json``.

    """
    path = Path(folder) / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: `folder` must be a benchmark output.")
    report = json.loads(path.read_text())
    if "runs" not in report:  # written before runs were recorded one by one
        report["runs"] = [report.pop("settings", {})]
    return report


def upsert_record(records: list[dict], record: dict) -> None:
    """Add a method's row for one seed, replacing an earlier row of the same method and seed."""
    key = (record["method"], record.get("seed", 0))
    for i, old in enumerate(records):
        if (old["method"], old.get("seed", 0)) == key:
            records[i] = record
            return
    records.append(record)


def check_same_cells(old: dict, new: dict) -> None:
    """Raise ``ValueError`` unless two entries of a data set were measured on as many cells."""
    if old["n_cells"] != new["n_cells"]:
        raise ValueError(
            f"{new['name']} was measured on {old['n_cells']} cells before and on "
            f"{new['n_cells']} now: use the same --n-cells to combine them, or another --out."
        )


def merge_entry(target: dict, entry: dict) -> None:
    """Merge a data set's entry into ``target`` (same data set); ``entry`` wins on conflicts.

    Raises
    ------
    ValueError
        When the two were measured on different numbers of cells.

    """
    check_same_cells(target, entry)
    for record in entry["methods"]:
        upsert_record(target["methods"], record)
    if entry.get("scib"):
        rows = {**(target.get("scib") or {}).get("table", {}), **entry["scib"]["table"]}
        seeds = {**(target.get("scib") or {}).get("seeds", {}), **entry["scib"].get("seeds", {})}
        target["scib"] = {**entry["scib"], "table": rows, "seeds": seeds}
    target["umap_png"] = entry.get("umap_png") or target.get("umap_png")


def merge_reports(reports: list[dict]) -> dict:
    """Merge reports in order: later rows of the same data set, method and seed win."""
    merged = empty_report()
    for report in reports:
        merged["runs"] += report["runs"]
        for entry in report["datasets"]:
            target = next((d for d in merged["datasets"] if d["name"] == entry["name"]), None)
            if target is None:
                merged["datasets"].append(copy.deepcopy(entry))
            else:
                merge_entry(target, entry)
    return merged


def merge_folders(folders: list[str | os.PathLike], out: str | os.PathLike) -> dict:
    """Merge the results of several benchmark folders into ``out`` and write its report.

    Figures and embeddings are copied per data set from the last folder holding them. A data
    set measured in several folders gets the union of their scib-metrics rows, but the
    scib-metrics and UMAP figures of the last folder only: to have all methods in one figure,
    run the pieces into one folder with ``--append`` instead.

    Parameters
    ----------
    folders
        Benchmark output folders, in order (later ones win on the same method and seed).
    out
        Output folder (may be one of ``folders``).

    Returns
    -------
    The merged report.

    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    reports = [read_report(folder) for folder in folders]
    for folder, report in zip(folders, reports, strict=True):
        for entry in report["datasets"]:
            for pattern in FIGURE_PATTERNS:
                source = Path(folder) / pattern.format(entry["name"])
                target = out / source.name
                if source.is_file() and source.resolve() != target.resolve():
                    shutil.copyfile(source, target)
    merged = merge_reports(reports)
    write_report(merged, out, OURS)
    return merged


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m scvi_contrastive.benchmark.merge DIR ... --out DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m scvi_contrastive.benchmark.merge",
        description="Merge benchmark result folders into one report.",
    )
    parser.add_argument("folders", nargs="+", help="benchmark output folders, in order")
    parser.add_argument("--out", required=True, help="folder of the merged report")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    merge_folders(args.folders, args.out)


if __name__ == "__main__":
    main()
