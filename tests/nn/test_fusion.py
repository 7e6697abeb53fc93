import torch

from scvi_contrastive.nn.fusion import AttentionFusion


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
