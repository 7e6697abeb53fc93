"""Our own models (SCMDCF, BICLUM), run through the same adapter interface as the peers."""

from __future__ import annotations

import logging

import mudata as md
import numpy as np
import scvi

from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.peers._base import RunSettings, require, train_measured
from scvi_contrastive.benchmark.result import MethodResult, torch_device_name
from scvi_contrastive.data.gene_activity import gene_activity
from scvi_contrastive.model import BICLUM, SCMDCF

logger = logging.getLogger(__name__)

_LAYER_ARG = {"prot": "protein_layer", "atac": "atac_layer"}


def _epochs_trained(model) -> int | None:
    history = getattr(model, "history", None) or {}
    for key in ("train_loss_epoch", "elbo_train", "loss_train"):
        if key in history:
            return len(history[key])
    return None


def _fit(model_cls, mdata: md.MuData, other: str, settings: RunSettings, **setup_kwargs):
    """Register the raw counts of RNA and ``other``, train with defaults; return model, cost."""
    scvi.settings.seed = settings.seed
    layer_arg = _LAYER_ARG[other]
    model_cls.setup_mudata(
        mdata,
        rna_layer="counts",
        **{layer_arg: "counts"},
        modalities={"rna_layer": "rna", layer_arg: other},
        **setup_kwargs,
    )
    model = model_cls(mdata)
    return model, train_measured(model, settings, settings.epochs(None))


def _result(
    name: str, model, settings: RunSettings, embedding, clusters=None, **extra_settings
) -> MethodResult:
    return MethodResult(
        name,
        embedding=np.asarray(embedding),
        clusters=clusters,
        device=torch_device_name(model.device),
        n_epochs=_epochs_trained(model),
        settings={"max_epochs": settings.epochs(None) or "default", **extra_settings},
    )


def run_scmdcf(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Our paired model: :class:`scvi_contrastive.model.SCMDCF` with its defaults.

    Where the set has batches, they are its ``batch_key`` (as for totalVI and MultiVI).
    """
    require(dataset, paired=True, other=("prot", "atac"))
    mdata = dataset.mdata.copy()
    model, cost = _fit(SCMDCF, mdata, dataset.other, settings, batch_key=dataset.batch_key)
    result = _result(
        "SCMDCF",
        model,
        settings,
        model.get_latent_representation(),
        clusters=np.asarray(model.get_cluster_assignments()),
        batch_key=dataset.batch_key,
    )
    return cost.apply(result)


def _biclum_mudata(dataset: BenchmarkDataset) -> tuple[md.MuData, str]:
    """Build the unpaired MuData BICLUM takes: ATAC as gene activity over the RNA genes."""
    rna = dataset.mdata["rna"].copy()
    other = dataset.mdata[dataset.other].copy()
    if dataset.other != "atac":
        return md.MuData({"rna": rna, dataset.other: other}), "separate"
    activity = gene_activity(other, rna, layer="counts")
    activity.layers["counts"] = activity.X.copy()
    return md.MuData({"rna": rna, "atac": activity}), "shared"


def run_biclum(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Our unpaired model: :class:`scvi_contrastive.model.BICLUM` with its defaults."""
    require(dataset, paired=False, other=("prot", "atac"))
    mdata, feature_space = _biclum_mudata(dataset)
    model, cost = _fit(BICLUM, mdata, dataset.other, settings, feature_space=feature_space)
    order = mdata.obs_names.get_indexer(dataset.mdata.obs_names)
    latent = np.asarray(model.get_latent_representation())[order]
    result = _result("BICLUM", model, settings, latent, feature_space=feature_space)
    return cost.apply(result)
