"""The first seed's embeddings of a data set, and what is computed from them.

The runner keeps each method's embedding (or graph) and clusters of the first seed in one
AnnData per data set, written as ``embeddings_<name>.h5ad`` (``.obsm["X_<method>"]``,
``.obsp["<method>_connectivities"]``, ``.obs["<method>_cluster"]``, ``.uns["seeds"]``). The
scib-metrics table and the UMAP panel are computed from it once per method, not per seed:
scib-metrics' batch metrics alone take minutes. ``--append`` reads it back and adds to it.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from scvi_contrastive.benchmark.datasets import (
    BATCH_KEY,
    DATA_SEED,
    FINE_LABEL_KEY,
    LABEL_KEY,
    MODALITY_KEY,
    BenchmarkDataset,
)
from scvi_contrastive.benchmark.metrics import scib_table
from scvi_contrastive.benchmark.plots import umap_panel
from scvi_contrastive.benchmark.preprocess import rna_pca
from scvi_contrastive.benchmark.result import MethodResult


def new_store(dataset: BenchmarkDataset) -> ad.AnnData:
    """Empty store of the data set's cells, with its labels, batches and modalities in ``obs``.

    Coarse labels are ``obs["cell_type"]`` and fine ones ``obs["cell_type_fine"]``, whatever
    the shipped column names.
    """
    obs = pd.DataFrame(index=dataset.mdata.obs_names.copy())
    columns = {
        LABEL_KEY: dataset.labels,
        FINE_LABEL_KEY: dataset.fine_labels,
        BATCH_KEY: dataset.batch,
        MODALITY_KEY: dataset.cell_modality,
    }
    for column, values in columns.items():
        if values is not None:
            obs[column] = pd.Categorical(np.asarray(values).astype(str))
    return ad.AnnData(obs=obs, uns={"seeds": {}})


def read_store(path: Path, dataset: BenchmarkDataset) -> ad.AnnData:
    """Read the store an earlier run wrote for this data set (``--append``).

    Raises
    ------
    ValueError
        When it holds other cells, or was written before seeds were recorded.

    """
    adata = ad.read_h5ad(path)
    if not np.array_equal(adata.obs_names, dataset.mdata.obs_names) or "seeds" not in adata.uns:
        raise ValueError(
            f"{path} holds other cells than {dataset.name} loaded now, or was written before "
            "seeds were recorded: append with the same --n-cells, or write to another --out."
        )
    adata.uns["seeds"] = dict(adata.uns["seeds"])
    return adata


def store_result(adata: ad.AnnData, result: MethodResult, seed: int) -> None:
    """Keep a method's embedding, graph and clusters of ``seed``, replacing earlier ones.

    A method that did not run leaves nothing (an earlier run's result of it is removed).
    """
    name = result.name
    adata.obsm.pop(f"X_{name}", None)
    adata.obsp.pop(f"{name}_connectivities", None)
    adata.obs.drop(columns=f"{name}_cluster", errors="ignore", inplace=True)
    adata.uns["seeds"].pop(name, None)
    if not result.ok:
        return
    adata.uns["seeds"][name] = seed
    if result.embedding is not None:
        adata.obsm[f"X_{name}"] = np.asarray(result.embedding, dtype=np.float32)
    if result.connectivities is not None:
        adata.obsp[f"{name}_connectivities"] = result.connectivities
    if result.clusters is not None:
        adata.obs[f"{name}_cluster"] = pd.Categorical(np.asarray(result.clusters).astype(str))


def scib_scores(
    adata: ad.AnnData, dataset: BenchmarkDataset, methods: list[str], out: Path
) -> dict | None:
    """Run scib-metrics on the stored embeddings of ``methods``; save its table as a PNG.

    Batches are the set's batch column (the PCR comparison against the RNA PCA, which corrects
    nothing), the modality on unpaired tasks, none otherwise. Embeddings with NaN rows (cells a
    method left out) are skipped and named in the note.

    Returns
    -------
    ``{"png", "note", "batch_key", "batch_metrics", "seeds", "table"}``, or ``None`` without
    labels or embeddings.

    """
    stored = [m for m in methods if f"X_{m}" in adata.obsm]
    finite = [m for m in stored if np.isfinite(adata.obsm[f"X_{m}"]).all()]
    if dataset.labels is None or not finite:
        return None
    batch_key = BATCH_KEY if dataset.batch is not None else None
    named = ad.AnnData(obs=adata.obs, obsm={m: adata.obsm[f"X_{m}"] for m in finite})
    pre_integrated = None
    if not dataset.paired:
        batch_key = MODALITY_KEY
    elif batch_key is not None:
        # The unintegrated reference of scib's PCR comparison: RNA PCA, no batch correction.
        pre_integrated = "_unintegrated"
        named.obsm[pre_integrated] = rna_pca(dataset.mdata["rna"], seed=DATA_SEED)
    named = named[dataset.labelled].copy()
    table = scib_table(named, finite, LABEL_KEY, batch_key, pre_integrated_key=pre_integrated)
    png = out / f"scib_{dataset.name}.png"
    table.save_plot(png)
    skipped = [m for m in stored if m not in finite]
    note = table.note + (f"; left out (NaN rows): {skipped}" if skipped else "")
    results = table.results.drop(index="Metric Type", errors="ignore").astype(float)
    return {
        "png": png.name,
        "note": note,
        "batch_key": batch_key,
        "batch_metrics": table.batch_metrics,
        "seeds": {m: int(adata.uns["seeds"][m]) for m in finite},
        "table": results.to_dict(orient="index"),
    }


def umap_figure(
    adata: ad.AnnData, dataset: BenchmarkDataset, methods: list[str], out: Path, seed: int
) -> str | None:
    """Save one UMAP per stored embedding or graph, coloured by labels, batch and modality.

    Returns
    -------
    The PNG's file name, or ``None`` when no method is stored.

    """
    views = {
        m: (adata.obsm.get(f"X_{m}"), adata.obsp.get(f"{m}_connectivities"))
        for m in methods
        if m in adata.uns["seeds"]
    }
    if not views:
        return None
    colors = {
        c: adata.obs[c].to_numpy() for c in (LABEL_KEY, BATCH_KEY, MODALITY_KEY) if c in adata.obs
    }
    if not colors:
        colors["all cells"] = np.zeros(dataset.mdata.n_obs, dtype=int)
    png = out / f"umap_{dataset.name}.png"
    umap_panel(views, colors, f"{dataset.name}: joint embeddings", png, seed=seed)
    return png.name
