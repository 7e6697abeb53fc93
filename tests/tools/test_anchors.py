import numpy as np
import pytest

from scvi_contrastive.tools import anchors
from scvi_contrastive.tools.anchors import (
    find_anchor_pairs,
    find_mnn_pairs,
    nearest_neighbors,
    shared_neighbor_scores,
)
from scvi_contrastive.tools.sketch import random_sketch


def _clusters(rng, sizes, n_features):
    centers = rng.normal(size=(len(sizes), n_features)) * 3
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return centers[labels] + 0.15 * rng.normal(size=(len(labels), n_features)), labels


def test_mnn_recovers_a_permutation():
    rng = np.random.default_rng(0)
    x_a = rng.normal(size=(50, 5))
    order = rng.permutation(50)
    x_b = x_a[order] + 1e-4 * rng.normal(size=(50, 5))
    idx_a, idx_b = find_mnn_pairs(x_a, x_b, k=1)
    np.testing.assert_array_equal(idx_a, np.arange(50))
    np.testing.assert_array_equal(order[idx_b], idx_a)


def test_shared_neighbor_scores_rank_cross_type_pairs_last():
    rng = np.random.default_rng(3)
    x_a, _ = _clusters(rng, [30, 30], 6)
    x_b = x_a + 0.05 * rng.normal(size=x_a.shape)
    same = (np.array([0, 1, 40]), np.array([2, 3, 45]))  # pairs within one cluster
    other = (np.array([0, 1, 40]), np.array([40, 41, 5]))  # pairs across the two clusters
    # With k = cluster size every neighbourhood is the cell's whole cluster, in both sets.
    np.testing.assert_array_equal(shared_neighbor_scores(x_a, x_b, *same, k=30), 1.0)
    np.testing.assert_array_equal(shared_neighbor_scores(x_a, x_b, *other, k=30), 0.0)
    # With smaller neighbourhoods, pairs within a cluster still share some, across none.
    within = shared_neighbor_scores(x_a, x_b, *same, k=10)
    assert np.all((within > 0) & (within <= 1))
    np.testing.assert_array_equal(shared_neighbor_scores(x_a, x_b, *other, k=10), 0.0)
    # A cell paired with its own copy shares its whole neighbourhood.
    np.testing.assert_allclose(shared_neighbor_scores(x_a, x_a, np.arange(5), np.arange(5)), 1)


def test_mnn_is_symmetric_and_mutual():
    rng = np.random.default_rng(1)
    x_a, x_b = rng.normal(size=(40, 4)), rng.normal(size=(30, 4))
    idx_a, idx_b = find_mnn_pairs(x_a, x_b, k=5)
    back_b, back_a = find_mnn_pairs(x_b, x_a, k=5)
    assert set(zip(idx_a, idx_b, strict=True)) == set(zip(back_a, back_b, strict=True))
    neighbours_of_a = nearest_neighbors(x_a, x_b, 5)
    neighbours_of_b = nearest_neighbors(x_b, x_a, 5)
    for i, j in zip(idx_a, idx_b, strict=True):
        assert j in neighbours_of_a[i] and i in neighbours_of_b[j]


def test_mnn_clips_k_and_checks_shapes():
    rng = np.random.default_rng(2)
    idx_a, idx_b = find_mnn_pairs(rng.normal(size=(20, 3)), rng.normal(size=(4, 3)), k=100)
    # k is clipped to the size of the other set, so every pair is mutual.
    assert len(idx_a) == 20 * 4 and set(idx_b) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="same number of columns"):
        find_mnn_pairs(rng.normal(size=(5, 3)), rng.normal(size=(5, 4)))
    with pytest.raises(ValueError, match="`k`"):
        nearest_neighbors(rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), 6)


@pytest.mark.slow  # pynndescent compiles its numba kernels on first use (about 30 s)
def test_approximate_search_matches_exact(monkeypatch):
    rng = np.random.default_rng(3)
    x, _ = _clusters(rng, [100, 100, 100], 8)
    exact = nearest_neighbors(x[:150], x[150:], 5)
    monkeypatch.setattr(anchors, "EXACT_SEARCH_MAX_CELLS", 0)
    approximate = nearest_neighbors(x[:150], x[150:], 5)
    overlap = np.mean([len(set(e) & set(a)) / 5 for e, a in zip(exact, approximate, strict=True)])
    assert overlap > 0.9


