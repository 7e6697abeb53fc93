import numpy as np
import pytest
import torch

from scvi_contrastive.nn.fusion import AttentionFusion, WeightedConcatFusion, cluster_fit_weights


def test_weights_follow_measured_modalities():
    torch.manual_seed(0)
    fusion = AttentionFusion(n_latent=4, n_modalities=3)
    embeddings = [torch.randn(5, 4) for _ in range(3)]
    observed = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]]).float()
    joint, weights = fusion(embeddings, observed)
    assert joint.shape == (5, 4) and torch.isfinite(joint).all()
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(5))
    assert (weights[observed == 0] == 0).all()
    torch.testing.assert_close(weights[2], torch.tensor([0.0, 1.0, 0.0]))


def test_missing_modality_does_not_change_the_others_contribution():
    torch.manual_seed(0)
    fusion = AttentionFusion(n_latent=3, n_modalities=2)
    with torch.no_grad():
        fusion.mix.weight.zero_()
        fusion.mix.weight[:, :3] = torch.eye(3)  # the joint embedding reads the first modality
        fusion.mix.bias.zero_()
    z = [torch.randn(1, 3), torch.randn(1, 3)]
    alone, _ = fusion(z, torch.tensor([[1.0, 0.0]]))
    # A cell measured only in modality 0 keeps that embedding at full scale.
    torch.testing.assert_close(alone, z[0])


def test_gradients_reach_every_modality():
    fusion = AttentionFusion(n_latent=4, n_modalities=2)
    embeddings = [torch.randn(6, 4, requires_grad=True) for _ in range(2)]
    joint, _ = fusion(embeddings, torch.ones(6, 2))
    joint.pow(2).sum().backward()
    assert all(e.grad is not None and e.grad.abs().sum() > 0 for e in embeddings)


def test_weighted_concat_blocks_follow_weights_scales_and_measured_modalities():
    fusion = WeightedConcatFusion(n_latent=2, n_modalities=2)
    fusion.set_weights(torch.tensor([3.0, 1.0]), torch.tensor([2.0, 0.5]))
    torch.testing.assert_close(fusion.weights, torch.tensor([0.75, 0.25]))
    z = [torch.ones(2, 2), torch.ones(2, 2)]
    joint, weights = fusion(z, torch.tensor([[1.0, 1.0], [1.0, 0.0]]))
    assert joint.shape == (2, 4)
    torch.testing.assert_close(joint[0], torch.tensor([0.75**0.5 / 2] * 2 + [0.25**0.5 / 0.5] * 2))
    # The unmeasured modality's block is zero and its weight goes to the measured one.
    torch.testing.assert_close(joint[1, 2:], torch.zeros(2))
    torch.testing.assert_close(weights, torch.tensor([[0.75, 0.25], [1.0, 0.0]]))


@pytest.mark.parametrize(
    ("n_latent", "widths"), [(np.int64(3), [3, 3]), ((4, 2), [4, 2]), (3, [3, 3])]
)
def test_weighted_concat_takes_one_width_or_one_per_modality(n_latent, widths):
    fusion = WeightedConcatFusion(n_latent=n_latent, n_modalities=2)
    assert fusion.widths == widths and fusion.n_output == sum(widths)


def test_cluster_fit_weights_favour_the_view_that_fits_the_clusters():
    generator = torch.Generator().manual_seed(0)
    clusters = torch.arange(4).repeat_interleave(50)
    centres = 5.0 * torch.randn(4, 3, generator=generator)
    clean = centres[clusters] + 0.1 * torch.randn(200, 3, generator=generator)
    noisy = 3.0 * torch.randn(200, 3, generator=generator)
    weights, scales = cluster_fit_weights([clean, noisy], clusters)
    assert weights[0] > 0.95 and weights.sum().item() == pytest.approx(1.0)
    rms = [(z - z.mean(0)).pow(2).sum(1).mean().sqrt() for z in (clean, noisy)]
    torch.testing.assert_close(scales, torch.stack(rms))
    equal, _ = cluster_fit_weights([clean, noisy], clusters, power=0.0)
    torch.testing.assert_close(equal, torch.tensor([0.5, 0.5]))
