"""Both models train on a GPU and give the same embedding once loaded on the CPU.

CI has no GPU, so these tests run only where CUDA is available; the README (*Multi-GPU and
clusters*) records the GPU checks run so far. They cover what CPU tests cannot: inference outside
Lightning's loop (the getters, BICLUM's anchor refresh during training) hands CPU minibatches
to a module that lives on the GPU.
"""

import numpy as np
import pytest
import torch
from reliability_cases import CASES

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _device_type(model) -> str:
    return next(model.module.parameters()).device.type


@pytest.mark.parametrize("name", sorted(CASES))
def test_trains_on_gpu_and_loads_on_cpu(name, tmp_path):
    case = CASES[name]
    model = case.model(batch_key="batch")
    # BICLUM's case refreshes its anchors every epoch: all cells embedded from inside training.
    model.train(max_epochs=4, accelerator="gpu", enable_progress_bar=False, **case.train)
    assert _device_type(model) != "cpu"
    latent = model.get_latent_representation()
    assert np.isfinite(latent).all()
    model.save(tmp_path / "model")
    loaded = case.cls.load(tmp_path / "model", adata=model.adata, accelerator="cpu")
    assert _device_type(loaded) == "cpu"
    np.testing.assert_allclose(loaded.get_latent_representation(), latent, atol=1e-5)
