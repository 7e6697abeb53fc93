import numpy as np

from scvi_contrastive.tools.anchors import nearest_neighbors
from scvi_contrastive.tools.optimal_transport import (
    gromov_wasserstein,
    sinkhorn,
    structural_embedding,
)


def test_sinkhorn_plan_has_the_marginals():
    rng = np.random.default_rng(5)
    w_a, w_b = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(4))
    plan = sinkhorn(w_a, w_b, rng.random((6, 4)), epsilon=0.05, n_iter=500)
    np.testing.assert_allclose(plan.sum(axis=1), w_a, atol=1e-6)
    np.testing.assert_allclose(plan.sum(axis=0), w_b, atol=1e-6)


def test_gromov_wasserstein_matches_isometric_spaces():
    rng = np.random.default_rng(6)
    points = rng.normal(size=(8, 2)) * np.arange(1, 9)[:, None]  # no symmetry to confuse it
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    distances /= distances.max()
    order = rng.permutation(8)
    weights = np.full(8, 1 / 8)
    plan = gromov_wasserstein(distances, distances[order][:, order], weights, weights)
    assert np.mean(order[plan.argmax(axis=1)] == np.arange(8)) >= 0.75


def test_structural_embedding_aligns_sets_without_shared_features():
    rng = np.random.default_rng(7)
    centers = rng.normal(size=(3, 20)) * 3
    labels_a = np.repeat(np.arange(3), [150, 60, 30])
    labels_b = np.repeat(np.arange(3), [75, 30, 15])
    x_a = centers[labels_a] + 0.2 * rng.normal(size=(len(labels_a), 20))
    # The same cell states seen through other features: no feature is shared.
    x_b = (centers[labels_b] + 0.2 * rng.normal(size=(len(labels_b), 20))) @ rng.normal(
        size=(20, 8)
    )
    z_a, z_b = structural_embedding(x_a, x_b, n_components=5, n_metacells=12)
    assert z_a.shape == (240, 5) and z_b.shape == (120, 5)
    nearest = nearest_neighbors(z_b, z_a, 1, metric="euclidean")[:, 0]
    assert np.mean(labels_a[nearest] == labels_b) > 0.9
