"""Leiden and k-means clusterings of an embedding (scanpy, scikit-learn).

The clusterings a model runs during training (:func:`leiden_clusters` for SCMDCF's modality
weights, :func:`initial_centers` for its DEC centres) work on a random sketch of at most
:data:`MAX_CLUSTER_CELLS` cells (:func:`~scvi_contrastive.tools.sketch.random_sketch`): the
exact neighbour graph Leiden needs costs the square of the cells it is built on. Embeddings of
no more cells are clustered whole, exactly as without a sketch.
"""

from __future__ import annotations

from typing import Literal

import anndata as ad
import numpy as np
import scanpy as sc

from .chunks import row_chunks
from .sketch import random_sketch

#: Most cells clustered by :func:`leiden_clusters` and :func:`initial_centers`; larger
#: embeddings are clustered on a uniform random sketch of this many. Above every shipped data
#: set (at most 11,000 cells), whose clusterings are therefore unchanged; a population holding
#: 0.1 % of the cells still has about 20 cells in the sketch.
MAX_CLUSTER_CELLS = 20_000


def initial_centers(
    latent: np.ndarray,
    n_clusters: int | None = None,
    method: Literal["leiden", "kmeans"] = "leiden",
    resolution: float | None = None,
    seed: int = 0,
    max_cells: int | None = MAX_CLUSTER_CELLS,
) -> np.ndarray:
    """Cluster centres to start DEC from: the means of an initial clustering of ``latent``.

    Parameters
    ----------
    latent
        ``(n_cells, n_latent)`` embedding.
    n_clusters
        Number of clusters. With ``method="leiden"`` the Leiden resolution (0.1 to 1.5) whose
        cluster count is nearest is used. ``None`` takes the number of clusters from Leiden:
        at ``resolution`` if given, else at the resolution whose clusters have the highest
        silhouette (:func:`leiden_best_silhouette`).
    method
        ``"leiden"`` (communities of a 15-nearest-neighbour graph, which follow elongated
        and unevenly sized populations) or ``"kmeans"`` (``n_init=20``, needs
        ``n_clusters``).
    resolution
        Leiden resolution used when ``n_clusters`` is ``None``.
    seed
        Random seed of k-means, Leiden and the sketch.
    max_cells
        Cluster a uniform random sketch of at most this many cells (seeded by ``seed``); the
        centres are its clusters' means. ``None``: every cell.

    Returns
    -------
    ``(k, n_latent)`` centres.
    """
    latent = np.asarray(latent, dtype=np.float32)
    latent = latent[random_sketch(len(latent), max_cells, seed)]
    if method == "kmeans":
        if n_clusters is None:
            raise ValueError("`method='kmeans'` needs `n_clusters`.")
        from sklearn.cluster import KMeans

        return (
            KMeans(n_clusters=n_clusters, n_init=20, random_state=seed)
            .fit(latent)
            .cluster_centers_
        )
    if method != "leiden":
        raise ValueError(f"`method` must be 'leiden' or 'kmeans', got {method!r}.")
    if n_clusters is None and resolution is None:
        labels, _ = leiden_best_silhouette(latent, seed=seed)
    elif n_clusters is None:
        labels = leiden_clusters(latent, resolution=resolution, seed=seed)
    else:
        labels, _ = leiden_nearest_k(n_clusters, latent, seed=seed)
    return np.stack([latent[labels == c].mean(axis=0) for c in np.unique(labels)])


#: Resolutions searched by :func:`leiden_best_silhouette`, from coarse to fine.
SILHOUETTE_RESOLUTIONS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0)

#: Leiden resolutions searched by :func:`leiden_nearest_k` (0.1, 0.2, ..., 1.5).
DEFAULT_RESOLUTIONS = tuple(np.round(np.arange(0.1, 1.51, 0.1), 2))


def neighbors_graph(embedding: np.ndarray, n_neighbors: int = 15, seed: int = 0) -> ad.AnnData:
    """AnnData holding scanpy's ``n_neighbors``-NN graph of ``embedding`` (exact search)."""
    adata = ad.AnnData(np.asarray(embedding, dtype=np.float32))
    # Exact sklearn search: fast at the sizes clustering is run on, avoids compiling
    # pynndescent's numba kernels on first use, and works where scanpy's default does not:
    # from 8,192 cells on scanpy switches to pynndescent, whose 0.7 graphs (`csr_array`)
    # scanpy 1.11 (what Python 3.11 installs) cannot read (no `getnnz`).
    sc.pp.neighbors(
        adata, n_neighbors=n_neighbors, use_rep="X", transformer="sklearn", random_state=seed
    )
    return adata


def leiden_on_graph(adata: ad.AnnData, resolution: float = 1.0, seed: int = 0) -> np.ndarray:
    """Leiden clusters (igraph flavour) of the neighbour graph held by ``adata``."""
    sc.tl.leiden(
        adata,
        resolution=float(resolution),
        flavor="igraph",
        n_iterations=2,
        directed=False,
        random_state=seed,
        key_added="_leiden",
    )
    return adata.obs["_leiden"].to_numpy().astype(int)


