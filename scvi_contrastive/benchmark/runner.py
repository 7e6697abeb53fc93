"""Run several methods side by side on the benchmark data sets and write the report."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from scvi_contrastive.benchmark.datasets import (
    LABEL_KEY,
    MODALITY_KEY,
    BenchmarkDataset,
    load_dataset,
)
from scvi_contrastive.benchmark.metrics import scib_table
from scvi_contrastive.benchmark.peers import (
    INSTALL_HINTS,
    OURS,
    MethodNotApplicable,
    MethodNotAvailable,
    RunSettings,
    get_adapter,
)
from scvi_contrastive.benchmark.plots import umap_panel
from scvi_contrastive.benchmark.report import write_report
from scvi_contrastive.benchmark.result import MethodResult
from scvi_contrastive.benchmark.scoring import score_result

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


def _embeddings_anndata(dataset: BenchmarkDataset, results: list[MethodResult]) -> ad.AnnData:
    obs = pd.DataFrame(index=dataset.mdata.obs_names.copy())
    if dataset.labels is not None:
        obs[LABEL_KEY] = pd.Categorical(np.asarray(dataset.labels).astype(str))
    if dataset.cell_modality is not None:
        obs[MODALITY_KEY] = pd.Categorical(dataset.cell_modality)
    adata = ad.AnnData(obs=obs)
    for result in results:
        if result.embedding is not None:
            adata.obsm[f"X_{result.name}"] = np.asarray(result.embedding, dtype=np.float32)
        if result.clusters is not None:
            adata.obs[f"{result.name}_cluster"] = pd.Categorical(
                np.asarray(result.clusters).astype(str)
            )
    return adata


def _scib(adata: ad.AnnData, dataset: BenchmarkDataset, out: Path) -> dict | None:
    keys = [k for k in adata.obsm if np.isfinite(adata.obsm[k]).all()]
    if dataset.labels is None or not keys:
        return None
    batch_key = None if dataset.paired else MODALITY_KEY
    named = ad.AnnData(obs=adata.obs, obsm={k.removeprefix("X_"): adata.obsm[k] for k in keys})
    named = named[dataset.labelled].copy()
    table = scib_table(named, list(named.obsm), LABEL_KEY, batch_key=batch_key)
    png = out / f"scib_{dataset.name}.png"
    table.save_plot(png)
    skipped = [k for k in adata.obsm if k not in keys]
    note = table.note + (f"; left out (NaN rows): {skipped}" if skipped else "")
    results = table.results.drop(index="Metric Type", errors="ignore").astype(float)
    return {"png": png.name, "note": note, "table": results.to_dict(orient="index")}


def _umap(dataset: BenchmarkDataset, results: list[MethodResult], out: Path, seed: int):
    views = {r.name: (r.embedding, r.connectivities) for r in results if r.ok}
    if not views:
        return None
    colors = {}
    if dataset.labels is not None:
        colors[LABEL_KEY] = dataset.labels
    if dataset.cell_modality is not None:
        colors[MODALITY_KEY] = dataset.cell_modality
    if not colors:
        colors["all cells"] = np.zeros(dataset.mdata.n_obs, dtype=int)
    png = out / f"umap_{dataset.name}.png"
    umap_panel(views, colors, f"{dataset.name}: joint embeddings", png, seed=seed)
    return png.name


def _run_and_score(model: str, dataset: BenchmarkDataset, settings: RunSettings, tag: str):
    """Train one model and score it; the record keeps the machine load at its start."""
    logger.info("%s %s on %s: training ...", tag, model, dataset.name)
    load = os.getloadavg()[0]
    result = run_method(model, dataset, settings)
    logger.info("%s %s: %s, %.1f s", tag, result.name, result.status, result.train_time_s)
    try:
        scores = score_result(dataset, result, seed=settings.seed)
    except Exception as err:
        logger.exception("Scoring %s failed", result.name)
        scores = {"scoring_error": f"{type(err).__name__}: {err}"}
    rounded = {s: round(v, 3) for s, v in scores.items() if isinstance(v, float)}
    logger.info("%s %s scores: %s", tag, result.name, rounded)
    return result, {**result.record(), "load_avg_1min": load, "scores": scores}


def benchmark_dataset(
    name: str,
    models: list[str],
    settings: RunSettings,
    out: Path,
    n_cells: int | None,
    report: dict,
) -> dict:
    """Train and score every model on one data set; write its figures and embeddings.

    The data set's entry is appended to ``report["datasets"]`` and the report files are
    rewritten after every model, so a long run that is stopped keeps what it measured.
    """
    dataset = load_dataset(name, n_cells=n_cells, seed=settings.seed)
    entry = {
        "name": name,
        "paired": dataset.paired,
        "n_cells": int(dataset.mdata.n_obs),
        "cells_per_modality": {m: int(dataset.mdata[m].n_obs) for m in dataset.modalities},
        "n_labels": dataset.n_labels,
        "methods": [],
        "scib": None,
        "umap_png": None,
    }
    report["datasets"].append(entry)
    results = []
    for k, model in enumerate(models, start=1):
        result, record = _run_and_score(model, dataset, settings, f"[{k}/{len(models)}]")
        results.append(result)
        entry["methods"].append(record)
        write_report(report, out, OURS)
    adata = _embeddings_anndata(dataset, results)
    adata.write_h5ad(out / f"embeddings_{name}.h5ad")
    entry["scib"] = _scib(adata, dataset, out)
    entry["umap_png"] = _umap(dataset, results, out, settings.seed)
    write_report(report, out, OURS)
    return entry


def run_benchmark(
    datasets: list[str] = DEFAULT_DATASETS,
    models: list[str] = DEFAULT_MODELS,
    out: str | os.PathLike = "results",
    quick: bool = False,
    max_epochs: int | None = None,
    seed: int = 0,
    n_cells: int | None = None,
    accelerator: str = "auto",
    threads: int | None = None,
    progress: bool = False,
) -> dict:
    """Benchmark ``models`` on ``datasets`` and write the report into ``out``.

    Parameters
    ----------
    datasets
        Names from :data:`~scvi_contrastive.benchmark.datasets.DATASETS`.
    models
        Names from :data:`~scvi_contrastive.benchmark.peers.ADAPTERS` (case-insensitive).
    out
        Output folder: ``results.json``, ``results.csv``, ``summary.md``,
        ``scib_<dataset>.png``, ``umap_<dataset>.png`` and ``embeddings_<dataset>.h5ad``
        (``.obsm["X_<model>"]``).
    quick
        Smoke test: :data:`QUICK_N_CELLS` cells and a few epochs per model.
    max_epochs
        Cap on every model's epochs; ``None``: each model's own default.
    seed
        Random seed of subsampling, splits and every method.
    n_cells
        Subsample to this many cells (overrides the quick default).
    accelerator
        Lightning accelerator for scvi-tools models.
    threads
        CPU threads for torch (``torch.set_num_threads``); ``None`` keeps torch's default.
        On a machine shared with other jobs, fewer threads than cores avoids oversubscription.
    progress
        Show scvi-tools' progress bar while each model trains.

    Returns
    -------
    The report written to ``results.json``.

    """
    models = [get_adapter(m)[0] for m in models]
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = RunSettings(
        seed=seed, max_epochs=max_epochs, quick=quick, accelerator=accelerator, progress=progress
    )
    n_cells = n_cells if n_cells is not None else (QUICK_N_CELLS if quick else None)
    report = {
        "settings": {
            "quick": quick,
            "max_epochs": max_epochs,
            "seed": seed,
            "n_cells": n_cells,
            "cpu_cores": os.cpu_count(),
            "torch_threads": threads or "default",
        },
        "datasets": [],
    }
    for i, name in enumerate(datasets, start=1):
        logger.info("Data set %d/%d: %s", i, len(datasets), name)
        benchmark_dataset(name, models, settings, out, n_cells, report)
    return report
