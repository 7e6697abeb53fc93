import numpy as np
import pytest
import torch
from scipy import sparse

from scvi_contrastive.nn.feature_embedding import FeatureEncoder, metacell_sketch


def _data(n_cells, n_features=30, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.choice(4, n_cells, p=[0.1, 0.5, 0.15, 0.25])
    programs = rng.gamma(1.0, 1.0, size=(4, n_features))
    normalized = np.log1p(rng.poisson(programs[labels] * 3)).astype(np.float32)
    embedding = programs[labels] + 0.05 * rng.normal(size=(n_cells, n_features))
    return normalized, embedding, labels


def test_sketch_shape_order_and_scale():
    normalized, embedding, labels = _data(400)
    mean, std = normalized.mean(0), normalized.std(0)
    sketch = metacell_sketch(normalized, embedding, 4, mean, std)
    assert sketch.shape == (4, 30) and sketch.dtype == np.float32
    # Four well separated programs: the metacells are the programs, largest first, standardised.
    for rank, label in enumerate([1, 3, 2, 0]):
        expected = (normalized[labels == label].mean(0) - mean) / std
        np.testing.assert_allclose(sketch[rank], expected, rtol=1e-4, atol=1e-4)


def test_sketch_is_the_same_for_sparse_input():
    normalized, embedding, _ = _data(200)
    mean, std = normalized.mean(0), normalized.std(0)
    dense = metacell_sketch(normalized, embedding, 8, mean, std)
    from_sparse = metacell_sketch(sparse.csr_matrix(normalized), embedding, 8, mean, std)
    np.testing.assert_allclose(dense, from_sparse, rtol=1e-5, atol=1e-5)


def test_sketch_rejects_more_metacells_than_cells():
    normalized, embedding, _ = _data(10)
    with pytest.raises(ValueError, match="n_metacells"):
        metacell_sketch(normalized, embedding, 11, normalized.mean(0), normalized.std(0))


def test_feature_encoder_size_does_not_depend_on_cell_count():
    sizes = []
    for n_cells in (100, 5000):
        normalized, embedding, _ = _data(n_cells)
        sketch = metacell_sketch(normalized, embedding, 16, normalized.mean(0), normalized.std(0))
        encoder = FeatureEncoder(sketch, n_output=8, n_hidden=32)
        sizes.append(sum(p.numel() for p in encoder.parameters()))
        assert encoder().shape == (30, 8)
    assert sizes[0] == sizes[1]


def test_feature_encoder_trains_and_saves_its_sketch():
    sketch = np.random.default_rng(0).normal(size=(16, 20)).astype(np.float32)
    encoder = FeatureEncoder(sketch, n_output=4, n_hidden=16)
    assert "sketch" in encoder.state_dict()
    assert not any(p is encoder.sketch for p in encoder.parameters())
    encoder().pow(2).sum().backward()
    assert all(p.grad is not None for p in encoder.parameters())
    assert encoder.n_features == 20
    torch.testing.assert_close(encoder.state_dict()["sketch"], torch.as_tensor(sketch))
