"""Unpaired baselines in a shared gene space: joint PCA and Seurat-style CCA.

The other modality is put in the RNA's gene space first: ATAC as gene activity (the summed
counts of the peaks a link table assigns to each gene: the data's own ``gene_peak_links`` or
Cell Ranger's ``peak_annotation``), antibodies renamed to the genes of their proteins
(:func:`~scvi_contrastive.data.protein_to_gene`). Both sides are log-normalised and z-scored
over the genes they share; then all cells are embedded together.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import LinearOperator, svds
from sklearn.utils.extmath import randomized_svd

from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.peers._base import MethodNotApplicable, RunSettings, require
from scvi_contrastive.benchmark.preprocess import log_normalized, zscore
from scvi_contrastive.benchmark.result import MethodResult, measure_training
from scvi_contrastive.data.gene_activity import gene_activity
from scvi_contrastive.data.protein_to_gene import protein_to_gene

N_COMPONENTS = 30


def link_table(atac):
    """The gene -> peak links an ATAC modality ships (its own, else Cell Ranger's), or None."""
    if "gene_peak_links" in atac.uns:
        return atac.uns["gene_peak_links"]
    return atac.uns.get("atac", {}).get("peak_annotation")


def links_gene_activity(atac):
    """Gene activity of ``atac`` through the links it ships (:func:`link_table`), or None.

    The one gene space the baselines here and BICLUM read ATAC in, where the data ship links
    (GLUE's guidance graph is built from the same table).
    """
    links = link_table(atac)
    return None if links is None else gene_activity(atac, links=links, layer="counts")


def _other_in_gene_space(dataset: BenchmarkDataset):
    """The non-RNA modality with genes as features (raw counts in ``X``)."""
    other = dataset.mdata[dataset.other]
    if dataset.other == "atac":
        activity = links_gene_activity(other)
        if activity is None:
            raise MethodNotApplicable(
                "needs gene-peak links (uns gene_peak_links/peak_annotation)"
            )
        return activity
    try:
        return protein_to_gene(other, gene_symbols=dataset.mdata["rna"].var_names)
    except ValueError as error:
        raise MethodNotApplicable("no antibody maps to a gene") from error


def _shared_profiles(dataset: BenchmarkDataset) -> tuple[np.ndarray, np.ndarray]:
    """Z-scored log-normalised RNA and other-modality profiles over their shared genes."""
    rna = dataset.mdata["rna"]
    other = _other_in_gene_space(dataset)
    other.layers["counts"] = other.X
    shared = rna.var_names.intersection(other.var_names, sort=False)
    if len(shared) == 0:
        raise MethodNotApplicable("the two modalities share no gene")
    x_rna = log_normalized(rna[:, shared]).X
    x_other = log_normalized(other[:, shared]).X
    return tuple(
        zscore(np.asarray(x.todense() if sparse.issparse(x) else x)) for x in (x_rna, x_other)
    )


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True).clip(1e-12)


def _result(name: str, dataset: BenchmarkDataset, rna_emb, other_emb) -> MethodResult:
    modality = dataset.cell_modality
    embedding = np.zeros((len(modality), rna_emb.shape[1]), dtype=np.float32)
    embedding[modality == "rna"] = rna_emb
    embedding[modality == dataset.other] = other_emb
    return MethodResult(
        name,
        embedding=embedding,
        device="cpu",
        settings={"n_components": N_COMPONENTS, "genes": "shared gene space"},
    )


def run_gene_activity_pca(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Joint truncated SVD of both sides' z-scored profiles, rows L2-normalised."""
    require(dataset, paired=False, other=("atac", "prot"))
    with measure_training() as cost:
        x_rna, x_other = _shared_profiles(dataset)
        stacked = np.vstack([x_rna, x_other])
        stacked -= stacked.mean(axis=0)
        k = min(N_COMPONENTS, min(stacked.shape) - 1)
        u, s, _ = randomized_svd(stacked, k, random_state=settings.seed)
        # Unit rows: the two sides differ in overall scale (sparser ATAC), not in direction.
        emb = _unit_rows(u * s)
    result = _result("GeneActivity-PCA", dataset, emb[: len(x_rna)], emb[len(x_rna) :])
    return cost.apply(result)


def run_cca(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Seurat-style CCA: SVD of ``X_rna @ X_other.T`` over shared genes, L2-normalised."""
    require(dataset, paired=False, other=("atac", "prot"))
    with measure_training() as cost:
        x_rna, x_other = _shared_profiles(dataset)
        # The cells x cells product is never formed: svds only needs products with vectors.
        product = LinearOperator(
            (len(x_rna), len(x_other)),
            matvec=lambda v: x_rna @ (x_other.T @ v),
            rmatvec=lambda v: x_other @ (x_rna.T @ v),
            dtype=np.float64,
        )
        k = min(N_COMPONENTS, min(product.shape) - 1)
        u, _, vt = svds(product, k=k, random_state=settings.seed)
    return cost.apply(_result("CCA", dataset, _unit_rows(u), _unit_rows(vt.T)))
