import pytest
import torch

from scvi_contrastive.nn.encoders import CountEncoder, TransformedEncoder
from scvi_contrastive.nn.input_transform import InputTransform


def _encoder(n_layers: int, variational: bool = False) -> TransformedEncoder:
    transform = InputTransform(20, 6, "clr")
    transform.set_statistics({"loadings": torch.linalg.qr(torch.randn(20, 6))[0]})
    return TransformedEncoder(transform, 4, n_hidden=8, n_layers=n_layers, variational=variational)


def test_training_starts_from_the_first_components():
    torch.manual_seed(0)
    counts = torch.poisson(torch.full((5, 20), 3.0))
    for n_layers in (0, 2):
        encoder = _encoder(n_layers).eval()
        torch.testing.assert_close(encoder(counts), encoder.transform(counts)[:, :4])


def test_variational_encoder_gives_a_posterior_and_gradients_reach_the_correction():
    torch.manual_seed(0)
    encoder = _encoder(2, variational=True)
    posterior = encoder(torch.poisson(torch.full((5, 20), 3.0)))
    assert posterior.mean.shape == (5, 4) and (posterior.stddev > 0).all()
    posterior.rsample().pow(2).sum().backward()
    assert encoder.correction.head.weight.grad.abs().sum() > 0


def test_count_encoder_starts_at_its_linear_map_and_trains_the_correction():
    torch.manual_seed(0)
    counts = torch.poisson(torch.full((6, 10), 3.0))
    encoder = CountEncoder(10, 3, n_hidden=8, n_layers=1, linear_path=True)
    encoder.set_feature_scaling(torch.full((10,), 1.5), torch.full((10,), 0.5))
    weight = torch.randn(3, 10)
    encoder.start_at(weight)
    torch.testing.assert_close(encoder(counts), encoder.normalize(counts) @ weight.T)
    encoder(counts).pow(2).sum().backward()
    assert encoder.head.weight.grad.abs().sum() > 0
    assert encoder.linear.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"shape \(3, 10\)"):
        encoder.start_at(torch.randn(10, 3))
    with pytest.raises(ValueError, match="linear_path=True"):
        CountEncoder(10, 3, n_hidden=8, n_layers=1).start_at(weight)


def test_count_encoder_saved_without_the_linear_path_loads_unchanged():
    torch.manual_seed(0)
    counts = torch.poisson(torch.full((6, 10), 3.0))
    old = CountEncoder(10, 3, n_hidden=8, n_layers=1).eval()
    new = CountEncoder(10, 3, n_hidden=8, n_layers=1, linear_path=True).eval()
    new.start_at(torch.randn(3, 10))
    new.load_state_dict(old.state_dict())
    torch.testing.assert_close(new(counts), old(counts))
    assert not new.linear.weight.any()
