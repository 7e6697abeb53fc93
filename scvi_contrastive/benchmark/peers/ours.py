"""Our own models (SCMDCF, BICLUM), run through the same adapter interface as the peers."""

from __future__ import annotations

import logging

import mudata as md
import numpy as np
import scvi

from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.peers._base import (
    RunSettings,
    require,
    set_up_measured,
    train_measured,
)
from scvi_contrastive.benchmark.peers.unpaired_baselines import links_gene_activity
from scvi_contrastive.benchmark.result import MethodResult, torch_device_name
from scvi_contrastive.data.gene_activity import gene_activity
from scvi_contrastive.data.peak_lsi import peak_lsi
from scvi_contrastive.data.protein_to_gene import protein_to_gene
from scvi_contrastive.model import BICLUM, SCMDCF

logger = logging.getLogger(__name__)

#: ``rna.var`` columns from which :func:`gene_activity` can place the genes.
_GENE_COORDINATES = {"interval", "chrom"}


def _epochs_trained(model) -> int | None:
    history = getattr(model, "history", None) or {}
    for key in ("train_loss_epoch", "elbo_train", "loss_train"):
        if key in history:
            return len(history[key])
    return None


def _fit(
    model_cls,
    mdata: md.MuData,
    other: str,
    settings: RunSettings,
    train_kwargs: dict | None = None,
    **setup_kwargs,
):
    """Register the raw counts of RNA and ``other``, train with defaults (and ``train_kwargs``).

    Returns the model, the training cost and the setup time (registration and construction).
    """
    scvi.settings.seed = settings.seed
    model, setup = set_up_measured(model_cls, mdata, other, setup_kwargs)
    cost = train_measured(model, settings, settings.epochs(None), **(train_kwargs or {}))
    return model, cost, setup


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
    model, cost, setup = _fit(SCMDCF, mdata, dataset.other, settings, batch_key=dataset.batch_key)
    result = _result(
        "SCMDCF",
        model,
        settings,
        model.get_latent_representation(),
        clusters=np.asarray(model.get_cluster_assignments()),
        batch_key=dataset.batch_key,
    )
    return setup.apply(cost.apply(result))


def _biclum_mudata(dataset: BenchmarkDataset) -> tuple[md.MuData, str, dict | None]:
    """Build the unpaired MuData BICLUM takes, the other modality put in gene space.

    Returns the MuData, its ``feature_space`` and BICLUM's ``neighbors_obsm``.

    ATAC becomes gene activity: through the link table the data ship (their own
    ``gene_peak_links``, else Cell Ranger's ``peak_annotation``:
    :func:`~scvi_contrastive.benchmark.peers.unpaired_baselines.links_gene_activity`), the gene
    space the naive baseline, CCA and GLUE get; else from the RNA genes' coordinates. The
    peaks' LSI (:func:`~scvi_contrastive.data.peak_lsi.peak_lsi`, as for the ATAC LSI
    baseline) is then stored in ``obsm["X_lsi"]`` and given as ``neighbors_obsm``, since the
    encoder does not read the peaks themselves (GLUE's reads their LSI). With neither links
    nor coordinates, the peaks stay as they are (``"separate"``), read by the encoder. Proteins
    keep their own feature space (``"separate"``: the RNA encoder reads every gene), with each
    antibody that :func:`protein_to_gene` maps to an RNA gene renamed to that gene so that the
    two pair in the feature-level loss (the first of several antibodies of one gene, as
    CD45RA/CD45RO; the others and unmapped ones keep their names).
    """
    rna = dataset.mdata["rna"].copy()
    other = dataset.mdata[dataset.other].copy()
    if dataset.other != "atac":
        other.var_names = _gene_named_antibodies(other, rna.var_names)
        return md.MuData({"rna": rna, dataset.other: other}), "separate", None
    activity = links_gene_activity(other)
    if activity is None:
        if not _GENE_COORDINATES & set(rna.var.columns):
            # neither links nor gene coordinates (BMMC Multiome): peaks, matched by shape
            return md.MuData({"rna": rna, "atac": other}), "separate", None
        activity = gene_activity(other, rna, layer="counts")
    activity.layers["counts"] = activity.X.copy()
    activity.obsm["X_lsi"] = peak_lsi(other)
    return md.MuData({"rna": rna, "atac": activity}), "shared", {"atac": "X_lsi"}


def _gene_named_antibodies(prot, genes) -> list[str]:
    """Antibody names, those that detect one of ``genes`` replaced by that gene's name."""
    try:
        mapped = protein_to_gene(prot, duplicates="first", gene_symbols=genes).var["antibody"]
    except ValueError:  # anonymous antibodies (adt_0, ...): nothing maps
        return list(prot.var_names)
    rename = {antibody: gene for gene, antibody in mapped.items() if gene in genes}
    return [rename.get(name, name) for name in prot.var_names]


def run_biclum(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Our unpaired model: :class:`scvi_contrastive.model.BICLUM` with its defaults."""
    require(dataset, paired=False, other=("prot", "atac"))
    mdata, feature_space, neighbors_obsm = _biclum_mudata(dataset)
    model, cost, setup = _fit(
        BICLUM,
        mdata,
        dataset.other,
        settings,
        train_kwargs={"neighbors_obsm": neighbors_obsm},
        feature_space=feature_space,
    )
    order = mdata.obs_names.get_indexer(dataset.mdata.obs_names)
    latent = np.asarray(model.get_latent_representation())[order]
    result = _result(
        "BICLUM",
        model,
        settings,
        latent,
        feature_space=feature_space,
        neighbors_obsm=neighbors_obsm,
    )
    return setup.apply(cost.apply(result))
