"""Scores for joint embeddings: clustering, pairing, label transfer, mixing and scIB tables.

Every function takes plain numpy arrays (or an AnnData for :func:`scib_table`) so that models,
tests and the benchmark runner score embeddings the same way. The clustering protocol is the one
of ``shared/notes/anchors.md``: KMeans with ``k`` = number of labels (``n_init=10``, seed 0) and
Leiden on a 15-nearest-neighbour graph at the resolution whose cluster count is nearest ``k``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    balanced_accuracy_score,
    normalized_mutual_info_score,
)
from sklearn.neighbors import KNeighborsClassifier

from ..tools.clustering import DEFAULT_RESOLUTIONS, leiden_nearest_k
from ..train.threads import preserve_torch_threads

logger = logging.getLogger(__name__)


def _connectivities_graph(connectivities: sparse.spmatrix) -> ad.AnnData:
    """AnnData holding a ready cell-by-cell graph, as scanpy's Leiden expects it."""
    adata = ad.AnnData(obs=pd.DataFrame(index=np.arange(connectivities.shape[0]).astype(str)))
    adata.obsp["connectivities"] = sparse.csr_matrix(connectivities)
    adata.uns["neighbors"] = {"connectivities_key": "connectivities", "params": {}}
    return adata


# scikit-learn's and scanpy's thread handling leaves torch on every core; a model trained
# later in the same process (tests, the runner) would then oversubscribe the CPU.
@preserve_torch_threads()
def cluster_scores(
    embedding: np.ndarray | None,
    labels: np.ndarray,
    n_neighbors: int = 15,
    resolutions: tuple[float, ...] = DEFAULT_RESOLUTIONS,
    seed: int = 0,
    connectivities: sparse.spmatrix | None = None,
) -> dict[str, float]:
    """ARI and NMI of Leiden and KMeans clusterings against known labels.

    Parameters
    ----------
    embedding
        ``(n_cells, d)`` joint embedding. May be ``None`` when ``connectivities`` is given; the
        KMeans scores are then NaN.
    labels
        Known cell types, one per cell.
    n_neighbors
        Neighbours of the Leiden kNN graph.
    resolutions
        Leiden resolutions searched for the cluster count nearest the number of labels.
    seed
        Random state of KMeans (``n_init=10``), the neighbour search and Leiden.
    connectivities
        Optional ready graph for Leiden (e.g. a WNN graph) instead of a kNN graph of
        ``embedding``.

    Returns
    -------
    ``leiden_ari``, ``leiden_nmi``, ``leiden_resolution``, ``leiden_n_clusters``,
    ``kmeans_ari``, ``kmeans_nmi``.

    """
    labels = np.asarray(labels)
    k = len(np.unique(labels))
    leiden, resolution = leiden_nearest_k(
        k,
        embedding=None if connectivities is not None else embedding,
        graph=None if connectivities is None else _connectivities_graph(connectivities),
        n_neighbors=n_neighbors,
        resolutions=resolutions,
        seed=seed,
    )
    scores = {
        "leiden_ari": float(adjusted_rand_score(labels, leiden)),
        "leiden_nmi": float(normalized_mutual_info_score(labels, leiden)),
        "leiden_resolution": resolution,
        "leiden_n_clusters": len(np.unique(leiden)),
        "kmeans_ari": float("nan"),
        "kmeans_nmi": float("nan"),
    }
    if embedding is not None:
        kmeans = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(embedding)
        scores["kmeans_ari"] = float(adjusted_rand_score(labels, kmeans))
        scores["kmeans_nmi"] = float(normalized_mutual_info_score(labels, kmeans))
    return scores


