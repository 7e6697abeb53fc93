"""The paired fusion module's gradient routing between modality blocks."""

import pytest
import torch

from scvi_contrastive.module.fusion import ContrastiveFusionModule


def _block_gradients(module, modality, n_latent=4):
    z = torch.randn(5, n_latent * len(module.modalities), requires_grad=True)
    out = module._decoder_inputs(z)[module.modalities.index(modality)]
    torch.testing.assert_close(out, z)
    out.sum().backward()
    return [float(block.mean()) for block in z.grad.split(n_latent, dim=1)]


def test_a_low_weight_modality_barely_moves_the_other_block_through_its_decoder():
    module = ContrastiveFusionModule({"rna": 20, "atac": 30}, n_latent=4)
    module.fusion.set_weights(torch.tensor([0.9, 0.1]), torch.ones(2))
    # ATAC's reconstruction reaches the RNA block at 0.1 / 0.9 of its strength, its own fully.
    assert _block_gradients(module, "atac") == pytest.approx([0.1 / 0.9, 1.0])
    # RNA's reconstruction moves both blocks fully.
    assert _block_gradients(module, "rna") == pytest.approx([1.0, 1.0])


def test_equal_weights_or_switched_off_leave_the_gradient_alone():
    module = ContrastiveFusionModule({"rna": 20, "protein": 8}, n_latent=4)
    assert _block_gradients(module, "protein") == pytest.approx([1.0, 1.0])
    module = ContrastiveFusionModule(
        {"rna": 20, "protein": 8}, n_latent=4, asymmetric_reconstruction=False
    )
    module.fusion.set_weights(torch.tensor([0.9, 0.1]), torch.ones(2))
    assert _block_gradients(module, "protein") == pytest.approx([1.0, 1.0])
