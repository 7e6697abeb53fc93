"""Our own models (SCMDCF, BICLUM), run through the same adapter interface as the peers.

``SCMDCF`` (paired) and ``BICLUM`` (unpaired) come from :mod:`scvi_contrastive.model`. While
a model is missing there, its adapter reports ``not available`` instead of failing the run.
"""

from __future__ import annotations

import importlib
import logging

import mudata as md
import numpy as np

from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.peers._base import MethodNotAvailable, RunSettings, require
from scvi_contrastive.benchmark.result import MethodResult, measure_training, torch_device_name

logger = logging.getLogger(__name__)

_LAYER_ARG = {"prot": "protein_layer", "atac": "atac_layer"}


def _model_class(name: str):
    try:
        return getattr(importlib.import_module("scvi_contrastive.model"), name)
    except (ImportError, AttributeError) as err:
        raise MethodNotAvailable(
            f"scvi_contrastive.model.{name} cannot be imported ({err})"
        ) from err


def _epochs_trained(model) -> int | None:
    history = getattr(model, "history", None) or {}
    for key in ("train_loss_epoch", "elbo_train", "loss_train"):
        if key in history:
            return len(history[key])
    return None


def run_scmdcf(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Our paired model: :class:`scvi_contrastive.model.SCMDCF` with its defaults."""
    require(dataset, paired=True, other=("prot", "atac"))
    model_cls = _model_class("SCMDCF")
    import scvi

    scvi.settings.seed = settings.seed
    mdata = dataset.mdata.copy()
    layer_arg = _LAYER_ARG[dataset.other]
    model_cls.setup_mudata(
        mdata,
        rna_layer="counts",
        **{layer_arg: "counts"},
        modalities={"rna_layer": "rna", layer_arg: dataset.other},
    )
    model = model_cls(mdata)
    max_epochs = settings.epochs(None)
    with measure_training() as cost:
        model.train(
            max_epochs=max_epochs,
            accelerator=settings.accelerator,
            enable_progress_bar=False,
        )
    result = MethodResult(
        "SCMDCF",
        embedding=np.asarray(model.get_latent_representation()),
        clusters=np.asarray(model.get_cluster_assignments()),
        device=torch_device_name(model.device),
        n_epochs=_epochs_trained(model),
        settings={"max_epochs": max_epochs or "default"},
    )
    return cost.apply(result)


def _biclum_mudata(dataset: BenchmarkDataset) -> tuple[md.MuData, str]:
    """Build the unpaired MuData BICLUM takes: ATAC as gene activity over the RNA genes."""
    rna = dataset.mdata["rna"].copy()
    other = dataset.mdata[dataset.other].copy()
    if dataset.other != "atac":
        return md.MuData({"rna": rna, dataset.other: other}), "separate"
    try:
        from scvi_contrastive.data.gene_activity import gene_activity
    except ImportError as err:
        raise MethodNotAvailable(f"scvi_contrastive.data.gene_activity missing ({err})") from err
    activity = gene_activity(other, rna, layer="counts")
    activity.layers["counts"] = activity.X.copy()
    return md.MuData({"rna": rna, "atac": activity}), "shared"


def run_biclum(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Our unpaired model: :class:`scvi_contrastive.model.BICLUM` with its defaults."""
    require(dataset, paired=False, other=("prot", "atac"))
    model_cls = _model_class("BICLUM")
    import scvi

    scvi.settings.seed = settings.seed
    mdata, feature_space = _biclum_mudata(dataset)
    layer_arg = _LAYER_ARG[dataset.other]
    model_cls.setup_mudata(
        mdata,
        rna_layer="counts",
        **{layer_arg: "counts"},
        feature_space=feature_space,
        modalities={"rna_layer": "rna", layer_arg: dataset.other},
    )
    model = model_cls(mdata)
    max_epochs = settings.epochs(None)
    with measure_training() as cost:
        model.train(
            max_epochs=max_epochs,
            accelerator=settings.accelerator,
            enable_progress_bar=False,
        )
    latent = np.asarray(model.get_latent_representation())
    order = mdata.obs_names.get_indexer(dataset.mdata.obs_names)
    result = MethodResult(
        "BICLUM",
        embedding=latent[order],
        device=torch_device_name(model.device),
        n_epochs=_epochs_trained(model),
        settings={"max_epochs": max_epochs or "default", "feature_space": feature_space},
    )
    return cost.apply(result)
