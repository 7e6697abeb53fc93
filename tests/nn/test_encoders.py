import torch

from scvi_contrastive.nn.encoders import TransformedEncoder
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