def _pair_set(idx_a, idx_b) -> set[tuple[int, int]]:
    return set(zip(idx_a.tolist(), idx_b.tolist(), strict=True))


def _overlapping_types(rng, n_cells, n_types=5, n_features=10, noise=2.0):
    """Cells of a few types whose clouds touch, so that some neighbours cross types."""
    centers = rng.normal(size=(n_types, n_features)) * 3
    labels = rng.choice(n_types, n_cells)
    return centers[labels] + noise * rng.normal(size=(n_cells, n_features)), labels


def test_anchor_pairs_of_sets_no_larger_than_the_sketch_are_the_exact_ones():
    rng = np.random.default_rng(5)
    x, _ = _overlapping_types(rng, 600)
    x_a, x_b = x[:300], x[300:]
    exact = find_mnn_pairs(x_a, x_b, k=10)
    for max_cells in (None, 300, 10_000):
        pairs = find_anchor_pairs(x_a, x_b, k=10, max_cells=max_cells)
        np.testing.assert_array_equal(np.stack(pairs), np.stack(exact))
    kept = find_anchor_pairs(x_a, x_b, k=10, keep=0.5, max_cells=300)
    scores = shared_neighbor_scores(x_a, x_b, *exact)
    best = scores >= np.quantile(scores, 0.5)
    np.testing.assert_array_equal(np.stack(kept), np.stack(exact)[:, best])
    with pytest.raises(ValueError, match="`keep`"):
        find_anchor_pairs(x_a, x_b, keep=0.0)


def test_sketched_anchors_are_mutual_neighbours_of_the_whole_sets():
    rng = np.random.default_rng(0)
    x, labels = _overlapping_types(rng, 4_000)
    x_a, x_b, labels_a, labels_b = x[:2_000], x[2_000:] + 0.1, labels[:2_000], labels[2_000:]
    k, max_cells = 10, 500  # a sketch of a quarter of each set
    idx_a, idx_b = find_anchor_pairs(x_a, x_b, k=k, max_cells=max_cells, random_state=3)
    assert idx_a.shape == idx_b.shape and len(idx_a) > 1_000
    assert np.all(np.diff(idx_a) >= 0)
    # Only sketched cells are anchors, and the sketch follows the seed.
    assert set(idx_a) <= set(random_sketch(2_000, max_cells, 3))
    assert set(idx_b) <= set(random_sketch(2_000, max_cells, 3))
    # Among a quarter of the cells, the k nearest stand for the 4 k nearest of the whole set:
    # about nine in ten sketched anchors are mutual neighbours there, all at twice that.
    sketched = _pair_set(idx_a, idx_b)
    scale = 2_000 // max_cells
    for factor, least in ((1, 0.85), (2, 0.99)):
        whole = _pair_set(*find_mnn_pairs(x_a, x_b, k=factor * scale * k))
        assert len(sketched & whole) / len(sketched) >= least, factor
    # And they join cells of one type as often as the exact anchors do.
    exact_a, exact_b = find_mnn_pairs(x_a, x_b, k=k)
    agree = np.mean(labels_a[idx_a] == labels_b[idx_b])
    assert agree >= np.mean(labels_a[exact_a] == labels_b[exact_b]) - 0.02


@pytest.mark.slow  # pynndescent compiles its numba kernels on first use (about 30 s)
def test_approximate_anchor_pairs_are_mostly_exact_ones(monkeypatch):
    rng = np.random.default_rng(1)
    x, _ = _overlapping_types(rng, 4_000)
    exact = _pair_set(*find_anchor_pairs(x[:2_000], x[2_000:], k=10))
    monkeypatch.setattr(anchors, "EXACT_SEARCH_MAX_CELLS", 0)
    pairs = _pair_set(*find_anchor_pairs(x[:2_000], x[2_000:], k=10))
    assert len(pairs & exact) / len(pairs) >= 0.9
    assert len(pairs) >= 0.8 * len(exact)
