"""The scaling benchmark's table, plot and growth notes, written from its rows."""

from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path

import pandas as pd

#: Columns of the table, in order.
COLUMNS = (
    "model",
    "n_cells",
    "backed",
    "device",
    "status",
    "epoch_s",
    "how",
    "step_ms",
    "steps_per_epoch",
    "steps_timed",
    "start_work_s",
    "boundary_s",
    "setup_s",
    "latent_s",
    "data_s",
    "peak_rss_mb",
    "setup_peak_rss_mb",
    "train_peak_rss_mb",
    "data_rss_mb",
    "data_peak_rss_mb",
    "baseline_rss_mb",
    "gpu_peak_mb",
    "load_start",
    "load_end",
    "wall_s",
)


#: Memory columns of the markdown table (MB, shown in GiB).
_MEMORY_COLUMNS = (
    "peak_rss_mb",
    "setup_peak_rss_mb",
    "train_peak_rss_mb",
    "data_rss_mb",
    "gpu_peak_mb",
)

#: Columns holding text or flags; the others are numbers.
_TEXT_COLUMNS = ("model", "backed", "device", "status", "how")


def _series(table: pd.DataFrame):
    """Rows per model and storage (in memory first), each sorted by cells, with its label."""
    ordered = table.sort_values(["backed", "n_cells"], kind="stable")
    for (name, backed), rows in ordered.groupby(["model", "backed"], sort=False):
        yield f"{name} from disk" if backed else name, rows


def estimate_missing_epochs(rows: list[dict]) -> None:
    """Fill the epoch time of runs stopped before training from the largest finished size.

    A minibatch step costs the same at any number of cells, so an epoch costs the step time
    of the largest finished run times its steps per epoch scaled by the number of cells.
    """
    for row in rows:
        if math.isfinite(row.get("epoch_s", float("nan"))):
            continue
        done = [
            r
            for r in rows
            if r["model"] == row["model"]
            and bool(r.get("backed")) == bool(row.get("backed"))
            and math.isfinite(r.get("epoch_s", math.nan))
        ]
        if not done:
            continue
        ref = max(done, key=lambda r: r["n_cells"])
        steps = round(ref["steps_per_epoch"] * row["n_cells"] / ref["n_cells"])
        row["epoch_s"] = ref["step_ms"] / 1e3 * steps
        row["how"] = (
            f"estimated, not run: {steps} steps x the step time measured at "
            f"{ref['n_cells']:,} cells"
        )


