"""Unpaired RNA vs ATAC baselines in a shared gene space, from Cell Ranger's peak-gene links.

Both map ATAC to gene activity (the summed counts of the peaks Cell Ranger links to each gene),
then embed RNA cells and ATAC cells together: joint PCA of the z-scored profiles, or a
Seurat-style CCA (SVD of the cross-modality cell-by-cell product over the shared genes).
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.peers._base import MethodNotApplicable, RunSettings, require
from scvi_contrastive.benchmark.preprocess import log_normalized, zscore
from scvi_contrastive.benchmark.result import MethodResult, measure_training

N_COMPONENTS = 20


def peak_gene_activity(atac, genes) -> sparse.csr_matrix:
    """Cells x genes matrix of summed counts of the peaks Cell Ranger links to each gene."""
    table = atac.uns.get("atac", {}).get("peak_annotation")
    if table is None:
        raise MethodNotApplicable("needs atac.uns['atac']['peak_annotation'] (peak-gene links)")
    table = table.reset_index()
    gene_index = {g: j for j, g in enumerate(genes)}
    peak_index = {p: i for i, p in enumerate(atac.var_names)}
    links = [
        (peak_index[p], gene_index[g])
        for g, p in zip(table["gene"], table["peak"], strict=True)
        if g in gene_index and p in peak_index
    ]
    rows, cols = zip(*links, strict=True) if links else ((), ())
    mapping = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(atac.n_vars, len(genes))
    )
    return sparse.csr_matrix(atac.layers["counts"] @ mapping)


def _shared_profiles(dataset: BenchmarkDataset) -> tuple[np.ndarray, np.ndarray]:
    """Z-scored log-normalised RNA and ATAC gene-activity profiles over the RNA genes."""
    rna, atac = dataset.mdata["rna"], dataset.mdata["atac"]
    activity = ad.AnnData(
        X=peak_gene_activity(atac, rna.var_names),
        obs=atac.obs[[]].copy(),
        var=pd.DataFrame(index=rna.var_names.copy()),
    )
    x_rna = np.asarray(log_normalized(rna).X.todense())
    x_atac = np.asarray(log_normalized(activity).X.todense())
    return zscore(x_rna), zscore(x_atac)


def _result(name: str, dataset: BenchmarkDataset, rna_emb, atac_emb) -> MethodResult:
    modality = dataset.cell_modality
    embedding = np.zeros((len(modality), rna_emb.shape[1]), dtype=np.float32)
    embedding[modality == "rna"] = rna_emb
    embedding[modality == "atac"] = atac_emb
    return MethodResult(
        name,
        embedding=embedding,
        device="cpu",
        settings={"n_components": N_COMPONENTS, "genes": "peak-gene links"},
    )


def run_gene_activity_pca(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Gene activity + log-normalise + scale each side, then one PCA of all cells."""
    require(dataset, paired=False, other="atac")
    with measure_training() as cost:
        x_rna, x_atac = _shared_profiles(dataset)
        stacked = np.vstack([x_rna, x_atac])
        stacked -= stacked.mean(axis=0)
        u, s, _ = np.linalg.svd(stacked, full_matrices=False)
        emb = u[:, :N_COMPONENTS] * s[:N_COMPONENTS]
    result = _result("GeneActivity-PCA", dataset, emb[: len(x_rna)], emb[len(x_rna) :])
    return cost.apply(result)


def run_cca(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Seurat-style CCA: SVD of ``X_rna @ X_atac.T`` over shared genes, L2-normalised."""
    require(dataset, paired=False, other="atac")
    with measure_training() as cost:
        x_rna, x_atac = _shared_profiles(dataset)
        u, _, vt = np.linalg.svd(x_rna @ x_atac.T, full_matrices=False)
        rna_emb, atac_emb = u[:, :N_COMPONENTS], vt[:N_COMPONENTS].T
        rna_emb = rna_emb / np.linalg.norm(rna_emb, axis=1, keepdims=True).clip(1e-12)
        atac_emb = atac_emb / np.linalg.norm(atac_emb, axis=1, keepdims=True).clip(1e-12)
    return cost.apply(_result("CCA", dataset, rna_emb, atac_emb))
