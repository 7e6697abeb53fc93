"""Run several methods side by side on the benchmark data sets and write the report."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from scvi_contrastive.benchmark.datasets import DATA_SEED, BenchmarkDataset, load_dataset
from scvi_contrastive.benchmark.embedding_store import (
    new_store,
    read_store,
    scib_scores,
    store_result,
    umap_figure,
)
from scvi_contrastive.benchmark.merge import (
    check_same_cells,
    empty_report,
    read_report,
    upsert_record,
)
from scvi_contrastive.benchmark.peers import (
    INSTALL_HINTS,
    OURS,
    MethodNotApplicable,
    MethodNotAvailable,
    RunSettings,
    get_adapter,
)
from scvi_contrastive.benchmark.report import write_report
from scvi_contrastive.benchmark.result import MethodResult
from scvi_contrastive.benchmark.scoring import score_result
from scvi_contrastive.train.threads import preserve_torch_threads

logger = logging.getLogger(__name__)

#: Cells kept per data set in ``quick`` mode.
QUICK_N_CELLS = 600
DEFAULT_DATASETS = ("pbmc10x_cite", "cbmc_cite")
DEFAULT_MODELS = ("SCMDCF", "TOTALVI", "scMDCF-original", "WNN", "RNA-PCA")


def run_method(name: str, dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Run one method; a missing package or a crash becomes the row's status, never a raise."""
    canonical, adapter = get_adapter(name)
    try:
        return adapter(dataset, settings)
    except MethodNotApplicable as err:
        status = f"not applicable: {err}"
    except MethodNotAvailable as err:
        status = f"not available: {err}"
    except ImportError as err:
        missing = getattr(err, "name", None) or str(err)
        hint = INSTALL_HINTS.get(missing)
        status = f"not installed: {err}" + (f" ({hint})" if hint else "")
    except Exception as err:
        logger.exception("%s failed on %s", canonical, dataset.name)
        status = f"failed: {type(err).__name__}: {err}"
    return MethodResult(canonical, status=status)


def _run_and_score(model: str, dataset: BenchmarkDataset, settings: RunSettings, tag: str):
    """Train one model and score it; the record keeps the seed, wall time and machine load."""
    import torch

    logger.info("%s %s (seed %d) on %s: training ...", tag, model, settings.seed, dataset.name)
    load_start, threads, start = os.getloadavg()[0], torch.get_num_threads(), time.perf_counter()
    # Libraries the adapters and scores call (scanpy, scikit-learn) may reset torch's threads
    # to the core count; the next row must start with the threads the run was asked for.
    with preserve_torch_threads():
        result = run_method(model, dataset, settings)
    wall, load_end = time.perf_counter() - start, os.getloadavg()[0]
    logger.info("%s %s: %s, %.1f s", tag, result.name, result.status, result.train_time_s)
    try:
        with preserve_torch_threads():
            scores = score_result(dataset, result, seed=settings.seed)
    except Exception as err:
        logger.exception("Scoring %s failed", result.name)
        scores = {"scoring_error": f"{type(err).__name__}: {err}"}
    rounded = {s: round(v, 3) for s, v in scores.items() if isinstance(v, float)}
    logger.info("%s %s scores: %s", tag, result.name, rounded)
    record = {
        **result.record(),
        "seed": settings.seed,
        "wall_time_s": wall,
        "load_avg_1min_start": load_start,
        "load_avg_1min_end": load_end,
        "torch_threads": threads,
        "max_epochs_cap": settings.max_epochs,
        "quick": settings.quick,
        "scores": scores,
    }
    return result, record


def _dataset_entry(report: dict, dataset: BenchmarkDataset) -> tuple[dict, bool]:
    """The report's entry of this data set (found, when appending, or added); whether it is new."""
    entry = {
        "name": dataset.name,
        "paired": dataset.paired,
        "n_cells": int(dataset.mdata.n_obs),
        "cells_per_modality": {m: int(dataset.mdata[m].n_obs) for m in dataset.modalities},
        "n_labels": dataset.n_labels,
        "n_fine_labels": dataset.n_fine_labels,
        "label_columns": list(dataset.label_columns),
        "batch_key": dataset.batch_key,
        "methods": [],
        "scib": None,
        "umap_png": None,
    }
    old = next((d for d in report["datasets"] if d["name"] == dataset.name), None)
    if old is None:
        report["datasets"].append(entry)
        return entry, True
    check_same_cells(old, entry)
    old.update({k: v for k, v in entry.items() if k not in ("methods", "scib", "umap_png")})
    return old, False


