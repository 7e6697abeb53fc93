"""MultiVI (scvi-tools) on paired RNA + ATAC."""

from __future__ import annotations

import logging

import mudata as md

from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.peers._base import (
    RunSettings,
    require,
    set_up_measured,
    train_measured,
)
from scvi_contrastive.benchmark.result import MethodResult, torch_device_name

logger = logging.getLogger(__name__)

#: MultiVI's own default cap; it stops earlier through its default early stopping.
DEFAULT_MAX_EPOCHS = 500


def run_multivi(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Train MultiVI with its defaults on paired RNA + ATAC and return its latent space.

    Where the set has batches, they are MultiVI's ``batch_key``.
    """
    require(dataset, paired=True, other="atac")
    import scvi

    scvi.settings.seed = settings.seed
    # MULTIVI wants RNA before ATAC; reordering an existing MuData in place fails on mudata 0.3.
    mdata = md.MuData({"rna": dataset.mdata["rna"].copy(), "atac": dataset.mdata["atac"].copy()})
    if dataset.batch_key is not None:
        mdata.obs[dataset.batch_key] = dataset.mdata.obs[dataset.batch_key].to_numpy()
    model, setup = set_up_measured(
        scvi.model.MULTIVI,
        mdata,
        "atac",
        {"batch_key": dataset.batch_key},
        n_genes=mdata["rna"].n_vars,
        n_regions=mdata["atac"].n_vars,
        fully_paired=True,
    )
    max_epochs = settings.epochs(DEFAULT_MAX_EPOCHS)
    cost = train_measured(model, settings, max_epochs)
    n_epochs = len(model.history["elbo_train"])
    logger.info("MultiVI trained %d of at most %d epochs", n_epochs, max_epochs)
    result = MethodResult(
        "MULTIVI",
        embedding=model.get_latent_representation(),
        device=torch_device_name(model.device),
        n_epochs=n_epochs,
        settings={
            "max_epochs": max_epochs,
            "early_stopping": True,
            "batch_key": dataset.batch_key,
        },
    )
    return setup.apply(cost.apply(result))
