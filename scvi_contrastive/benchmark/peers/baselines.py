"""Paired baselines without training: RNA-only PCA and muon's weighted nearest neighbours."""

from __future__ import annotations

import logging

import anndata as ad
import mudata as md
import numpy as np
import scanpy as sc

from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.peers._base import RunSettings, require
from scvi_contrastive.benchmark.preprocess import protein_clr_pca, rna_pca
from scvi_contrastive.benchmark.result import MethodResult, measure_training
from scvi_contrastive.data.peak_lsi import peak_lsi

logger = logging.getLogger(__name__)


def run_rna_pca(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """RNA only: log-normalise, scale, PCA 30 (the anchors' first row)."""
    require(dataset, paired=True, other=("prot", "atac"))
    with measure_training() as cost:
        embedding = rna_pca(dataset.mdata["rna"], n_comps=30, seed=settings.seed)
    result = MethodResult("RNA-PCA", embedding=embedding, device="cpu", settings={"n_comps": 30})
    return cost.apply(result)


def run_wnn(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Muon WNN: RNA PCA + protein CLR PCA (or ATAC LSI), Leiden on the WNN graph.

    The method yields a graph, not an embedding: the result carries ``connectivities``.
    """
    require(dataset, paired=True, other=("prot", "atac"))
    import muon as mu

    other_embed = protein_clr_pca if dataset.other == "prot" else peak_lsi
    with measure_training() as cost:
        views = {}
        for mod, embed in (("rna", rna_pca), (dataset.other, other_embed)):
            view = ad.AnnData(obs=dataset.mdata[mod].obs[[]].copy())
            view.obsm["X_pca"] = embed(dataset.mdata[mod], n_comps=30, seed=settings.seed)
            # Exact search, as tools.clustering.neighbors_graph: scanpy's default fails from
            # 8,192 cells on with scanpy 1.11 and pynndescent 0.7.
            sc.pp.neighbors(
                view,
                n_neighbors=15,
                use_rep="X_pca",
                transformer="sklearn",
                random_state=settings.seed,
            )
            views[mod] = view
        joint = md.MuData(views)
        mu.pp.neighbors(joint, key_added="wnn", random_state=settings.seed)
        connectivities = joint.obsp["wnn_connectivities"].tocsr()
    if not np.isfinite(connectivities.data).all():
        # muon's modality weights are NaN for cells with an all-zero view (e.g. no ATAC
        # counts); Leiden on such a graph returns singletons, so report it instead of scoring.
        bad = np.unique(connectivities.nonzero()[0][~np.isfinite(connectivities.data)])
        raise ValueError(
            f"muon's WNN graph has non-finite weights in {bad.size} cells' rows (some cells "
            f"have no counts in one modality)."
        )
    result = MethodResult(
        "WNN",
        connectivities=connectivities,
        device="cpu",
        settings={"rna": "PCA 30", dataset.other: "CLR PCA" if dataset.other == "prot" else "LSI"},
    )
    logger.info("WNN graph: %d edges", connectivities.nnz)
    return cost.apply(result)