def foscttm(x: np.ndarray, y: np.ndarray, chunk_size: int = 1024) -> float:
    """Fraction of samples closer than the true match, averaged over both directions.

    Row ``i`` of ``x`` and row ``i`` of ``y`` are the two views of the same cell. For each cell,
    the fraction of the other view's cells that lie closer (Euclidean) than its true match is
    computed; the result is the mean over cells and over both directions (as in GLUE's
    ``scglue.metrics.foscttm``). 0 is perfect, about 0.5 is random.

    Parameters
    ----------
    x, y
        ``(n_cells, d)`` arrays in the same space.
    chunk_size
        Rows per block of the distance matrix, so memory stays ``O(chunk_size * n_cells)``.

    Returns
    -------
    The FOSCTTM.

    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"`x` and `y` must have the same shape, got {x.shape} and {y.shape}.")
    true_dist = np.sum((x - y) ** 2, axis=1)
    return float(
        (
            _closer_fraction(x, y, true_dist, chunk_size)
            + _closer_fraction(y, x, true_dist, chunk_size)
        )
        / 2
    )


def _closer_fraction(a: np.ndarray, b: np.ndarray, true_dist: np.ndarray, chunk: int) -> float:
    """Mean over rows of ``a`` of the fraction of rows of ``b`` closer than the true match."""
    b_sq = np.sum(b**2, axis=1)
    total = 0.0
    for start in range(0, a.shape[0], chunk):
        block = a[start : start + chunk]
        dist = np.sum(block**2, axis=1)[:, None] - 2 * block @ b.T + b_sq[None, :]
        total += np.sum(dist < true_dist[start : start + chunk, None] - 1e-12)
    return total / (a.shape[0] * b.shape[0])


def knn_label_transfer(
    ref_embedding: np.ndarray,
    ref_labels: np.ndarray,
    query_embedding: np.ndarray,
    k: int = 15,
) -> tuple[np.ndarray, np.ndarray]:
    """Transfer labels from reference cells to query cells by a kNN vote in a shared space.

    Parameters
    ----------
    ref_embedding
        ``(n_ref, d)`` embedding of the labelled cells.
    ref_labels
        Labels of the reference cells.
    query_embedding
        ``(n_query, d)`` embedding of the cells to label.
    k
        Neighbours voting (uniform weights).

    Returns
    -------
    Predicted labels and the fraction of neighbours that voted for them.

    """
    clf = KNeighborsClassifier(n_neighbors=min(k, len(ref_labels)))
    clf.fit(np.asarray(ref_embedding), np.asarray(ref_labels))
    proba = clf.predict_proba(np.asarray(query_embedding))
    best = proba.argmax(axis=1)
    return clf.classes_[best], proba[np.arange(len(best)), best]


def label_transfer_accuracy(true: np.ndarray, predicted: np.ndarray) -> float:
    """Fraction of query cells whose transferred label equals the known one."""
    true, predicted = np.asarray(true), np.asarray(predicted)
    return float(np.mean(true == predicted))


def label_transfer_balanced_accuracy(true: np.ndarray, predicted: np.ndarray) -> float:
    """Label-transfer accuracy averaged over cell types, so rare types weigh as much."""
    return float(balanced_accuracy_score(np.asarray(true), np.asarray(predicted)))


def knn_neighbors(embedding: np.ndarray, n_neighbors: int):
    """Exact kNN of every row (itself first) as scib-metrics' ``NeighborsResults``.

    scikit-learn's exact search, not pynndescent: no numba compilation on first use, and fast
    for the low-dimensional embeddings benchmarked here.
    """
    from scib_metrics.nearest_neighbors import NeighborsResults
    from sklearn.neighbors import NearestNeighbors

    embedding = np.asarray(embedding, dtype=np.float32)
    n_neighbors = min(n_neighbors, embedding.shape[0] - 1)
    distances, indices = NearestNeighbors(n_neighbors=n_neighbors).fit(embedding).kneighbors()
    self_column = np.arange(embedding.shape[0])[:, None]
    return NeighborsResults(
        indices=np.hstack([self_column, indices[:, :-1]]),
        distances=np.hstack([np.zeros_like(distances[:, :1]), distances[:, :-1]]),
    )


def omics_mixing(embedding: np.ndarray, modality: np.ndarray, n_neighbors: int = 90) -> float:
    """How well the cells of different modalities mix in a joint space (scaled iLISI).

    Parameters
    ----------
    embedding
        ``(n_cells, d)`` joint embedding of the cells of all modalities.
    modality
        The modality each row came from.
    n_neighbors
        Neighbours of the kNN graph (scib-metrics uses 90 for LISI).

    Returns
    -------
    ``scib_metrics.ilisi_knn`` scaled to 0..1: 0 = modalities apart, 1 = perfectly mixed.

    """
    import scib_metrics

    neighbors = knn_neighbors(embedding, n_neighbors)
    return float(scib_metrics.ilisi_knn(neighbors, np.asarray(modality), scale=True))


def cell_type_preservation(
    embedding: np.ndarray, labels: np.ndarray, n_neighbors: int = 90
) -> dict[str, float]:
    """How well an embedding keeps cell types apart (scib-metrics' bio-conservation scores).

    Parameters
    ----------
    embedding
        ``(n_cells, d)`` embedding.
    labels
        Cell types.
    n_neighbors
        Neighbours of the kNN graph for cLISI.

    Returns
    -------
    ``silhouette_label`` (rescaled to 0..1) and ``clisi`` (scaled, 1 = pure neighbourhoods).

    """
    import scib_metrics

    labels = np.asarray(labels)
    neighbors = knn_neighbors(embedding, n_neighbors)
    return {
        "silhouette_label": float(scib_metrics.silhouette_label(embedding, labels)),
        "clisi": float(scib_metrics.clisi_knn(neighbors, labels, scale=True)),
    }


@dataclass
class ScibTable:
    """Results of :func:`scib_table`.

    Attributes
    ----------
    results
        scib-metrics' results DataFrame (metrics in columns, embeddings in rows, plus the
        ``Metric Type`` row).
    batch_metrics
        Whether batch-correction metrics were computed.
    note
        Why batch metrics were skipped, if they were.
    benchmarker
        The underlying :class:`scib_metrics.benchmark.Benchmarker`.

    """

    results: pd.DataFrame
    batch_metrics: bool
    note: str
    benchmarker: object

    def save_plot(self, path: str | os.PathLike) -> str:
        """Save scib-metrics' results table (``Benchmarker.plot_results_table``) as a PNG."""
        import matplotlib.pyplot as plt

        table = self.benchmarker.plot_results_table(show=False)
        fig = table.ax.figure
        fig.savefig(path, facecolor=table.ax.get_facecolor(), dpi=150, bbox_inches="tight")
        plt.close(fig)
        return str(path)


