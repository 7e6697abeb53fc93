"""Score one method's result on one benchmark task with the functions of :mod:`.metrics`."""

from __future__ import annotations

import logging

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.metrics import (
    cell_type_preservation,
    cluster_scores,
    foscttm,
    knn_label_transfer,
    label_transfer_accuracy,
    label_transfer_balanced_accuracy,
    omics_mixing,
)
from scvi_contrastive.benchmark.result import MethodResult

logger = logging.getLogger(__name__)

#: Metrics where lower is better (the report's ratios say so).
LOWER_IS_BETTER = frozenset({"foscttm"})

#: Suffix of the scores computed against the fine labels (``leiden_ari_fine``, ...).
FINE_SUFFIX = "_fine"


def score_result(dataset: BenchmarkDataset, result: MethodResult, seed: int = 0) -> dict:
    """All applicable scores of ``result`` on ``dataset`` (empty when the method did not run).

    Paired tasks: :func:`~.metrics.cluster_scores`, :func:`~.metrics.cell_type_preservation`
    and the method's own clusters against the labels. Unpaired tasks: clustering of all cells,
    kNN label transfer from the RNA cells to the other modality's cells, omics mixing and, when
    the true pairs are known, FOSCTTM. Where the set has fine labels, the label-based scores are
    computed against them too, under the same names with :data:`FINE_SUFFIX`. Rows with NaN
    (cells a method left out) are skipped, and so are cells labelled ``"unassigned"`` in
    label-based scores (marker-derived labels leave ambiguous cells out; clusterings are then
    computed on the labelled cells only).
    """
    if not result.ok:
        return {}
    scores: dict = {}
    emb = result.embedding
    finite = np.ones(dataset.mdata.n_obs, bool) if emb is None else np.isfinite(emb).all(axis=1)
    if not finite.all():
        scores["n_cells_scored"] = int(finite.sum())
    labels = dataset.labels
    if labels is not None:
        labelled = finite & dataset.labelled
        if not labelled.all():
            scores["n_cells_labelled"] = int(labelled.sum())
        for suffix, level in _label_levels(dataset).items():
            level_scores = _label_scores(emb, result, level, labelled, seed)
            scores.update({f"{k}{suffix}": v for k, v in level_scores.items()})
    if not dataset.paired and emb is not None:
        scores.update(_alignment_scores(dataset, emb, finite))
    return scores


def _label_levels(dataset: BenchmarkDataset) -> dict[str, np.ndarray]:
    """Score-name suffix -> labels: the coarse labels, and the fine ones where the set has them."""
    levels = {"": dataset.labels}
    if dataset.fine_labels is not None:
        levels[FINE_SUFFIX] = dataset.fine_labels
    return levels


def _label_scores(emb, result: MethodResult, labels, rows, seed) -> dict:
    graph = result.connectivities
    scores = cluster_scores(
        None if emb is None else emb[rows],
        labels[rows],
        seed=seed,
        connectivities=None if graph is None else graph[rows][:, rows],
    )
    if emb is not None:
        scores.update(cell_type_preservation(emb[rows], labels[rows]))
    if result.clusters is not None:
        clusters = np.asarray(result.clusters)[rows]
        scores["own_clusters_ari"] = float(adjusted_rand_score(labels[rows], clusters))
        scores["own_clusters_nmi"] = float(normalized_mutual_info_score(labels[rows], clusters))
    return scores


def _alignment_scores(dataset: BenchmarkDataset, emb, finite) -> dict:
    modality = dataset.cell_modality
    scores = {"omics_mixing": omics_mixing(emb[finite], modality[finite])}
    if dataset.labels is not None:
        labelled = finite & dataset.labelled
        ref = labelled & (modality == "rna")
        query = labelled & (modality != "rna")
        for suffix, labels in _label_levels(dataset).items():
            predicted, _ = knn_label_transfer(emb[ref], labels[ref], emb[query])
            truth = labels[query]
            scores[f"label_transfer_accuracy{suffix}"] = label_transfer_accuracy(truth, predicted)
            scores[f"label_transfer_balanced_accuracy{suffix}"] = label_transfer_balanced_accuracy(
                truth, predicted
            )
    if dataset.true_pairs is not None:
        rows_a, rows_b = dataset.true_pairs
        both = finite[rows_a] & finite[rows_b]
        scores["foscttm"] = foscttm(emb[rows_a[both]], emb[rows_b[both]])
        scores["foscttm_n_pairs"] = int(both.sum())
    return scores
