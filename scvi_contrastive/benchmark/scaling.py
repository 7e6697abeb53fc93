"""Scaling benchmark: training time per epoch and peak memory of SCMDCF and BICLUM.

Each (model, size) pair runs in a fresh subprocess, so that its memory is its own and not a
leftover of an earlier, larger run. The subprocess builds a synthetic data set of that many cells
(:mod:`.synthetic`), sets the model up with its defaults and trains it for at most
``max_steps`` minibatch steps of one epoch, then a few steps of a second epoch. It reports:

- **time per epoch**: the wall time of the first epoch's steps (from the first step's start
  to the last step's end) when the steps cover the epoch, else the steady-state time per step
  (after a warm-up), timed by a Lightning callback, times the number of steps of an epoch;
- **epoch-start work**: the time from an epoch's start to its first step's start, which holds
  the model's work scheduled at epoch starts, kept out of the time per epoch because it does
  not grow with the steps: before the first epoch SCMDCF's modality-weight refresh (a Leiden
  clustering), before the second (the **epoch boundary**) SCMDCF's DEC initialisation
  (once per training, k-means here) and BICLUM's refresh of the positive pairs (every five
  epochs by default);
- **setup**: ``setup_mudata`` and the model's constructor (BICLUM: joint PCA, metacells and the
  first mutual-nearest-neighbour search);
- **latent**: ``get_latent_representation()`` of every cell after training;
- **peak memory**: the process's peak resident memory from the moment the data set is built
  (so the data held counts, the generator's temporary copies do not), that of setup and that
  of training and the latent apart, and on a GPU ``torch.cuda.max_memory_allocated``;
- **load**: the machine's one-minute load average when the run starts and ends.

With ``--backed`` the data set is trained **from disk**: the subprocess writes it once to an
``.h5mu`` (counts CSR in each modality's ``.X``, written a chunk of cells at a time, see
:func:`.synthetic.write_synthetic_paired` and :func:`.synthetic.write_synthetic_unpaired`),
opens it with ``mudata.read_h5mu(path, backed=True)`` and counts the peak memory from there;
setup, training and the latent read the counts from the file. Rows say which (``backed``).

Run ``python -m scvi_contrastive.benchmark.scaling --out results/scaling`` (``--quick`` for
1,000 and 10,000 cells; ``--setup-only`` stops after setup, so that the peak memory is the
setup's; ``--append`` keeps the rows of an earlier run in ``--out`` that this one does not
measure again; ``--report-only`` rewrites the table and plot from an earlier run's
``scaling.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..tools.clustering import MAX_CLUSTER_CELLS
from .process_memory import memory_mb
from .scaling_measure import MAX_STEPS, measure
from .scaling_report import estimate_missing_epochs, write_outputs, write_report
from .step_timer import WARMUP_STEPS
from .synthetic import (
    N_CELL_TYPES,
    N_GENES,
    N_PROTEINS,
)

logger = logging.getLogger(__name__)

#: Module run by each measuring subprocess (``__name__`` is ``"__main__"`` under ``-m``).
_MODULE = "scvi_contrastive.benchmark.scaling"
#: Cells of the full run and of ``--quick``.
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
MODELS = ("SCMDCF", "BICLUM")
QUICK_MAX_STEPS = 40


def _run_worker(
    model_name: str,
    n_cells: int,
    backed: bool,
    log_path: Path,
    worker_args: list[str],
    threads: int | None,
    timeout_s: float,
    memory_limit_mb: float,
) -> dict:
    """Run :func:`measure` in a fresh process; stop it past the time or memory limit."""
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory() as tmp, open(log_path, "w") as log:
        row_path = Path(tmp) / "row.json"
        command = [sys.executable, "-m", _MODULE, "--worker", model_name, "--n-cells"]
        command += [str(n_cells), "--row-out", str(row_path), *worker_args]
        command += ["--backed"] if backed else []
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        start, peak, stopped = time.monotonic(), float("nan"), None
        while process.poll() is None:
            # The worker restarts its peak count after building the data: the last value read
            # is the peak of the phase it is in.
            peak = memory_mb("VmHWM", process.pid)
            if time.monotonic() - start > timeout_s:
                stopped = f"stopped after {timeout_s:.0f} s"
            elif memory_mb("VmRSS", process.pid) > memory_limit_mb:
                stopped = f"stopped at {memory_limit_mb / 1024:.0f} GiB"
            if stopped:
                process.kill()
                break
            time.sleep(0.5)
        process.wait()
        row = json.loads(row_path.read_text()) if row_path.exists() else {}
    row = {"model": model_name, "n_cells": n_cells, "backed": backed, "status": "no result", **row}
    if stopped:
        row["status"] = f"{stopped} while {row['status']}"
        row["peak_rss_mb"] = peak
    elif process.returncode != 0:
        row["status"] = f"failed (exit {process.returncode}) while {row['status']}; see {log_path}"
    row["wall_s"] = time.monotonic() - start
    return row


def run_scaling(
    out: str | os.PathLike = "results/scaling",
    sizes: Sequence[int] = SIZES,
    models: Sequence[str] = MODELS,
    max_steps: int = MAX_STEPS,
    accelerator: str = "auto",
    threads: int | None = 1,
    timeout_s: float = 600.0,
    memory_limit_gb: float = 20.0,
    setup_only: bool = False,
    backed: bool = False,
    data_dir: str | os.PathLike | None = None,
    append: bool = False,
) -> pd.DataFrame:
    """Measure every model at every size, each in its own process, and write the results.

    Writes ``scaling.json``, ``scaling.csv``, ``scaling.md`` and ``scaling.png`` into ``out``
    (after every run, so that an interrupted run keeps what it measured), and one log per run
    in ``out/logs``.

    Parameters
    ----------
    out
        Output folder.
    sizes
        Numbers of cells.
    models
        Any of ``"SCMDCF"``, ``"BICLUM"``.
    max_steps
        Most steps of each first epoch that are run; longer epochs are extrapolated.
    accelerator
        Lightning accelerator (``"auto"``: a GPU when present).
    threads
        Torch CPU threads of every run (``OMP_NUM_THREADS`` too); ``None`` keeps the defaults.
    timeout_s
        A run still going after this long is stopped; its epoch time is then estimated from the
        largest finished size (and marked so).
    memory_limit_gb
        A run whose resident memory passes this is stopped.
    setup_only
        Measure setup alone (no training; the peak memory is the setup's).
    backed
        Train from disk: see :func:`measure`.
    data_dir
        Folder of the ``.h5mu`` files of ``backed`` runs, kept for later runs (``None``: a
        temporary folder, removed at the end).
    append
        Keep the rows of the ``scaling.json`` already in ``out`` that this run does not
        measure again (same model, size and storage).

    Returns
    -------
    The table: time per epoch (``epoch_s``, with ``how`` it was obtained), steady step time,
    the first epoch's start work, the epoch-boundary cost, setup, latent and data-building
    time, peak resident memory, GPU peak memory, load, device and status, one row per model,
    size and storage (in memory or from disk).
    """
    unknown = [name for name in models if name not in MODELS]
    if unknown:
        raise ValueError(
            f"Unknown model(s) {', '.join(unknown)} in `models`; choose from {MODELS}."
        )
    out = Path(out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    worker_args = ["--max-steps", str(max_steps), "--accelerator", accelerator]
    worker_args += ["--threads", str(threads)] if threads is not None else []
    worker_args += ["--setup-only"] if setup_only else []
    meta = _meta(max_steps, threads, timeout_s, memory_limit_gb, setup_only)
    rows = []
    if append and (out / "scaling.json").exists():
        earlier = json.loads((out / "scaling.json").read_text())
        meta = {**earlier["meta"], **meta}
        again = {(name, n, backed) for name in models for n in sizes}
        rows = [r for r in earlier["rows"] if _row_key(r) not in again]
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory())
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        worker_args += ["--data-dir", str(data_dir)]
        for n_cells in sizes:
            for name in models:
                logger.info("Running %s on %s cells", name, f"{n_cells:,}")
                storage = "disk" if backed else "memory"
                log_path = out / "logs" / f"{name}_{n_cells}_{storage}.log"
                row = _run_worker(
                    name,
                    n_cells,
                    backed,
                    log_path,
                    worker_args,
                    threads,
                    timeout_s,
                    memory_limit_gb * 1024,
                )
                logger.info("%s", row)
                rows.append(row)
                estimate_missing_epochs(rows)
                table = write_outputs(rows, out, meta)
    return table


def _meta(
    max_steps: int,
    threads: int | None,
    timeout_s: float,
    memory_limit_gb: float,
    setup_only: bool,
) -> dict[str, str]:
    """The notes under the table: the machine, the data and what each column measures."""
    meta = {
        "machine": f"{platform.node()}: {os.cpu_count()} CPUs, {platform.processor() or '?'}",
        "load average at start": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "torch threads per run": threads or "default",
        "limits per run": f"{timeout_s:.0f} s, {memory_limit_gb:g} GiB resident memory",
        "data": (
            f"synthetic, {N_CELL_TYPES} cell types; SCMDCF: RNA ({N_GENES} genes, ~1,000 UMIs "
            f"per cell, sparse CSR) + protein ({N_PROTEINS}); BICLUM: half RNA, half gene "
            f"activity (~500 counts per cell) over the same {N_GENES} genes"
        ),
        "models": "default settings (SCMDCF batch 256; BICLUM batch 128 per modality)",
        "from disk": (
            "backed rows: the data set written to an .h5mu (CSR counts in .X) and opened with "
            "mudata.read_h5mu(backed=True); the file was just written, so it is in the page "
            "cache (a warm disk)"
        ),
        "latent": "get_latent_representation() of every cell after training",
        "load": "one-minute load average of the machine at the run's start and end",
        "time per epoch": (
            f"first epoch's steps, up to {max_steps} run; 'how' says whether the whole epoch "
            f"was measured or extrapolated from the mean step time after {WARMUP_STEPS} "
            "warm-up steps"
        ),
        "first epoch start": (
            "time before the first epoch's first step: SCMDCF's modality-weight refresh "
            "(the training cells embedded, Leiden on a sketch of at most "
            f"{MAX_CLUSTER_CELLS:,} of them; numba compilation included in a fresh process)"
        ),
        "epoch boundary": (
            "time before the second epoch's first step: SCMDCF's DEC initialisation "
            f"(k-means on a sketch of at most {MAX_CLUSTER_CELLS:,} embedded training cells, "
            "once per training), BICLUM's positive-pair refresh (every 5 epochs)"
        ),
        "setup": "setup_mudata + model constructor (BICLUM: joint PCA, metacells, first MNN)",
        "peak memory": (
            "peak resident memory (Linux VmHWM) of the run's own process from the moment its "
            "data set is built or, from disk, opened (the data held included) to the end of "
            "training and the latent; setup_peak_rss_mb: its peak until setup ends, "
            "train_peak_rss_mb: from then on (training and the latent, with what setup left in "
            "memory); data_rss_mb: resident memory with the data built or "
            "opened, baseline_rss_mb: after importing the libraries, data_peak_rss_mb: peak "
            "while building (from disk: writing) the data"
        ),
    }
    if setup_only:
        meta["training"] = "none (--setup-only): the peak memory is that of setup"
    return meta


def _row_key(row: dict) -> tuple[str, int, bool]:
    """Model, cells and storage of a row (rows of earlier versions were all in memory)."""
    return row["model"], row["n_cells"], bool(row.get("backed") or False)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m scvi_contrastive.benchmark.scaling",
        description="Time per epoch and peak memory of SCMDCF and BICLUM against cell count.",
    )
    parser.add_argument("--out", default="results/scaling", help="output folder")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_SIZES} cells, {QUICK_MAX_STEPS} steps"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--accelerator", default="auto", help="Lightning accelerator")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--memory-limit-gb", type=float, default=20.0)
    parser.add_argument(
        "--setup-only",
        action="store_true",
        help="stop after setup_mudata and the model's constructor: no training",
    )
    parser.add_argument(
        "--backed",
        action="store_true",
        help="train from disk: write each data set to an .h5mu and open it backed",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="keep the .h5mu files of --backed here, for later runs (default: a temporary folder)",
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="keep the rows of --out's scaling.json that this run does not measure again",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite scaling.md, .csv and .png from the scaling.json of --out; measure nothing",
    )
    parser.add_argument("--worker", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--n-cells", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--row-out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _worker_main(args: argparse.Namespace) -> None:
    """One measurement, its row written to ``--row-out`` after every phase."""
    path = Path(args.row_out)
    measure(
        args.worker,
        args.n_cells,
        max_steps=args.max_steps or MAX_STEPS,
        accelerator=args.accelerator,
        threads=args.threads,
        progress=lambda row: path.write_text(json.dumps(row)),
        setup_only=args.setup_only,
        backed=args.backed,
        data_dir=args.data_dir,
    )


def main(argv: list[str] | None = None) -> pd.DataFrame | None:
    """Run the scaling benchmark from the command line and print its table."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.worker:
        _worker_main(args)
        return None
    if args.report_only:
        table = write_report(args.out)
    else:
        table = run_scaling(
            out=args.out,
            sizes=args.sizes or (QUICK_SIZES if args.quick else SIZES),
            models=args.models,
            max_steps=args.max_steps or (QUICK_MAX_STEPS if args.quick else MAX_STEPS),
            accelerator=args.accelerator,
            threads=args.threads,
            timeout_s=args.timeout,
            memory_limit_gb=args.memory_limit_gb,
            setup_only=args.setup_only,
            backed=args.backed,
            data_dir=args.data_dir,
            append=args.append,
        )
    print((Path(args.out) / "scaling.md").read_text())
    return table


if __name__ == "__main__":
    main()
