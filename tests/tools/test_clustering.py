import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from scvi_contrastive.tools.clustering import (
    MAX_CLUSTER_CELLS,
    initial_centers,
    leiden_best_silhouette,
    leiden_clusters,
    leiden_nearest_k,
)
from scvi_contrastive.tools.sketch import random_sketch


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    labels = np.repeat(np.arange(3), 80)
    return (centers[labels] + rng.normal(size=(240, 2))).astype(np.float32), labels


def test_initial_centers_kmeans_and_leiden(blobs):
    latent, _ = blobs
    kmeans = initial_centers(latent, n_clusters=3, method="kmeans")
    leiden = initial_centers(latent, n_clusters=3, method="leiden")
    automatic = initial_centers(latent)
    for centers in (kmeans, leiden, automatic):
        assert centers.shape == (3, 2)
        nearest = np.linalg.norm(centers[:, None] - np.array([[0, 0], [10, 0], [0, 10]]), axis=2)
        assert nearest.min(axis=1).max() < 1.0
    with pytest.raises(ValueError, match="n_clusters"):
        initial_centers(latent, method="kmeans")


def test_leiden_selection_recovers_blobs(blobs):
    latent, labels = blobs
    clusters, resolution = leiden_best_silhouette(latent)
    assert adjusted_rand_score(labels, clusters) > 0.95 and resolution > 0
    nearest, _ = leiden_nearest_k(3, latent)
    assert len(np.unique(nearest)) == 3
    assert adjusted_rand_score(labels, nearest) > 0.95


def _three_blobs(n_cells: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n_cells)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    return (centers[labels] + rng.normal(size=(n_cells, 2))).astype(np.float32), labels


def test_leiden_on_a_sketch_labels_every_cell_and_finds_the_blobs():
    latent, labels = _three_blobs(3_000)
    sketch = random_sketch(len(latent), 600, 0)
    clusters = leiden_clusters(latent, resolution=0.1, max_cells=600)
    assert clusters.shape == (3_000,)
    # The sketched cells keep the clusters Leiden gave them on the sketch.
    np.testing.assert_array_equal(
        clusters[sketch], leiden_clusters(latent[sketch], resolution=0.1, max_cells=None)
    )
    # The other cells join their blob's cluster.
    assert adjusted_rand_score(labels, clusters) == 1.0


def test_sketches_as_large_as_the_data_change_nothing(blobs):
    latent, _ = blobs
    for max_cells in (len(latent), MAX_CLUSTER_CELLS):
        np.testing.assert_array_equal(
            leiden_clusters(latent, max_cells=max_cells), leiden_clusters(latent, max_cells=None)
        )
        for method in ("kmeans", "leiden"):
            np.testing.assert_array_equal(
                initial_centers(latent, 3, method=method, max_cells=max_cells),
                initial_centers(latent, 3, method=method, max_cells=None),
            )


def test_initial_centers_on_a_sketch_are_its_clusters_means():
    latent, _ = _three_blobs(3_000)
    sketch = random_sketch(len(latent), 500, 0)
    for method in ("kmeans", "leiden"):
        centers = initial_centers(latent, 3, method=method, max_cells=500)
        np.testing.assert_array_equal(
            centers, initial_centers(latent[sketch], 3, method=method, max_cells=None)
        )
        nearest = np.linalg.norm(centers[:, None] - np.array([[0, 0], [10, 0], [0, 10]]), axis=2)
        assert nearest.min(axis=1).max() < 1.0
