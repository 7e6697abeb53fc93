"""totalVI (scvi-tools) on paired RNA + protein."""

from __future__ import annotations

import logging

import numpy as np
from scipy import sparse

from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.peers._base import (
    RunSettings,
    require,
    set_up_measured,
    train_measured,
)
from scvi_contrastive.benchmark.result import MethodResult, torch_device_name

logger = logging.getLogger(__name__)

#: ``None`` lets totalVI pick its own cap (400 epochs below 20k cells) with early stopping.
DEFAULT_MAX_EPOCHS = None


def run_totalvi(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Train totalVI with its defaults (early stopping on) and return its latent space.

    Where the set has batches, they are totalVI's ``batch_key``.
    """
    require(dataset, paired=True, other="prot")
    import scvi

    scvi.settings.seed = settings.seed
    mdata = dataset.mdata.copy()
    # totalVI fits a Gaussian mixture to the protein counts for its background prior when
    # there are more than 10 antibodies; scikit-learn's mixture needs them dense.
    prot = mdata["prot"]
    prot.layers["counts"] = np.asarray(sparse.csr_matrix(prot.layers["counts"]).toarray())
    model, setup = set_up_measured(
        scvi.model.TOTALVI, mdata, "prot", {"batch_key": dataset.batch_key}
    )
    max_epochs = settings.epochs(DEFAULT_MAX_EPOCHS)
    cost = train_measured(model, settings, max_epochs)
    n_epochs = len(model.history["elbo_train"])
    logger.info("totalVI trained %d epochs (cap: %s)", n_epochs, max_epochs or "its default")
    result = MethodResult(
        "TOTALVI",
        embedding=model.get_latent_representation(),
        device=torch_device_name(model.device),
        n_epochs=n_epochs,
        settings={
            "max_epochs": max_epochs or "default",
            "early_stopping": True,
            "batch_key": dataset.batch_key,
        },
    )
    return setup.apply(cost.apply(result))
