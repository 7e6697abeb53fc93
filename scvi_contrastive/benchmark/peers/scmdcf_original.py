"""The published scMDCF (PyPI ``scmdcf``, imported as ``scMDCF``), run as its authors' script does.

Configuration (its ``main_CITE.py`` / ``main_SNARE.py`` defaults): per modality drop empty
features, library-size normalise, log1p, top 1,000 variable features when there are more, z-score;
encoders in -> 512 -> 64 -> 8 (Linear + BatchNorm + ReLU), fusion 16 -> 8, mirror decoders;
pretrain 200 epochs Adam(amsgrad, lr 1e-2); KMeans init (``n_init=20``); 200 epochs
Adadelta(lr 1e-3, rho 0.8) with DEC. Full batch. ``lamb`` is 0.5 for protein and 10 for ATAC.
Labels only set the number of clusters.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from types import SimpleNamespace

import anndata as ad
import numpy as np
import scanpy as sc

from scvi_contrastive.benchmark.datasets import BenchmarkDataset
from scvi_contrastive.benchmark.peers._base import RunSettings, require
from scvi_contrastive.benchmark.preprocess import log_normalized, rna_pca
from scvi_contrastive.benchmark.result import MethodResult, measure_training, torch_device_name
from scvi_contrastive.tools.clustering import leiden_clusters

logger = logging.getLogger(__name__)

EPOCHS_PER_PHASE = 200
HIGHLY_VARIABLE = 1000
LAMB = {"prot": 0.5, "atac": 10.0}


def scmdcf_inputs(adata: ad.AnnData, n_top: int = HIGHLY_VARIABLE) -> np.ndarray:
    """ScMDCF's ``normalize``: library size (median), log1p, top variable features, z-score.

    Empty cells are kept (their normalised values are 0) so every cell gets an embedding;
    the reference script would drop them.
    """
    out = log_normalized(adata, target_sum=None)
    sc.pp.filter_genes(out, min_counts=1e-9)
    if out.n_vars > n_top:
        sc.pp.highly_variable_genes(out, n_top_genes=n_top, subset=True)
    out.X = np.asarray(out.X.todense())
    sc.pp.scale(out)
    return np.asarray(out.X, dtype=np.float32)


def _arguments(n_rna: int, n_other: int, n_clusters: int, other: str, epochs: int, device):
    zdim, enc1, enc2 = 8, 512, 64
    return SimpleNamespace(
        lr_pre=1e-2,
        lr_alt=1e-3,
        epoch_pre=epochs,
        epoch_alt=epochs,
        device=device,
        zdim=zdim,
        alpha=1.0,
        gamma=1.0,
        lamb=LAMB[other],
        n_clusters=n_clusters,
        layere_omics1_view=[n_rna, enc1, enc2, zdim],
        layere_omics2_view=[n_other, enc1, enc2, zdim],
        layerd_omics1_view=[zdim, enc2, enc1, n_rna],
        layerd_omics2_view=[zdim, enc2, enc1, n_other],
        fusion_layer=[2 * zdim, zdim],
    )


def run_scmdcf_original(dataset: BenchmarkDataset, settings: RunSettings) -> MethodResult:
    """Train the published scMDCF with its defaults; embedding = its fused z, clusters = DEC."""
    require(dataset, paired=True, other=("prot", "atac"))
    import torch
    from scMDCF.layer import scMDCF
    from scMDCF.train import alt_train, pre_train

    torch.manual_seed(settings.seed)
    np.random.seed(settings.seed)  # noqa: NPY002 (its KMeans calls use the global state)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x_rna = scmdcf_inputs(dataset.mdata["rna"])
    x_other = scmdcf_inputs(dataset.mdata[dataset.other])
    n_clusters = dataset.n_labels or _estimated_clusters(dataset, settings.seed)
    # Its DEC phase sets the final clusters every 10 epochs only: round up to a multiple of 10.
    epochs = max(10, -(-settings.epochs(EPOCHS_PER_PHASE, quick=10) // 10) * 10)
    args = _arguments(x_rna.shape[1], x_other.shape[1], n_clusters, dataset.other, epochs, device)
    with tempfile.TemporaryDirectory() as tmp:
        args.model_file = os.path.join(tmp, "scmdcf_pretrain.pth.tar")
        model = scMDCF(args).to(device)
        rna_t = torch.from_numpy(x_rna).to(device)
        other_t = torch.from_numpy(x_other).to(device)
        log = io.StringIO()
        with measure_training() as cost, contextlib.redirect_stdout(log):
            pre_train(args, model, rna_t, other_t, None)
            alt_train(args, model, rna_t, other_t, None)
    lines = log.getvalue().strip().splitlines()
    logger.info("scMDCF-original last log line: %s", lines[-1] if lines else "(none)")
    result = MethodResult(
        "scMDCF-original",
        embedding=model.latent.detach().cpu().numpy(),
        clusters=np.asarray(model.y_pred),
        device=torch_device_name(device),
        n_epochs=2 * epochs,
        settings={
            "epoch_pre": epochs,
            "epoch_alt": epochs,
            "n_clusters": n_clusters,
            "lamb": args.lamb,
            "full_batch": True,
        },
    )
    return cost.apply(result)


def _estimated_clusters(dataset: BenchmarkDataset, seed: int) -> int:
    """Without labels: cluster count of Leiden (resolution 1) on the RNA PCA."""
    embedding = rna_pca(dataset.mdata["rna"], n_comps=30, seed=seed)
    return len(np.unique(leiden_clusters(embedding, resolution=1.0, seed=seed)))