def plot_scaling(table: pd.DataFrame, path: str | os.PathLike | None = None):
    """Plot time per epoch and peak memory against cells, log-log, a line per model and storage.

    Runs from disk have dashed lines.

    Parameters
    ----------
    table
        Rows of :func:`~scvi_contrastive.benchmark.scaling.run_scaling`.
    path
        Save the figure here (PNG) when given.

    Returns
    -------
    The matplotlib figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (time_ax, memory_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for i, (name, rows) in enumerate(_series(table)):
        color = f"C{i}"
        line = "--" if name.endswith("from disk") else "-"
        how = rows["how"].fillna("")
        time_ax.plot(rows["n_cells"], rows["epoch_s"], line, color=color, label=name)
        for kind, marker, fill in (
            ("measured", "o", color),
            ("extrapolated", "s", "white"),
            ("estimated", "x", color),
        ):
            chosen = rows[how.str.startswith(kind)]
            time_ax.scatter(
                chosen["n_cells"], chosen["epoch_s"], marker=marker, color=color, facecolor=fill
            )
        time_ax.plot(
            rows["n_cells"], rows["setup_s"], ":", color=color, marker=".", label=f"{name} setup"
        )
        memory_ax.plot(rows["n_cells"], rows["peak_rss_mb"] / 1024, line, color=color, label=name)
        finished = rows["status"] == "ok"
        for chosen, marker in ((rows[finished], "o"), (rows[~finished], "x")):
            memory_ax.scatter(
                chosen["n_cells"], chosen["peak_rss_mb"] / 1024, marker=marker, color=color
            )
        if rows["gpu_peak_mb"].notna().any():
            memory_ax.plot(
                rows["n_cells"],
                rows["gpu_peak_mb"] / 1024,
                "^--",
                color=color,
                label=f"{name} GPU",
            )
    time_ax.set(
        ylabel="time per epoch, setup (s)", title="o measured, □ extrapolated, x estimated"
    )
    memory_ax.set(
        ylabel="peak memory (GiB)", title="resident memory (x: run stopped, peak so far)"
    )
    for ax in (time_ax, memory_ax):
        ax.set(xscale="log", yscale="log", xlabel="cells")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    devices = ", ".join(sorted(set(table["device"].dropna())))
    fig.suptitle(f"Scaling on {devices or 'an unknown device'}")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return fig


def _markdown(table: pd.DataFrame, meta: dict) -> str:
    from .report import _fmt

    head = ["model", "cells", "data", "time/epoch (s)", "how", "step (ms)"]
    head += ["first epoch start (s)", "epoch boundary (s)", "setup (s)", "latent (s)"]
    head += ["peak RSS (GiB)", "setup peak (GiB)", "training peak (GiB)", "RSS with data (GiB)"]
    head += ["GPU peak (GiB)", "load", "device"]
    head += ["status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table.to_dict(orient="records"):
        cells = [row["model"], f"{row['n_cells']:,}", "disk" if row["backed"] else "memory"]
        cells += [_fmt(row["epoch_s"], 1), _fmt(row["how"])]
        cells += [_fmt(row[key], 1) for key in ("step_ms", "start_work_s", "boundary_s")]
        cells += [_fmt(row[key], 1) for key in ("setup_s", "latent_s")]
        cells += [_fmt(row[key] / 1024, 2) for key in _MEMORY_COLUMNS]
        load = "–".join(_fmt(row[key], 1) for key in ("load_start", "load_end"))
        cells += [load, _fmt(row["device"]), row["status"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    notes = [f"- {key}: {value}" for key, value in meta.items()]
    growth = ["## Growth per tenfold cells", "", *_growth_lines(table)]
    return "\n".join(["# Scaling", "", *lines, "", *notes, "", *growth, ""])


#: Columns compared between successive sizes by :func:`_growth_lines`, with their labels.
_GROWTH = (("epoch_s", "time/epoch"), ("setup_s", "setup"), ("peak_rss_mb", "peak RSS"))


def _growth_lines(table: pd.DataFrame) -> list[str]:
    """Per model, storage and pair of successive sizes, how much each cost grew (if finished)."""
    lines = []
    for name, rows in _series(table):
        records = rows.to_dict(orient="records")
        for small, large in itertools.pairwise(records):
            step = f"- {name}, {small['n_cells']:,} to {large['n_cells']:,} cells: "
            if large["status"] != "ok" or small["status"] != "ok":
                lines.append(step + f"not compared ({large['status']})")
                continue
            factors = [
                f"{label} x{large[key] / small[key]:.1f}"
                for key, label in _GROWTH
                if small[key] > 0 and math.isfinite(large[key] / small[key])
            ]
            lines.append(step + ", ".join(factors))
    return lines


def write_outputs(rows: list[dict], out: Path, meta: dict) -> pd.DataFrame:
    """Write ``scaling.csv``, ``.json``, ``.md`` and ``.png`` into ``out``; return the table."""
    from .report import _clean

    table = pd.DataFrame(rows).reindex(columns=list(COLUMNS))
    # Rows of runs before the from-disk mode were all in memory.
    table["backed"] = table["backed"].astype("boolean").fillna(False).astype(bool)
    # Rows read back from JSON hold None where a figure is missing: make those columns numeric.
    numeric = [column for column in COLUMNS if column not in _TEXT_COLUMNS]
    table[numeric] = table[numeric].apply(pd.to_numeric)
    table.to_csv(out / "scaling.csv", index=False)
    records = _clean(table.to_dict(orient="records"))
    (out / "scaling.json").write_text(json.dumps({"meta": meta, "rows": records}, indent=2))
    (out / "scaling.md").write_text(_markdown(table, meta))
    plot_scaling(table, out / "scaling.png")
    return table


def write_report(out: str | os.PathLike = "results/scaling") -> pd.DataFrame:
    """Rewrite the table, CSV and plot of ``out`` from its ``scaling.json``, without measuring.

    Parameters
    ----------
    out
        Folder of an earlier :func:`~scvi_contrastive.benchmark.scaling.run_scaling`.

    Returns
    -------
    The table of :func:`~scvi_contrastive.benchmark.scaling.run_scaling`.
    """
    out = Path(out)
    report = json.loads((out / "scaling.json").read_text())
    return write_outputs(report["rows"], out, report["meta"])
