"""GLUE (``scglue``) on unpaired RNA + ATAC, guided by a gene-peak graph.

With gene coordinates (Cell Ranger's ``interval`` in ``rna.var``) the guidance graph links each
gene to the peaks within 2 kb of its interval (``promoter_len=0, extend_range=2000``: the
shipped intervals are TSS-sized, strand unknown); building it calls the ``bedtools`` binary
(through pybedtools). Without coordinates (SNARE's mm10 genes) it is built from the data's
gene -> peak link table, the one our gene activity uses: one positive edge per link each way,
plus a self-loop per node, as scglue's own graphs have (it accepts any such graph). Cells
without ATAC counts make NaN rows in GLUE's LSI and stop its training, so they are left out;
their embedding rows are NaN and the scoring skips them.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import shutil
import tempfile
from unittest import mock

import networkx as nx
import numpy as np
import scanpy as sc

from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.peers._base import MethodNotApplicable, RunSettings, require
from scvi_contrastive.benchmark.peers.unpaired_baselines import link_table
from scvi_contrastive.benchmark.result import MethodResult, measure_training, torch_device_name

logger = logging.getLogger(__name__)

EXTEND_RANGE = 2000


@contextlib.contextmanager
def _exact_scanpy_neighbors():
    """Make ``sc.pp.neighbors`` use the exact sklearn search while GLUE trains.

    GLUE's balancing weights cluster each modality with scanpy's default (cosine) neighbour
    search, which from 4,096 cells on goes through pynndescent; scanpy 1.11 cannot read
    pynndescent 0.7's graphs (``csr_array`` has no ``getnnz``), so GLUE stopped with an
    ``AttributeError`` on SNARE. ``tools.clustering.neighbors_graph`` avoids it the same way.
    """
    exact = functools.partial(sc.pp.neighbors, transformer="sklearn")
    with mock.patch.object(sc.pp, "neighbors", exact):
        yield


def _gene_coordinates(rna) -> None:
    coords = rna.var["interval"].astype(str).str.extract(r"^(?P<c>[^:]+):(?P<s>\d+)-(?P<e>\d+)$")
    rna.var["chrom"] = coords["c"].to_numpy()
    rna.var["chromStart"] = coords["s"].astype(float).astype(np.int64).to_numpy()
    rna.var["chromEnd"] = coords["e"].astype(float).astype(np.int64).to_numpy()
    rna.var["strand"] = "+"


def _links_graph(rna, atac, links) -> nx.MultiDiGraph:
    """Guidance graph of a gene -> peak link table, in scglue's edge format."""
    links = links.reset_index() if "gene" not in links.columns else links
    links = links[links["gene"].isin(rna.var_names) & links["peak"].isin(atac.var_names)]
    # As scglue's own graph builder marks them: the peaks linked to a (highly variable) gene.
    atac.var["highly_variable"] = atac.var_names.isin(links["peak"])
    graph = nx.MultiDiGraph()
    for gene, peak in zip(links["gene"], links["peak"], strict=True):
        graph.add_edge(gene, peak, weight=1.0, sign=1, type="fwd")
        graph.add_edge(peak, gene, weight=1.0, sign=1, type="rev")
    for node in itertools.chain(rna.var_names, atac.var_names):
        graph.add_edge(node, node, weight=1.0, sign=1, type="loop")
    return graph


def _guidance_graph(rna, atac) -> nx.MultiDiGraph:
    """From gene coordinates when ``rna.var`` has them, else from the ATAC's link table."""
    import scglue

    if "interval" not in rna.var:
        return _links_graph(rna, atac, link_table(atac))
    if shutil.which("bedtools") is None:
        raise ImportError(
            "the `bedtools` binary (GLUE's guidance graph needs it) is missing", name="bedtools"
        )
    _gene_coordinates(rna)
    atac.var["chromStart"] = atac.var["start"].to_numpy()
    atac.var["chromEnd"] = atac.var["end"].to_numpy()
    return scglue.genomics.rna_anchored_guidance_graph(
        rna, atac, promoter_len=0, extend_range=EXTEND_RANGE
    )


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
    rna.var["highly_variable"] = True
    guidance = _guidance_graph(rna, atac)
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
    import scglue
    import torch

    if "interval" not in dataset.mdata["rna"].var and link_table(dataset.mdata["atac"]) is None:
        raise MethodNotApplicable(
            "needs gene coordinates in rna.var['interval'] or a gene-peak link table"
        )
    torch.manual_seed(settings.seed)
    rna, atac, guidance = _prepare(dataset, settings.seed)
    fit_kws = {}
    max_epochs = settings.epochs(None, quick=5)
    if max_epochs is not None:
        fit_kws["max_epochs"] = max_epochs
    with (
        tempfile.TemporaryDirectory() as tmp,
        measure_training() as cost,
        _exact_scanpy_neighbors(),
    ):
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
            "guidance": "coordinates ±2 kb" if "interval" in rna.var else "link table",
            "atac_cells_left_out": dropped,
        },
    )
    return cost.apply(result)
