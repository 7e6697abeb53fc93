import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from scvi_contrastive.tools.clustering import (
    initial_centers,
    leiden_best_silhouette,
    leiden_nearest_k,
)


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
