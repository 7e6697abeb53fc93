"""The paired fusion module's gradient routing between modality blocks."""

import pytest
import torch

from scvi_contrastive.module.fusion import ContrastiveFusionModule


def _block_gradients(module, modality):
    z = torch.randn(5, module.n_joint, requires_grad=True)
    out = module._decoder_inputs(z)[module.modalities.index(modality)]
    torch.testing.assert_close(out, z)
    out.sum().backward()
    return [float(block.mean()) for block in z.grad.split(module.fusion.widths, dim=1)]


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


@pytest.mark.parametrize(
    ("fusion", "n_latent_rna", "widths"),
    [("concat", None, [4, 4, 4]), ("concat", 6, [6, 4, 4]), ("attention", None, [4, 4, 4])],
)
def test_the_rna_block_takes_its_own_width_when_given(fusion, n_latent_rna, widths):
    n_features = {"rna": 20, "protein": 8, "atac": 30}
    module = ContrastiveFusionModule(
        n_features, n_latent=4, n_latent_rna=n_latent_rna, fusion=fusion
    )
    assert [module.n_latents[m] for m in module.modalities] == widths
    posterior = module.encoders["rna"](torch.poisson(torch.full((3, 20), 2.0)))
    assert posterior.loc.shape == (3, widths[0])
    assert module.n_joint == (sum(widths) if fusion == "concat" else 4)
    # Equal widths share one projection head (as before `n_latent_rna`); others get their own.
    heads = {id(module.projections[m]) for m in module.modalities}
    assert len(heads) == (1 if len(set(widths)) == 1 else 3)


def test_a_wider_rna_block_routes_each_block_by_its_own_width():
    module = ContrastiveFusionModule({"rna": 20, "atac": 30}, n_latent=4, n_latent_rna=8)
    module.fusion.set_weights(torch.tensor([0.9, 0.1]), torch.ones(2))
    assert module.fusion.widths == [8, 4] and module.n_joint == 12
    assert _block_gradients(module, "atac") == pytest.approx([0.1 / 0.9, 1.0])
    counts = {"rna": torch.poisson(torch.full((6, 20), 3.0)), "atac": torch.ones(6, 30)}
    module.eval()
    out = module.inference(counts, torch.ones(6, 2))
    assert out["z"].shape == (6, 12) and out["z_rna"].shape == (6, 8)
    assert set(module._contrastive(out, torch.zeros(6, 1))) == {"rna_atac"}


@pytest.mark.parametrize(
    ("n_latent_rna", "error", "message"),
    [
        (0, ValueError, "at least 1"),
        (2.5, TypeError, "integer"),
        ("8", TypeError, "integer"),
        (True, TypeError, "integer"),
    ],
)
def test_a_bad_rna_width_is_refused(n_latent_rna, error, message):
    with pytest.raises(error, match=f"`n_latent_rna` must be .*{message}"):
        ContrastiveFusionModule({"rna": 20, "atac": 30}, n_latent=4, n_latent_rna=n_latent_rna)


def test_an_rna_width_without_rna_or_beside_attention_is_refused():
    with pytest.raises(ValueError, match="leave it None"):
        ContrastiveFusionModule({"protein": 8, "atac": 30}, n_latent=4, n_latent_rna=6)
    with pytest.raises(ValueError, match="equal width"):
        ContrastiveFusionModule(
            {"rna": 20, "atac": 30}, n_latent=4, n_latent_rna=6, fusion="attention"
        )


def test_a_model_saved_with_one_projection_head_loads_as_trained():
    """Saves from before `n_latent_rna` name their one shared head `projection`."""
    saved = ContrastiveFusionModule({"rna": 20, "atac": 30}, n_latent=4)
    saved.encoders["rna"].transform.set_statistics({"feature_weight": torch.full((20,), 0.05)})
    state = saved.state_dict()
    shared = {k: state.pop(f"projections.rna.{k}") for k in ("weight", "bias")}
    state = {k: v for k, v in state.items() if not k.startswith("projections.")}
    state.update({f"projection.{k}": v for k, v in shared.items()})
    loaded = ContrastiveFusionModule({"rna": 20, "atac": 30}, n_latent=4)
    loaded.load_state_dict(state)
    assert loaded.projections["rna"] is loaded.projections["atac"]
    for m in ("rna", "atac"):
        torch.testing.assert_close(loaded.projections[m].weight, shared["weight"])
        torch.testing.assert_close(loaded.projections[m].bias, shared["bias"])
    counts = {"rna": torch.poisson(torch.full((6, 20), 3.0)), "atac": torch.ones(6, 30)}
    saved.eval(), loaded.eval()
    out_saved, out_loaded = (m.inference(counts, torch.ones(6, 2)) for m in (saved, loaded))
    torch.testing.assert_close(out_loaded["z"], out_saved["z"])
