"""Write a benchmark run's results: ``results.json``, ``results.csv`` and ``summary.md``."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import pandas as pd

from scvi_contrastive.benchmark.aggregate import MethodSummary, SeedStats, summarize_methods
from scvi_contrastive.benchmark.scoring import FINE_SUFFIX, LOWER_IS_BETTER
from scvi_contrastive.benchmark.targets import Target, applies, dataset_targets

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
#: Scores repeated against the fine labels where a set has them.
FINE_METRICS = (
    "leiden_ari",
    "kmeans_ari",
    "leiden_nmi",
    "own_clusters_ari",
    "label_transfer_accuracy",
)
#: scib-metrics' aggregate columns shown in the summary.
SCIB_COLUMNS = ("Bio conservation", "Batch correction", "Total")


def results_frame(report: dict) -> pd.DataFrame:
    """One row per data set, method and seed: cost, status, machine load and every score."""
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


def _stat(stats: SeedStats | None, digits: int = 3) -> str:
    """``mean ± SD (worst)`` over several seeds, the value alone for one seed."""
    if stats is None:
        return "-"
    if stats.n == 1:
        return _fmt(stats.mean, digits)
    return f"{stats.mean:.{digits}f} ± {stats.sd:.{digits}f} ({stats.worst:.{digits}f})"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _method_table(summaries: list[MethodSummary], metrics: list[str]) -> list[str]:
    head = ["method", "status", "seeds", "time (s)", "setup (s)", "epochs", "s / epoch"]
    head += ["peak RAM (MiB)", "device"]
    head += [SUMMARY_METRICS[m] for m in metrics]
    lines = [_row(head), "|" + "---|" * len(head)]
    for s in summaries:
        epochs, memory = s.get("n_epochs"), s.get("peak_memory_mb")
        cells = [
            s.method,
            s.status,
            " ".join(map(str, s.seeds)),
            _stat(s.get("train_time_s"), 1),
            _stat(s.get("setup_time_s"), 1),
            _fmt(None if epochs is None else epochs.mean, 0),
            _stat(s.get("time_per_epoch_s"), 2),
            _fmt(None if memory is None else memory.mean, 0),
            s.device or "-",
        ]
        lines.append(_row(cells + [_stat(s.get(k)) for k in metrics]))
    return lines


def _fine_table(summaries: list[MethodSummary], metrics: list[str]) -> list[str]:
    head = ["method"] + [SUMMARY_METRICS[m] for m in metrics]
    lines = [_row(head), "|" + "---|" * len(head)]
    for s in summaries:
        if s.ok:
            lines.append(_row([s.method] + [_stat(s.get(k + FINE_SUFFIX)) for k in metrics]))
    return lines


def _scib_section(scib: dict) -> list[str]:
    columns = [c for c in SCIB_COLUMNS if scib.get("batch_metrics") or c == SCIB_COLUMNS[0]]
    seeds = sorted(set(scib.get("seeds", {}).values()))
    lines = [
        f"scib-metrics (once per method, on seed {' / '.join(map(str, seeds)) or '-'}; batch: "
        f"`{scib.get('batch_key') or 'none'}`): `{scib['png']}`"
        + (f" ({scib['note']})" if scib["note"] else ""),
        "",
        _row(["method", *columns]),
        "|" + "---|" * (len(columns) + 1),
    ]
    for method, row in scib["table"].items():
        lines.append(_row([method] + [_fmt(row.get(c)) for c in columns]))
    return lines


def _ratio(ours: SeedStats | None, peer: SeedStats | None) -> str:
    if ours is None or peer is None or peer.mean == 0:
        return "-"
    return f"{ours.mean / peer.mean:.2f}"


def _ratio_table(ours: MethodSummary, peers: list[MethodSummary], metrics: list[str]) -> list[str]:
    head = ["peer", "time"] + [SUMMARY_METRICS[m] for m in metrics]
    lines = [_row(head), "|" + "---|" * len(head)]
    for peer in peers:
        cells = [peer.method, _ratio(ours.get("train_time_s"), peer.get("train_time_s"))]
        cells += [_ratio(ours.get(k), peer.get(k)) for k in metrics]
        lines.append(_row(cells))
    return lines


def _heading(data: dict) -> str:
    kind = "paired" if data["paired"] else "unpaired"
    cells = " + ".join(f"{n} {mod}" for mod, n in data["cells_per_modality"].items())
    columns = data.get("label_columns") or []
    labels = f"{data['n_labels'] or 'no'} labels"
    if columns:
        labels += f" `{columns[0]}`"
    elif data["n_labels"]:
        labels += " from marker genes"
    if data.get("n_fine_labels"):
        labels += f", {data['n_fine_labels']} fine `{columns[1]}`"
    batch = f"; batches: `{data['batch_key']}`" if data.get("batch_key") else ""
    return f"## {data['name']} ({kind}; cells: {cells}; {labels}{batch})"


def _ratio_lines(summaries: list[MethodSummary], ours_name: str, metrics: list[str]) -> list[str]:
    ours = next((s for s in summaries if s.method == ours_name), None)
    peers = [s for s in summaries if s.method != ours_name and s.ok]
    if ours is None:
        return [f"Ours ({ours_name}) was not part of this run: no ratios."]
    if not ours.ok:
        return [f"Ours ({ours_name}): {ours.status}: no ratios."]
    if not peers:
        return []
    return [
        f"Ratios of the means, ours ({ours_name}) / peer (time and FOSCTTM: below 1 is better; "
        "other scores: above 1 is better):",
        "",
        *_ratio_table(ours, peers, [k for k in metrics if ours.get(k) is not None]),
    ]


def _dataset_section(data: dict, summaries: list[MethodSummary], ours_name: str) -> list[str]:
    lines = [_heading(data), ""]
    metrics = [k for k in SUMMARY_METRICS if any(s.get(k) for s in summaries)]
    lines += [*_method_table(summaries, metrics), ""]
    fine = [k for k in FINE_METRICS if any(s.get(k + FINE_SUFFIX) for s in summaries)]
    if fine:
        columns = data.get("label_columns") or ["fine"]
        lines += [f"Fine labels (`{columns[-1]}`):", "", *_fine_table(summaries, fine), ""]
    for m in data["methods"]:
        scored = m.get("scores", {}).get("n_cells_scored")
        if scored is not None:
            lines.append(
                f"{m['method']} (seed {m.get('seed', 0)}): scored on the {scored} cells it "
                f"embedded ({m['settings']})."
            )
    lines += _ratio_lines(summaries, ours_name, metrics)
    if data.get("scib"):
        lines += ["", *_scib_section(data["scib"])]
    if data.get("umap_png"):
        lines += ["", f"UMAPs (first seed): `{data['umap_png']}`"]
    return [*lines, ""]


def _verdict(target: Target) -> str:
    if target.met is None:
        return f"not checked: {target.note}"
    return "met" if target.met else "**not met**"


def _targets_section(targets: list[Target], left_out: list[str], ours: str) -> list[str]:
    lines = [
        f"## Targets ({ours}, issue 11)",
        "",
        _row(["data set", "target", "ours", "reference", "from", "verdict"]),
        "|---|---|---|---|---|---|",
    ]
    for t in targets:
        digits = 1 if t.goal.startswith("training time") else 3
        cells = [t.dataset, t.goal, _fmt(t.ours, digits), _fmt(t.reference, digits)]
        lines.append(_row([*cells, t.reference_from, _verdict(t)]))
    checked = [t for t in targets if t.met is not None]
    lines += ["", f"Met: {sum(t.met for t in checked)} of {len(checked)} checked targets."]
    if len(checked) < len(targets):
        lines.append(f"Not checked: {len(targets) - len(checked)} (see the verdicts).")
    if left_out:
        lines.append(f"No targets (no shipped labels or not paired): {', '.join(left_out)}.")
    return [*lines, ""]


def summary_lines(report: dict, ours: dict[str, str]) -> list[str]:
    """The lines of ``summary.md``: one section per data set, then the targets block."""
    lines = ["# Benchmark summary", ""]
    for i, run in enumerate(report["runs"], start=1):
        lines.append(f"Run {i}: " + ", ".join(f"{k}={v}" for k, v in run.items()))
    lines += [
        "",
        "Each score cell: mean ± sample SD (worst seed) over the seeds listed; one figure when "
        "there is one seed. The worst seed is the lowest score (the highest for "
        f"{', '.join(sorted(LOWER_IS_BETTER))}, where lower is better). Time is training only. "
        "Every row of `results.csv` (one per method and seed) records its wall time, torch "
        "threads and the machine's 1-minute load average at its start and end "
        "(`load_avg_1min_start`, `load_avg_1min_end`): above the core count, timings are "
        "inflated by other processes. scib-metrics runs once per method, on the first seed.",
        "",
    ]
    targets, left_out = [], []
    for data in report["datasets"]:
        kind = "paired" if data["paired"] else "unpaired"
        summaries = summarize_methods(data["methods"])
        lines += _dataset_section(data, summaries, ours[kind])
        if applies(data):
            targets += dataset_targets(data, summaries, ours["paired"])
        else:
            left_out.append(data["name"])
    if targets:
        lines += _targets_section(targets, left_out, ours["paired"])
    return lines


def write_report(report: dict, out: str | os.PathLike, ours: dict[str, str]) -> dict[str, Path]:
    """Write ``results.json``, ``results.csv`` and ``summary.md`` into ``out``.

    Parameters
    ----------
    report
        ``{"runs": [{settings of each run}], "datasets": [{"name", "paired", "n_cells",
        "n_labels", "n_fine_labels", "label_columns", "batch_key", "methods": [{record...,
        "seed", "scores": {...}}], "scib": ..., "umap_png": ...}]}``.
    out
        Output folder.
    ours
        ``{"paired": model name, "unpaired": model name}``: the rows ratios and targets are
        computed for.

    Returns
    -------
    Paths of the written files.

    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "csv": out / "results.csv", "md": out / "summary.md"}
    paths["json"].write_text(json.dumps(_clean(report), indent=2, default=str))
    results_frame(report).to_csv(paths["csv"], index=False)
    paths["md"].write_text("\n".join(summary_lines(report, ours)))
    for path in paths.values():
        logger.info("Wrote %s", path)
    return paths
