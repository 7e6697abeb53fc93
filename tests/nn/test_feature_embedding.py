import numpy as np
import torch

from scvi_contrastive.nn.feature_embedding import FeatureEncoder
from scvi_contrastive.tools.metacells import metacell_sketch


def test_feature_encoder_size_does_not_depend_on_cell_count(program_data):
    sizes = []
    for n_cells in (100, 5000):
        normalized, embedding, _ = program_data(n_cells)
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