def benchmark_dataset(
    name: str,
    models: list[str],
    seeds: list[int],
    settings: RunSettings,
    out: Path,
    n_cells: int | None,
    report: dict,
) -> dict:
    """Train and score every model with every seed on one data set; write figures and embeddings.

    The data set is loaded once (subsampled with :data:`~.datasets.DATA_SEED`), so every seed
    scores the same cells. Seeds run one after the other, all models per seed; after the first
    seed, the embeddings (``embeddings_<name>.h5ad``), scib-metrics and UMAP figures are
    written from that seed. The report files are rewritten after every model, so a long run
    that is stopped keeps what it measured. The data set's entry in ``report["datasets"]`` is
    added, or, when appending, extended (rows of the same method and seed are replaced).
    """
    dataset = load_dataset(name, n_cells=n_cells)
    entry, new = _dataset_entry(report, dataset)
    stored = out / f"embeddings_{name}.h5ad"
    adata = new_store(dataset) if new or not stored.is_file() else read_store(stored, dataset)
    for i, seed in enumerate(seeds):
        seed_settings = replace(settings, seed=seed)
        for k, model in enumerate(models, start=1):
            tag = f"[seed {seed}, {k}/{len(models)}]"
            result, record = _run_and_score(model, dataset, seed_settings, tag)
            upsert_record(entry["methods"], record)
            if i == 0:
                store_result(adata, result, seed)
            write_report(report, out, OURS)
        if i == 0:
            adata.write_h5ad(stored)
            methods = list(dict.fromkeys(r["method"] for r in entry["methods"]))
            with preserve_torch_threads():
                entry["scib"] = scib_scores(adata, dataset, methods, out)
                entry["umap_png"] = umap_figure(adata, dataset, methods, out, seed)
            write_report(report, out, OURS)
    return entry


def run_benchmark(
    datasets: list[str] = DEFAULT_DATASETS,
    models: list[str] = DEFAULT_MODELS,
    out: str | os.PathLike = "results",
    quick: bool = False,
    max_epochs: int | None = None,
    seeds: list[int] = (0,),
    n_cells: int | None = None,
    accelerator: str = "auto",
    threads: int | None = None,
    append: bool = False,
    progress: bool = False,
) -> dict:
    """Benchmark ``models`` on ``datasets`` with every seed and write the report into ``out``.

    Parameters
    ----------
    datasets
        Names from :data:`~scvi_contrastive.benchmark.datasets.DATASETS`.
    models
        Names from :data:`~scvi_contrastive.benchmark.peers.ADAPTERS` (case-insensitive).
    out
        Output folder: ``results.json``, ``results.csv`` (one row per data set, method and
        seed), ``summary.md`` (mean, SD and worst seed per method; targets),
        ``scib_<dataset>.png``, ``umap_<dataset>.png`` and ``embeddings_<dataset>.h5ad``
        (``.obsm["X_<model>"]`` of the first seed).
    quick
        Smoke test: :data:`QUICK_N_CELLS` cells and a few epochs per model.
    max_epochs
        Cap on every model's epochs; ``None``: each model's own default.
    seeds
        Seeds of every method (training, and the KMeans/Leiden of its scores); every method
        runs once per seed, the deterministic baselines too. Subsampling, splits and shuffles
        use :data:`~scvi_contrastive.benchmark.datasets.DATA_SEED` whatever the seeds, so every
        seed sees the same cells.
    n_cells
        Subsample to this many cells (overrides the quick default).
    accelerator
        Lightning accelerator for scvi-tools models.
    threads
        CPU threads for torch (``torch.set_num_threads``); ``None`` keeps torch's default.
        On a machine shared with other jobs, fewer threads than cores avoids oversubscription.
    append
        Add to the results already in ``out`` (rows of the same data set, method and seed are
        replaced) instead of starting a new report; scib-metrics and UMAPs are then recomputed
        on all stored embeddings of the data set.
    progress
        Show scvi-tools' progress bar while each model trains.

    Returns
    -------
    The report written to ``results.json``.

    """
    import torch

    models = [get_adapter(m)[0] for m in models]
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"`seeds` must be distinct and at least one, got {seeds}.")
    if threads is not None:
        torch.set_num_threads(threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = RunSettings(
        max_epochs=max_epochs, quick=quick, accelerator=accelerator, progress=progress
    )
    n_cells = n_cells if n_cells is not None else (QUICK_N_CELLS if quick else None)
    report = read_report(out) if append and (out / "results.json").is_file() else empty_report()
    report["runs"].append(
        {
            "datasets": list(datasets),
            "models": models,
            "seeds": seeds,
            "quick": quick,
            "max_epochs": max_epochs,
            "n_cells": n_cells,
            "data_seed": DATA_SEED,
            "cpu_cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "started": datetime.now().isoformat(timespec="seconds"),
        }
    )
    for i, name in enumerate(datasets, start=1):
        logger.info("Data set %d/%d: %s", i, len(datasets), name)
        benchmark_dataset(name, models, seeds, settings, out, n_cells, report)
    return report
