"""GLUE (``scglue``) on unpaired RNA + ATAC, guided by a gene-peak graph from coordinates.

The guidance graph links each gene to the peaks within 2 kb of its Cell Ranger interval
(``promoter_len=0, extend_range=2000``: the shipped intervals are TSS-sized, strand unknown).
Building it calls the ``bedtools`` binary (through pybedtools). Cells without ATAC counts make
NaN rows in GLUE's LSI and stop its training, so they are left out; their embedding rows are NaN
and the scoring skips them.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile

import numpy as np
import scanpy as sc

from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.peers._base import MethodNotApplicable, RunSettings, require
from scvi_contrastive.benchmark.result import MethodResult, measure_training, torch_device_name

logger = logging.getLogger(__name__)

EXTEND_RANGE = 2000


def _gene_coordinates(rna) -> None:
    coords = rna.var["interval"].astype(str).str.extract(r"^(?P<c>[^:]+):(?P<s>\d+)-(?P<e>\d+)$")
    rna.var["chrom"] = coords["c"].to_numpy()
    rna.var["chromStart"] = coords["s"].astype(float).astype(np.int64).to_numpy()
    rna.var["chromEnd"] = coords["e"].astype(float).astype(np.int64).to_numpy()
    rna.var["strand"] = "+"


def _prepare(dataset: BenchmarkDataset, seed: int):
    import scglue

    rna = dataset.mdata["rna"].copy()
    atac = dataset.mdata["atac"].copy()
    atac = atac[np.asarray(atac.layers["counts"].sum(axis=1)).ravel() > 0].copy()
    rna.X = rna.layers["counts"].copy()
    sc.pp.normalize_total(rna)
    sc.pp.log1p(rna)
    sc.pp.scale(rna)
    sc.tl.pca(rna, n_comps=min(100, min(rna.shape) - 1), svd_solver="arpack", random_state=seed)
    atac.X = atac.layers["counts"].copy()
    scglue.data.lsi(atac, n_components=min(100, min(atac.shape) - 1), n_iter=15)
    _gene_coordinates(rna)
    atac.var["chromStart"] = atac.var["start"].to_numpy()
    atac.var["chromEnd"] = atac.var["end"].to_numpy()
    rna.var["highly_variable"] = True
    guidance = scglue.genomics.rna_anchored_guidance_graph(
        rna, atac, promoter_len=0, extend_range=EXTEND_RANGE
    )
    scglue.models.configure_dataset(
        rna, "NB", use_highly_variable=True, use_layer="counts", use_rep="X_pca"
    )
    scglue.models.configure_dataset(
        atac, "NB", use_highly_variable=True, use_layer="counts", use_rep="X_lsi"
    )
    nodes = itertools.chain(
        rna.var.query("highly_variable").index, atac.var.query("highly_variable").index
    )
    return rna, atac, guidance.subgraph(nodes).copy()


def run_glue(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Train GLUE with its defaults on the two unpaired modalities."""
    require(dataset, paired=False, other="atac")
    if shutil.which("bedtools") is None:
        raise ImportError(
            "the `bedtools` binary (GLUE's guidance graph needs it) is missing", name="bedtools"
        )
    import scglue
    import torch

    if "interval" not in dataset.mdata["rna"].var:
        raise MethodNotApplicable("needs gene coordinates in rna.var['interval']")
    torch.manual_seed(settings.seed)
    rna, atac, guidance = _prepare(dataset, settings.seed)
    fit_kws = {}
    max_epochs = settings.epochs(None, quick=5)
    if max_epochs is not None:
        fit_kws["max_epochs"] = max_epochs
    with tempfile.TemporaryDirectory() as tmp, measure_training() as cost:
        fit_kws["directory"] = tmp
        glue = scglue.models.fit_SCGLUE(
            {"rna": rna, "atac": atac},
            guidance,
            init_kws={"random_seed": settings.seed},
            fit_kws=fit_kws,
        )
    encoded = {"rna": glue.encode_data("rna", rna), "atac": glue.encode_data("atac", atac)}
    embedding = np.full((dataset.mdata.n_obs, encoded["rna"].shape[1]), np.nan)
    for mod, adata in (("rna", rna), ("atac", atac)):
        embedding[dataset.mdata.obs_names.get_indexer(adata.obs_names)] = encoded[mod]
    dropped = dataset.mdata["atac"].n_obs - atac.n_obs
    logger.info("GLUE: %d ATAC cells without counts left out", dropped)
    result = MethodResult(
        "GLUE",
        embedding=embedding.astype(np.float32),
        device=torch_device_name(),
        settings={
            "max_epochs": max_epochs or "default",
            "extend_range": EXTEND_RANGE,
            "atac_cells_left_out": dropped,
        },
    )
    return cost.apply(result)
