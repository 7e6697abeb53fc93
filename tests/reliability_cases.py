"""Tiny synthetic data and one recipe per model class, shared by the reliability tests."""

from collections.abc import Callable
from dataclasses import dataclass, field

import anndata as ad
import mudata as md
import numpy as np
import scvi
from scipy import sparse

from scvi_contrastive.model import BICLUM, SCMDCF

FORMATS = {"dense": np.asarray, "csr": sparse.csr_matrix, "csc": sparse.csc_matrix}
QUIET = {"accelerator": "cpu", "enable_progress_bar": False, "batch_size": 32}


def _modality(rng, prefix, n_cells, features, rate, fmt):
    counts = rng.poisson(rate, (n_cells, len(features))).astype(np.float32)
    counts[:, 0] += 1  # every cell has counts
    adata = ad.AnnData(FORMATS[fmt](counts))
    adata.obs_names = [f"{prefix}{i}" for i in range(n_cells)]
    adata.var_names = list(features)
    adata.layers["counts"] = adata.X.copy()
    return adata


GENES = [f"g{i}" for i in range(20)]


def paired_mdata(fmt="csr"):
    """RNA and protein counts of the same 60 cells, two batches."""
    rng = np.random.default_rng(0)
    rna = _modality(rng, "cell", 60, GENES, 2.0, fmt)
    prot = _modality(rng, "cell", 60, [f"p{i}" for i in range(8)], 5.0, fmt)
    mdata = md.MuData({"rna": rna, "prot": prot})
    mdata.obs["batch"] = np.resize(["a", "b"], mdata.n_obs)
    return mdata


def unpaired_mdata(fmt="csr"):
    """RNA counts of 60 cells and gene activity of 50 other cells over the same genes."""
    rng = np.random.default_rng(1)
    rna = _modality(rng, "r", 60, GENES, 2.0, fmt)
    atac = _modality(rng, "a", 50, GENES, 1.0, fmt)
    mdata = md.MuData({"rna": rna, "atac": atac})
    mdata.obs["batch"] = np.resize(["a", "b"], mdata.n_obs)
    return mdata


@dataclass(frozen=True)
class Case:
    """How to build, set up and train one model class on tiny data."""

    cls: type
    make: Callable[[str], md.MuData]
    modalities: dict
    init: dict
    train: dict
    poison: tuple  # (parameter set to NaN, loss term it breaks, term it leaves finite)
    layers: dict = field(default_factory=dict)

    def setup(self, mdata, **kwargs):
        self.cls.setup_mudata(mdata, modalities=self.modalities, **self.layers, **kwargs)
        return mdata

    def model(self, fmt="csr", **setup_kwargs):
        scvi.settings.seed = 0
        mdata = self.setup(self.make(fmt), **setup_kwargs)
        return self.cls(mdata, **self.init)

    def fit(self, model, max_epochs=2, **kwargs):
        model.train(max_epochs=max_epochs, **QUIET, **{**self.train, **kwargs})
        return model


CASES = {
    "SCMDCF": Case(
        SCMDCF,
        paired_mdata,
        {"rna_layer": "rna", "protein_layer": "prot"},
        {"n_latent": 4, "n_hidden": 16, "n_clusters": 2},
        # k-means: Leiden's neighbour search is slower and raises torch's thread count.
        {"plan_kwargs": {"cluster_init": "kmeans"}},
        ("log_dispersion.protein", "reconstruction_loss['protein']", "'rna'"),
        {"rna_layer": "counts", "protein_layer": "counts"},
    ),
    "BICLUM": Case(
        BICLUM,
        unpaired_mdata,
        {"rna_layer": "rna", "atac_layer": "atac"},
        {"n_latent": 4, "n_hidden": 16, "n_metacells": 8, "mnn_k": 5, "n_pcs": 8},
        {"mnn_refresh_every": 1},
        ("log_theta.atac", "reconstruction_loss['atac']", "'rna'"),
        {"rna_layer": "counts", "atac_layer": "counts"},
    ),
}
