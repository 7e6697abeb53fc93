# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # CITE-seq: SCMDCF next to totalVI
#
# This tutorial integrates RNA and surface protein (ADT) counts of the same cells with
# `scvi_contrastive.model.SCMDCF` and with scvi-tools' `TOTALVI`, on the 10x Genomics PBMC
# CITE-seq data set (6,661 cells, 1,000 variable genes, 14 antibodies, 7 published cell-type
# labels as filtered and labelled by the scMDC authors). It shows
#
# 1. how both models are set up from one `MuData` and trained,
# 2. the joint embeddings as UMAPs coloured by the published labels and by clusters,
# 3. a comparison of how well each embedding keeps the cell types apart, with
#    [scib-metrics](https://scib-metrics.readthedocs.io).
#
# The data files are not shipped with the package: `read_cite_seq` looks for them in the
# folder named by the `SCVI_CONTRASTIVE_DATA` environment variable (or `../shared/data`).

# %%
import os

# Full training unless SCVI_CONTRASTIVE_TUTORIAL_EPOCHS is set (continuous integration sets
# it to a few epochs to check that the notebook runs; the results are then not meaningful).
QUICK_EPOCHS = os.environ.get("SCVI_CONTRASTIVE_TUTORIAL_EPOCHS")
MAX_EPOCHS = int(QUICK_EPOCHS) if QUICK_EPOCHS else None  # None: each model's default

# %%
import matplotlib.pyplot as plt
import numpy as np
import scanpy as sc
import scvi
from scib_metrics.benchmark import Benchmarker, BioConservation
from scib_metrics.nearest_neighbors import NeighborsResults
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import NearestNeighbors

from scvi_contrastive.data import read_cite_seq
from scvi_contrastive.model import SCMDCF

scvi.settings.seed = 0

# %% [markdown]
# ## Data
#
# `read_cite_seq` returns a `MuData` with modalities `rna` and `prot`; raw counts are in
# `.layers["counts"]` of each, the labels in `mdata.obs["cell_type"]`. The file stores no
# gene or antibody names, so features are named `gene_0`, ... and `adt_0`, ..., and the
# labels are the integers `1` ... `7` of the original annotation.

# %%
mdata = read_cite_seq("pbmc10x_cite")
mdata

# %%
mdata.obs["cell_type"].value_counts()

# %% [markdown]
# ## SCMDCF
#
# `SCMDCF.setup_mudata` takes one layer argument per modality and a `modalities` dictionary
# naming the modality each layer argument refers to. SCMDCF fuses the two views of each cell
# into one embedding and clusters it with a deep embedded clustering (DEC) head trained in
# the same `train()` call; `n_clusters=7` asks for as many clusters as there are labels
# (`None` would pick the number by Leiden).

# %%
SCMDCF.setup_mudata(
    mdata,
    rna_layer="counts",
    protein_layer="counts",
    modalities={"rna_layer": "rna", "protein_layer": "prot"},
)
scmdcf = SCMDCF(mdata, n_clusters=7)
scmdcf.train(max_epochs=MAX_EPOCHS, enable_progress_bar=False)

# %%
mdata.obsm["X_scmdcf"] = scmdcf.get_latent_representation()
mdata.obs["scmdcf_cluster"] = scmdcf.get_cluster_assignments().astype(str)
fusion_weights = scmdcf.get_fusion_weights()
fusion_weights.mean()  # the weight of each modality in the joint embedding

# %% [markdown]
# ## totalVI
#
# totalVI is registered from the same `MuData`, with its own setup. Its protein background
# prior is estimated from dense protein counts, so the 14 antibodies get a dense layer.

# %%
mdata["prot"].layers["counts_dense"] = mdata["prot"].layers["counts"].toarray()
scvi.model.TOTALVI.setup_mudata(
    mdata,
    rna_layer="counts",
    protein_layer="counts_dense",
    modalities={"rna_layer": "rna", "protein_layer": "prot"},
)
totalvi = scvi.model.TOTALVI(mdata)
totalvi.train(max_epochs=MAX_EPOCHS, enable_progress_bar=False)
mdata.obsm["X_totalvi"] = totalvi.get_latent_representation()

# %% [markdown]
# ## UMAPs and clusters
#
# One neighbour graph per embedding, then UMAP and Leiden clusters on it. Exact neighbours
# (`transformer="sklearn"`) are quick at this size.

# %%
views = {}
for key in ("X_scmdcf", "X_totalvi"):
    view = sc.AnnData(obs=mdata.obs[["cell_type", "scmdcf_cluster"]].copy())
    view.obsm[key] = mdata.obsm[key]
    sc.pp.neighbors(view, use_rep=key, transformer="sklearn", random_state=0)
    sc.tl.umap(view, random_state=0)
    sc.tl.leiden(view, flavor="igraph", n_iterations=2, random_state=0)
    views[key] = view

# %%
fig, axes = plt.subplots(2, 2, figsize=(10, 9))
for row, (key, view) in enumerate(views.items()):
    sc.pl.umap(view, color="cell_type", ax=axes[row, 0], show=False, title=f"{key}: labels")
    sc.pl.umap(view, color="leiden", ax=axes[row, 1], show=False, title=f"{key}: Leiden")
fig.tight_layout()

# %% [markdown]
# Agreement of each clustering with the published labels (adjusted Rand index):

# %%
{
    "SCMDCF DEC clusters": adjusted_rand_score(
        mdata.obs["cell_type"], mdata.obs["scmdcf_cluster"]
    ),
    **{
        f"Leiden on {key}": adjusted_rand_score(view.obs["cell_type"], view.obs["leiden"])
        for key, view in views.items()
    },
}

# %% [markdown]
# ## scib-metrics
#
# `Benchmarker` scores embeddings by how well they keep the labelled cell types apart
# (bio-conservation). This data set is a single batch, so batch-correction metrics, and the
# isolated-label score (which is defined across batches), are left out. PCA of the
# normalised RNA is the unintegrated baseline. Exact neighbours replace the default
# approximate search, which would first compile its kernels.

# %%
bench = sc.AnnData(mdata["rna"].layers["counts"].copy(), obs=mdata.obs[["cell_type"]].copy())
sc.pp.normalize_total(bench)
sc.pp.log1p(bench)
sc.tl.pca(bench, n_comps=30)
bench.obs["batch"] = "pbmc10x"
for key in ("X_scmdcf", "X_totalvi"):
    bench.obsm[key] = mdata.obsm[key]


def exact_neighbors(x: np.ndarray, k: int) -> NeighborsResults:
    distances, indices = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(x)
    return NeighborsResults(indices=indices, distances=distances)


benchmarker = Benchmarker(
    bench,
    batch_key="batch",
    label_key="cell_type",
    embedding_obsm_keys=["X_pca", "X_scmdcf", "X_totalvi"],
    pre_integrated_embedding_obsm_key="X_pca",
    bio_conservation_metrics=BioConservation(isolated_labels=False),
    batch_correction_metrics=None,
    progress_bar=False,
)
benchmarker.prepare(neighbor_computer=exact_neighbors)
benchmarker.benchmark()
benchmarker.plot_results_table(min_max_scale=False, show=False)

# %%
benchmarker.get_results(min_max_scale=False)
