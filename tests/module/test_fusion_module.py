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


@pytest.mark.parametrize(
    ("n_features", "expected"),
    [
        ({"rna": 20, "atac": 30}, "pearson_residuals"),
        ({"rna": 20, "protein": 8}, "log_normalize"),
        ({"rna": 20, "protein": 8, "atac": 30}, "log_normalize"),
    ],
)
def test_the_rna_input_follows_the_modalities_unless_given(n_features, expected):
    module = ContrastiveFusionModule(n_features, n_latent=4)
    assert module.encoders["rna"].transform.kind == expected
    other = "log_normalize" if expected == "pearson_residuals" else "pearson_residuals"
    module = ContrastiveFusionModule(n_features, n_latent=4, rna_input=other)
    assert module.encoders["rna"].transform.kind == other


def test_a_model_saved_with_log_normalised_rna_loads_with_that_input():
    """Saves from before RNA + ATAC defaulted to Pearson residuals do not name their input."""
    saved = ContrastiveFusionModule({"rna": 20, "atac": 30}, n_latent=4, rna_input="log_normalize")
    saved.encoders["rna"].transform.set_statistics({"feature_mean": torch.randn(20)})
    loaded = ContrastiveFusionModule({"rna": 20, "atac": 30}, n_latent=4)
    assert loaded.encoders["rna"].transform.kind == "pearson_residuals"
    loaded.load_state_dict(saved.state_dict())
    assert loaded.encoders["rna"].transform.kind == "log_normalize"
    counts = torch.poisson(torch.full((6, 20), 3.0))
    torch.testing.assert_close(
        loaded.encoders["rna"].transform(counts), saved.encoders["rna"].transform(counts)
    )
    # A fitted Pearson transform (the genes' shares as weights) keeps its kind.
    shares = torch.full((20,), 1 / 20)
    saved = ContrastiveFusionModule({"rna": 20, "atac": 30}, n_latent=4)
    saved.encoders["rna"].transform.set_statistics({"feature_weight": shares})
    loaded.load_state_dict(saved.state_dict())
    assert loaded.encoders["rna"].transform.kind == "pearson_residuals"
