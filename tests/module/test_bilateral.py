import numpy as np
import pytest
import torch

from scvi_contrastive._constants import REGISTRY_KEYS
from scvi_contrastive.module.bilateral import BilateralAlignmentModule

N_FEATURES = {"rna": 12, "atac": 9}


def _module(**kwargs):
    rng = np.random.default_rng(0)
    sketches = {name: rng.normal(size=(6, n)).astype(np.float32) for name, n in N_FEATURES.items()}
    defaults = {
        "feature_pairs": (np.arange(9), np.arange(9)),
        "n_latent": 5,
        "n_hidden": 16,
    }
    return BilateralAlignmentModule(["rna", "atac"], sketches, **{**defaults, **kwargs})


def _batch(n=10, n_pairs=4, n_batch=1, seed=0):
    generator = torch.Generator().manual_seed(seed)
    batch = {}
    for name, n_features in N_FEATURES.items():
        flag = torch.zeros(n, 1)
        flag[:n_pairs] = 1
        batch[name] = {
            REGISTRY_KEYS.X_KEY: torch.poisson(torch.full((n, n_features), 3.0), generator),
            REGISTRY_KEYS.BATCH_KEY: torch.randint(0, n_batch, (n, 1), generator=generator),
            REGISTRY_KEYS.PAIR_KEY: flag,
        }
    return batch


@pytest.mark.parametrize("likelihood", ["nb", "mse"])
def test_forward_names_every_loss_term(likelihood):
    module = _module(likelihood=likelihood)
    inference, generative, loss = module(_batch())
    assert set(loss.reconstruction_loss) == {"rna", "atac"}
    assert set(loss.extra_metrics) == {
        "reconstruction_rna",
        "reconstruction_atac",
        "cell_contrastive",
        "feature_contrastive",
    }
    assert all(torch.isfinite(v) and v.ndim == 0 for v in loss.extra_metrics.values())
    assert loss.n_obs_minibatch == 20
    assert generative["logits"]["rna"].shape == (10, 12)
    assert generative["features"]["atac"].shape == (9, 5)
    z = inference["z"]["rna"]
    torch.testing.assert_close(z.norm(dim=1), torch.ones(10))


def test_loss_reaches_every_encoder():
    module = _module()
    _, _, loss = module(_batch())
    loss.loss.backward()
    for part in ("cell_encoders", "feature_encoders"):
        for name in ("rna", "atac"):
            grads = [p.grad for p in getattr(module, part)[name].parameters()]
            assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_contrastive_terms_switch_off_without_pairs():
    module = _module(feature_pairs=None)
    assert not module.has_feature_pairs
    _, _, loss = module(_batch(n_pairs=1))
    assert loss.extra_metrics["cell_contrastive"] == 0
    assert loss.extra_metrics["feature_contrastive"] == 0
    assert torch.isfinite(loss.loss)


def test_cell_loss_is_lower_for_aligned_pairs():
    module = _module()
    z_a = torch.nn.functional.normalize(torch.randn(6, 5))
    batch = _batch(n=6, n_pairs=6)
    aligned = module.cell_contrastive_loss(batch, {"rna": z_a, "atac": z_a})
    shuffled = module.cell_contrastive_loss(batch, {"rna": z_a, "atac": z_a.flip(0)})
    assert aligned < shuffled


def test_batch_covariate_and_inference_of_one_modality():
    module = _module(n_batch=3)
    module.eval()
    batch = _batch(n_batch=3)
    inputs = module._get_inference_input({"atac": batch["atac"]})
    z = module.inference(**inputs)["z"]
    assert set(z) == {"atac"} and z["atac"].shape == (10, 5)
    assert module.bias["rna"].shape == (3, 12)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="likelihood"):
        _module(likelihood="poisson")
    with pytest.raises(ValueError, match="Two modalities"):
        BilateralAlignmentModule(["rna"], {"rna": np.zeros((2, 3), np.float32)})
    with pytest.raises(NotImplementedError):
        _module().sample()


def test_input_columns_select_the_model_features():
    rng = np.random.default_rng(0)
    sketches = {
        "rna": rng.normal(size=(6, 5)).astype(np.float32),
        "atac": rng.normal(size=(6, 9)).astype(np.float32),
    }
    columns = {"rna": np.array([0, 2, 4, 6, 8]), "atac": np.arange(9)}
    module = BilateralAlignmentModule(
        ["rna", "atac"], sketches, input_columns=columns, n_latent=5, n_hidden=16
    )
    batch = _batch()  # 12 RNA columns, of which the model uses 5
    _, generative, loss = module(batch)
    assert generative["logits"]["rna"].shape == (10, 5) and torch.isfinite(loss.loss)
    torch.testing.assert_close(module.counts(batch, "rna"), batch["rna"]["X"][:, columns["rna"]])
    with pytest.raises(ValueError, match="4 input columns for a sketch of 5"):
        BilateralAlignmentModule(
            ["rna", "atac"], sketches, input_columns={"rna": np.arange(4), "atac": np.arange(9)}
        )
