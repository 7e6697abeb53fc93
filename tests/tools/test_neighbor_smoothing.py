import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from scvi_contrastive.tools.neighbor_smoothing import smooth_along_neighbors


def _noisy_embedding_clean_representation(seed: int):
    """Three types: the embedding barely separates them, the own-space representation does."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), 100)
    centres = rng.normal(size=(3, 8))
    embedding = 0.4 * centres[labels] + rng.normal(size=(300, 8))
    representation = 3.0 * rng.normal(size=(3, 20))[labels] + rng.normal(size=(300, 20))
    return embedding, representation, labels


def _transfer(embedding, labels, reference):
    """kNN accuracy of the other cells' labels, predicted from the reference cells."""
    knn = KNeighborsClassifier(15).fit(embedding[reference], labels[reference])
    return knn.score(embedding[~reference], labels[~reference])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_smoothing_carries_the_own_space_structure_and_keeps_the_spread(seed):
    embedding, representation, labels = _noisy_embedding_clean_representation(seed)
    reference = np.random.default_rng(seed).random(300) < 0.5
    smoothed = smooth_along_neighbors(embedding, representation)
    assert smoothed.shape == embedding.shape and np.isfinite(smoothed).all()
    np.testing.assert_allclose(smoothed.mean(axis=0), embedding.mean(axis=0), atol=1e-10)
    np.testing.assert_allclose(smoothed.var(axis=0).sum(), embedding.var(axis=0).sum())
    assert _transfer(smoothed, labels, reference) > _transfer(embedding, labels, reference) + 0.1


def test_weight_zero_leaves_the_embedding_and_the_input_is_not_changed():
    embedding, representation, _ = _noisy_embedding_clean_representation(0)
    before = embedding.copy()
    np.testing.assert_allclose(
        smooth_along_neighbors(embedding, representation, weight=0.0), before
    )
    np.testing.assert_array_equal(embedding, before)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"representation": np.ones((299, 4))}, "same cells"),
        ({"embedding": np.full((300, 8), np.nan)}, "finite"),
        ({"n_neighbors": 300}, "n_neighbors"),
        ({"weight": 1.5}, "weight"),
        ({"embedding": np.ones(300)}, "2-d"),
    ],
)
def test_bad_input_is_refused_with_the_argument_named(kwargs, message):
    embedding, representation, _ = _noisy_embedding_clean_representation(0)
    arguments = {"embedding": embedding, "representation": representation, **kwargs}
    with pytest.raises(ValueError, match=message):
        smooth_along_neighbors(**arguments)