def leiden_clusters(
    embedding: np.ndarray,
    resolution: float = 1.0,
    n_neighbors: int = 15,
    seed: int = 0,
    max_cells: int | None = MAX_CLUSTER_CELLS,
) -> np.ndarray:
    """Leiden clusters of a ``n_neighbors``-NN graph of ``embedding``, one integer per cell.

    Parameters
    ----------
    embedding
        ``(n_cells, d)`` array.
    resolution
        Leiden resolution.
    n_neighbors
        Neighbours of the kNN graph.
    seed
        Random state of the graph, Leiden and the sketch.
    max_cells
        Build the graph and run Leiden on a uniform random sketch of at most this many cells;
        every other cell joins the sketch's cluster with the nearest mean (scikit-learn's
        :class:`~sklearn.neighbors.NearestCentroid`). ``None``: every cell.

    Returns
    -------
    One cluster per cell; the sketched cells keep their Leiden cluster.
    """
    embedding = np.asarray(embedding)
    sketch = random_sketch(len(embedding), max_cells, seed)
    if sketch.size == len(embedding):
        return leiden_on_graph(neighbors_graph(embedding, n_neighbors, seed), resolution, seed)
    sketched = embedding[sketch]
    labels = leiden_on_graph(neighbors_graph(sketched, n_neighbors, seed), resolution, seed)
    return _nearest_cluster_mean(embedding, sketch, labels)


def _nearest_cluster_mean(
    embedding: np.ndarray, sketch: np.ndarray, labels: np.ndarray
) -> np.ndarray:
    """Clusters of every cell: the sketched cells' ``labels``, the others' nearest mean's."""
    if len(np.unique(labels)) == 1:
        return np.full(len(embedding), labels[0])
    from sklearn.neighbors import NearestCentroid

    nearest = NearestCentroid().fit(embedding[sketch], labels)
    clusters = np.empty(len(embedding), dtype=labels.dtype)
    # A chunk of cells at a time: scikit-learn copies them as float64.
    for rows in row_chunks(len(embedding)):
        clusters[rows] = nearest.predict(embedding[rows])
    clusters[sketch] = labels
    return clusters


def leiden_nearest_k(
    n_clusters: int,
    embedding: np.ndarray | None = None,
    graph: ad.AnnData | None = None,
    n_neighbors: int = 15,
    resolutions: tuple[float, ...] = DEFAULT_RESOLUTIONS,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Leiden clustering at the resolution whose cluster count is nearest ``n_clusters``.

    Parameters
    ----------
    n_clusters
        Target number of clusters.
    embedding
        ``(n_cells, d)`` array; a ``n_neighbors``-NN graph is built on it.
    graph
        An AnnData holding a ready neighbour graph (``obsp["connectivities"]``, e.g. muon's
        WNN graph), used instead of ``embedding``.
    n_neighbors
        Neighbours of the kNN graph.
    resolutions
        Resolutions tried, in order; ties go to the first one.
    seed
        Random state.

    Returns
    -------
    The clusters and the chosen resolution.
    """
    if (embedding is None) == (graph is None):
        raise ValueError("Pass exactly one of `embedding` and `graph`.")
    graph = neighbors_graph(embedding, n_neighbors, seed) if graph is None else graph
    best, best_resolution, best_gap = None, float("nan"), np.inf
    for resolution in resolutions:
        clusters = leiden_on_graph(graph, resolution, seed)
        gap = abs(len(np.unique(clusters)) - n_clusters)
        if gap < best_gap:
            best, best_resolution, best_gap = clusters, float(resolution), gap
        if gap == 0:
            break
    return best, best_resolution


def leiden_best_silhouette(
    embedding: np.ndarray,
    resolutions: tuple[float, ...] = SILHOUETTE_RESOLUTIONS,
    n_neighbors: int = 15,
    sample_size: int = 5000,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Leiden clustering at the resolution whose clusters have the highest silhouette.

    A label-free choice of the number of clusters: the partition whose clusters are, on
    average, most compact and best separated in the embedding.

    Parameters
    ----------
    embedding
        ``(n_cells, d)`` array.
    resolutions
        Resolutions tried; ties go to the first (coarsest).
    n_neighbors
        Neighbours of the kNN graph.
    sample_size
        Cells the silhouette is computed on (a random subset when there are more).
    seed
        Random state of the graph, Leiden and the subset.

    Returns
    -------
    The clusters and the chosen resolution.
    """
    from sklearn.metrics import silhouette_score

    graph = neighbors_graph(embedding, n_neighbors, seed)
    best, best_resolution, best_score = None, float("nan"), -np.inf
    for resolution in resolutions:
        clusters = leiden_on_graph(graph, resolution, seed)
        if len(np.unique(clusters)) < 2:
            continue
        score = silhouette_score(
            embedding,
            clusters,
            sample_size=min(sample_size, len(clusters)),
            random_state=seed,
        )
        if score > best_score:
            best, best_resolution, best_score = clusters, float(resolution), score
    if best is None:
        raise ValueError("Leiden found a single cluster at every resolution tried.")
    return best, best_resolution
