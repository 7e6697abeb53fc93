"""Command line: ``python -m scvi_contrastive.benchmark --dataset ... --models ... --out ...``."""

from __future__ import annotations

import argparse
import logging
import os
import warnings
from pathlib import Path

from scvi_contrastive.benchmark.datasets import DATASETS
from scvi_contrastive.benchmark.peers import ADAPTERS
from scvi_contrastive.benchmark.runner import DEFAULT_DATASETS, DEFAULT_MODELS, run_benchmark


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m scvi_contrastive.benchmark",
        description="Train our models and their peers side by side and score them. Exits with "
        "status 1 when a requested model failed (crashed); models not installed or not "
        "applicable to a data set are reported in the summary.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--dataset",
        "--datasets",
        nargs="+",
        default=list(DEFAULT_DATASETS),
        choices=sorted(DATASETS),
        dest="datasets",
        help="data sets to run on",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(DEFAULT_MODELS),
        help=f"any of {list(ADAPTERS)} (case-insensitive)",
    )
    parser.add_argument("--out", default="results", help="output folder")
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 600 cells, a few epochs per model"
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="cap every model's epochs (None: each model's own)",
    )
    parser.add_argument(
        "--n-cells",
        type=int,
        default=None,
        help="subsample to this many cells (always with data seed 0: every method seed sees "
        "the same cells)",
    )
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="run every method once per seed (e.g. --seeds 0 1 2 3 4)",
    )
    seeds.add_argument("--seed", type=int, default=None, help="one seed (as --seeds N)")
    parser.add_argument("--accelerator", default="auto", help="Lightning accelerator")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--append",
        action="store_true",
        help="add to the results already in --out (same method and seed: replaced)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="show scvi-tools' progress bar while each model trains",
    )
    args = parser.parse_args(argv)
    check_output_folder(parser, args.out)
    return args


def check_output_folder(parser: argparse.ArgumentParser, out: str) -> None:
    """Exit with a usage error, before anything trains, if ``out`` cannot take the results."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        parser.error(f"--out {out!r} is a file; give a folder for the results.")
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not os.access(existing, os.W_OK):
        parser.error(f"--out {out!r} cannot be written ({str(existing)!r} is not writable).")


def failed_models(report: dict) -> list[str]:
    """``"<model> on <data set>"`` for each requested model that failed in ``report``."""
    return [
        f"{method['method']} on {dataset['name']}"
        for dataset in report["datasets"]
        for method in dataset["methods"]
        if str(method["status"]).startswith("failed")
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line; returns the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("jax", "lightning", "scvi", "numba", "matplotlib", "h5py", "fsspec"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    report = run_benchmark(
        datasets=args.datasets,
        models=args.models,
        out=args.out,
        quick=args.quick,
        max_epochs=args.max_epochs,
        seeds=args.seeds if args.seed is None else [args.seed],
        n_cells=args.n_cells,
        accelerator=args.accelerator,
        threads=args.threads,
        append=args.append,
        progress=args.progress,
    )
    failed = failed_models(report)
    if failed:
        logging.getLogger(__name__).error("Failed: %s (see the log above).", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
