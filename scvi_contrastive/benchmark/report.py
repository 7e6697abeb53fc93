"""Write a benchmark run's results: ``results.json``, ``results.csv`` and ``summary.md``."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import pandas as pd

from scvi_contrastive.benchmark.scoring import LOWER_IS_BETTER

logger = logging.getLogger(__name__)

#: Score columns shown in the summary tables, in order, with their headers.
SUMMARY_METRICS = {
    "leiden_ari": "Leiden ARI",
    "kmeans_ari": "KMeans ARI",
    "leiden_nmi": "Leiden NMI",
    "own_clusters_ari": "own clusters ARI",
    "silhouette_label": "silhouette",
    "foscttm": "FOSCTTM",
    "label_transfer_accuracy": "label transfer acc.",
    "omics_mixing": "omics mixing",
}


def results_frame(report: dict) -> pd.DataFrame:
    """One row per data set and method: cost, status and every score."""
    rows = []
    for data in report["datasets"]:
        for method in data["methods"]:
            row = {"dataset": data["name"], **{k: v for k, v in method.items() if k != "scores"}}
            row["settings"] = json.dumps(method.get("settings", {}), default=str)
            row.update(method.get("scores", {}))
            rows.append(row)
    return pd.DataFrame(rows)


def _clean(value):
    """JSON-safe value: NaN/inf become ``None``, numpy scalars become Python ones."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _method_table(methods: list[dict], metrics: list[str]) -> list[str]:
    head = ["method", "status", "time (s)", "peak RAM (MiB)", "epochs", "device"]
    head += [SUMMARY_METRICS[m] for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in methods:
        scores = m.get("scores", {})
        cells = [
            m["method"],
            m["status"],
            _fmt(m["train_time_s"], 1),
            _fmt(m["peak_memory_mb"], 0),
            _fmt(m["n_epochs"]),
            m["device"] or "-",
        ]
        cells += [_fmt(scores.get(k)) for k in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _ratio(ours, peer) -> str:
    if ours is None or peer is None or not all(map(math.isfinite, (ours, peer))) or peer == 0:
        return "-"
    return f"{ours / peer:.2f}"


def _ratio_table(ours: dict, peers: list[dict], metrics: list[str]) -> list[str]:
    head = ["peer", "time"] + [SUMMARY_METRICS[m] for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for peer in peers:
        cells = [peer["method"], _ratio(ours["train_time_s"], peer["train_time_s"])]
        cells += [_ratio(ours["scores"].get(k), peer["scores"].get(k)) for k in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _dataset_section(data: dict, ours_name: str) -> list[str]:
    kind = "paired" if data["paired"] else "unpaired"
    cells = " + ".join(f"{n} {mod}" for mod, n in data["cells_per_modality"].items())
    lines = [f"## {data['name']} ({kind}; cells: {cells}; {data['n_labels'] or 'no'} labels)", ""]
    methods = data["methods"]
    metrics = [k for k in SUMMARY_METRICS if any(k in m.get("scores", {}) for m in methods)]
    lines += [*_method_table(methods, metrics), ""]
    for m in methods:
        scored = m.get("scores", {}).get("n_cells_scored")
        if scored is not None:
            lines.append(
                f"{m['method']}: scored on the {scored} cells it embedded ({m['settings']})."
            )
    ours = next((m for m in methods if m["method"] == ours_name), None)
    peers = [m for m in methods if m["method"] != ours_name and m["status"] == "ok"]
    if ours is None:
        lines.append(f"Ours ({ours_name}) was not part of this run: no ratios.")
    elif ours["status"] != "ok":
        lines.append(f"Ours ({ours_name}): {ours['status']}: no ratios.")
    elif peers:
        lines.append(
            f"Ratios ours ({ours_name}) / peer (time and FOSCTTM: below 1 is better; "
            "other scores: above 1 is better):"
        )
        lines += ["", *_ratio_table(ours, peers, [k for k in metrics if k in ours["scores"]])]
    scib = data.get("scib")
    if scib:
        lines += [
            "",
            f"scib-metrics table: `{scib['png']}`"
            + (f" ({scib['note']})" if scib["note"] else ""),
        ]
    if data.get("umap_png"):
        lines.append(f"UMAPs: `{data['umap_png']}`")
    return [*lines, ""]


def write_report(report: dict, out: str | os.PathLike, ours: dict[str, str]) -> dict[str, Path]:
    """Write ``results.json``, ``results.csv`` and ``summary.md`` into ``out``.

    Parameters
    ----------
    report
        ``{"settings": {...}, "datasets": [{"name", "paired", "n_cells", "n_labels",
        "methods": [{record..., "scores": {...}}], "scib": ..., "umap_png": ...}]}``.
    out
        Output folder.
    ours
        ``{"paired": model name, "unpaired": model name}``: the rows ratios are computed for.

    Returns
    -------
    Paths of the written files.

    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "csv": out / "results.csv", "md": out / "summary.md"}
    paths["json"].write_text(json.dumps(_clean(report), indent=2, default=str))
    results_frame(report).to_csv(paths["csv"], index=False)
    settings = report["settings"]
    lines = [
        "# Benchmark summary",
        "",
        "Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()),
        "",
        "Time is training only. The machine's 1-minute load average at each method's start "
        "is in `results.csv` (`load_avg_1min`): above the core count, timings are inflated "
        f"by other processes. {', '.join(sorted(LOWER_IS_BETTER))}: lower is better.",
        "",
    ]
    for data in report["datasets"]:
        lines += _dataset_section(data, ours["paired" if data["paired"] else "unpaired"])
    paths["md"].write_text("\n".join(lines))
    for path in paths.values():
        logger.info("Wrote %s", path)
    return paths