def scib_table(
    adata: ad.AnnData,
    embedding_keys: list[str],
    label_key: str,
    batch_key: str | None = None,
    pre_integrated_key: str | None = None,
    n_jobs: int = 1,
) -> ScibTable:
    """Run scib-metrics' :class:`~scib_metrics.benchmark.Benchmarker` on several embeddings.

    Bio-conservation metrics are always computed. Batch-correction metrics are computed only
    when ``batch_key`` names a column with more than one category: with a single batch they
    measure nothing, so they are skipped and :attr:`ScibTable.note` says so.

    Parameters
    ----------
    adata
        AnnData whose ``.obsm`` holds the embeddings and ``.obs`` the labels (and batches).
    embedding_keys
        ``.obsm`` keys to compare.
    label_key
        ``.obs`` column of cell types.
    batch_key
        ``.obs`` column of batches, or ``None``.
    pre_integrated_key
        ``.obsm`` key of an unintegrated embedding for scib's PCR comparison. If ``None`` and
        batch metrics run, scib-metrics computes a PCA of ``adata.X``; without ``adata.X``
        the PCR comparison is skipped.
    n_jobs
        Threads of the neighbour search.

    Returns
    -------
    A :class:`ScibTable`.

    """
    from scib_metrics.benchmark import BatchCorrection, Benchmarker, BioConservation

    n_batches = adata.obs[batch_key].nunique() if batch_key is not None else 1
    note = ""
    pca_of_x = n_batches > 1 and pre_integrated_key is None and adata.X is not None
    work = ad.AnnData(
        X=adata.X if pca_of_x else None,
        obs=adata.obs[[label_key]].copy(),
        obsm={k: np.asarray(adata.obsm[k]) for k in embedding_keys},
    )
    if n_batches > 1:
        work.obs["_batch"] = adata.obs[batch_key].astype(str).to_numpy()
        has_pre = pre_integrated_key is not None or pca_of_x
        batch_metrics = BatchCorrection(pcr_comparison=has_pre)
        if not has_pre:
            note = "no unintegrated data (adata.X or pre_integrated_key): PCR comparison skipped"
    else:
        note = "one batch only: batch-correction metrics skipped (they would measure nothing)"
        logger.info("scib_table: %s", note)
        work.obs["_batch"] = "single"
        batch_metrics = None
    if pre_integrated_key is not None:
        work.obsm["_pre"] = np.asarray(adata.obsm[pre_integrated_key])
    elif batch_metrics is None or not batch_metrics.pcr_comparison:
        work.obsm["_pre"] = np.asarray(adata.obsm[embedding_keys[0]])  # not used by any metric
    bench = Benchmarker(
        work,
        batch_key="_batch",
        label_key=label_key,
        embedding_obsm_keys=list(embedding_keys),
        bio_conservation_metrics=BioConservation(),
        batch_correction_metrics=batch_metrics,
        pre_integrated_embedding_obsm_key="_pre" if "_pre" in work.obsm else None,
        n_jobs=n_jobs,
        progress_bar=False,
    )
    bench.prepare(neighbor_computer=knn_neighbors)
    bench.benchmark()
    return ScibTable(bench.get_results(min_max_scale=False), n_batches > 1, note, bench)
