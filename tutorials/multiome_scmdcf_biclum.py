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
# # RNA + ATAC: paired with SCMDCF, unpaired with BICLUM
#
# Two ways to integrate gene expression and chromatin accessibility, on a 10x Genomics PBMC
# Multiome subset (1,000 cells, 45 marker genes, 174 peaks near them):
#
# - **paired** — both modalities measured in the same cells: `SCMDCF` fuses the two views of
#   each cell into one embedding and clusters it;
# - **unpaired** — RNA and ATAC measured in *different* cells: the same data are split into two
#   halves, RNA kept for one and ATAC for the other; the peaks are summed into gene activity
#   (`gene_activity`), `BICLUM` aligns the two halves in one space, and cell labels are
#   transferred from the RNA cells to the ATAC cells (`transfer_labels`).
#
# The file has no cell-type annotation, so labels are derived here from marker genes of each
# cell's RNA profile (B cells: *MS4A1*, *CD79A*, ...; monocytes: *CD14*, *LYZ*, ...; NK cells:
# *NKG7*, *GNLY*; T cells: *CD2*, *IL7R*, ...). They colour the plots, are the labels that
# BICLUM transfers, and, for the ATAC half, the held-back truth the transfer is scored against.

# %%
import os

# Full training unless SCVI_CONTRASTIVE_TUTORIAL_EPOCHS is set (continuous integration sets
# it to a few epochs to check that the notebook runs; the results are then not meaningful).
QUICK_EPOCHS = os.environ.get("SCVI_CONTRASTIVE_TUTORIAL_EPOCHS")
MAX_EPOCHS = int(QUICK_EPOCHS) if QUICK_EPOCHS else None  # None: each model's default

# %%
import matplotlib.pyplot as plt
import mudata as md
import numpy as np
import pandas as pd
import scanpy as sc
import scvi
from sklearn.metrics import adjusted_rand_score

from scvi_contrastive.data import (
    PBMC_MARKERS,
    gene_activity,
    marker_labels,
    peak_lsi,
    read_pbmc_multiome,
)
from scvi_contrastive.model import BICLUM, SCMDCF

scvi.settings.seed = 0

# %% [markdown]
# ## Data and marker-based labels

# %%
mdata = read_pbmc_multiome()
mdata

# %%
PBMC_MARKERS  # B / monocyte / NK / T cell markers; ambiguous cells stay "unassigned"

# %%
mdata.obs["marker_label"] = marker_labels(mdata["rna"])
mdata.obs["marker_label"].value_counts()

# %% [markdown]
# ## Paired: SCMDCF on RNA + ATAC
#
# SCMDCF reads the raw counts of both modalities (a negative binomial likelihood for RNA, a
# Bernoulli one for binarised accessibility) and learns one joint embedding, with a DEC
# clustering head (here 6 clusters). Beside ATAC its RNA encoder starts from a PCA of analytic
# Pearson residuals (beside a protein panel, of log-normalised counts; `rna_input` chooses).

# %%
SCMDCF.setup_mudata(
    mdata,
    rna_layer="counts",
    atac_layer="counts",
    modalities={"rna_layer": "rna", "atac_layer": "atac"},
)
scmdcf = SCMDCF(mdata, n_clusters=6)
scmdcf.train(max_epochs=MAX_EPOCHS, enable_progress_bar=False)
mdata.obsm["X_scmdcf"] = scmdcf.get_latent_representation()
mdata.obs["scmdcf_cluster"] = scmdcf.get_cluster_assignments().astype(str)
scmdcf.get_fusion_weights().mean()  # the weight of each modality in the joint embedding

# %%
paired = sc.AnnData(obs=mdata.obs[["marker_label", "scmdcf_cluster"]].copy())
paired.obsm["X_scmdcf"] = mdata.obsm["X_scmdcf"]
sc.pp.neighbors(paired, use_rep="X_scmdcf", transformer="sklearn", random_state=0)
sc.tl.umap(paired, random_state=0)
sc.pl.umap(paired, color=["marker_label", "scmdcf_cluster"], show=False)

# %%
assigned = mdata.obs["marker_label"] != "unassigned"
adjusted_rand_score(
    mdata.obs.loc[assigned, "marker_label"], mdata.obs.loc[assigned, "scmdcf_cluster"]
)

# %% [markdown]
# ## From peaks to gene activity
#
# To compare ATAC cells with RNA cells in the same features, each cell's peak counts are summed
# over each gene's region. The RNA modality's `var["interval"]` (Cell Ranger's gene interval,
# which spans the gene's transcription start sites) gives the regions; peaks within 10 kb of
# it count for the gene.

# %%
activity = gene_activity(
    mdata["atac"], genes=mdata["rna"], layer="counts", upstream=10_000, downstream=10_000
)
activity

# %% [markdown]
# Cell Ranger ships its own peak → gene table; the peaks it links to each gene (promoter or
# distal) can be compared with the peaks `gene_activity` used.

# %%
cell_ranger = mdata["atac"].uns["atac"]["peak_annotation"]
ours = activity.uns["gene_activity"]["peak_gene"]
comparison = pd.DataFrame(
    {
        "peaks (gene_activity)": ours.groupby("gene").size(),
        "peaks (Cell Ranger)": cell_ranger.groupby(level="gene").size(),
    }
).fillna(0)
comparison.head(10)

# %% [markdown]
# ## Unpaired: split the cells, then BICLUM
#
# One half of the cells keeps only its RNA, the other half only its ATAC gene activity; the
# cells are renamed so the two halves share no names. Only the RNA cells carry labels into the
# model; the ATAC cells' marker labels (computed from their RNA, which the model never sees)
# are kept aside to score the transfer. The ATAC half also keeps its peaks' own view,
# `peak_lsi` (TF-IDF and LSI, the first component, which follows sequencing depth, left out):
# BICLUM reads the gene activity, and trained with `neighbors_obsm` it keeps the ATAC cells'
# neighbourhoods of the peaks and finds its first RNA-ATAC pairs with each ATAC cell averaged
# over those neighbours (README, *The peaks' neighbourhoods in training*).

# %%
order = np.random.default_rng(0).permutation(mdata.n_obs)
rna_cells, atac_cells = np.sort(order[: mdata.n_obs // 2]), np.sort(order[mdata.n_obs // 2 :])
rna = mdata["rna"][rna_cells].copy()
atac = activity[atac_cells].copy()
rna.obs_names = [f"rna_{name}" for name in rna.obs_names]
atac.obs_names = [f"atac_{name}" for name in atac.obs_names]
atac.obsm["X_lsi"] = peak_lsi(mdata["atac"][atac_cells])  # the same cells, in order
truth = pd.Series(mdata.obs["marker_label"].to_numpy()[atac_cells], index=atac.obs_names)

unpaired = md.MuData({"rna": rna, "atac": atac})
source_labels = mdata.obs["marker_label"].to_numpy()[rna_cells]
unpaired.obs["marker_label"] = pd.Series(source_labels, index=rna.obs_names).replace(
    "unassigned", np.nan
)
unpaired

# %%
BICLUM.setup_mudata(
    unpaired,
    rna_layer="counts",
    atac_layer=None,
    labels_key="marker_label",
    modalities={"rna_layer": "rna", "atac_layer": "atac"},
)
biclum = BICLUM(unpaired)
biclum.train(max_epochs=MAX_EPOCHS, neighbors_obsm={"atac": "X_lsi"}, enable_progress_bar=False)

# %% [markdown]
# `transfer_labels` embeds both halves, fits a k-nearest-neighbour vote on the labelled RNA
# cells and predicts a label, with the share of votes it got, for every ATAC cell.

# %%
predictions = biclum.transfer_labels()
scored = truth[truth != "unassigned"].index
accuracy = float((predictions.loc[scored, "predicted"] == truth[scored]).mean())
majority = float(truth[scored].value_counts(normalize=True).max())
print(f"label transfer to ATAC cells: accuracy {accuracy:.3f} (majority class {majority:.3f})")
pd.crosstab(truth[scored].rename("marker label"), predictions.loc[scored, "predicted"])

# %% [markdown]
# The peaks hold more than their gene activity (on SNARE-seq cortex a classifier reaches 0.68
# from the peaks' LSI, 0.63 from the gene activity; README, *Smoothing along the peaks' own
# neighbours*). After training, `smooth_obsm` also moves each ATAC cell halfway to its 15
# nearest ATAC cells in the peaks' LSI before the vote.

# %%
smoothed = biclum.transfer_labels(smooth_obsm={"atac": "X_lsi"})
accuracy = float((smoothed.loc[scored, "predicted"] == truth[scored]).mean())
print(f"label transfer, ATAC cells smoothed along the peaks: accuracy {accuracy:.3f}")

# %%
joint = sc.AnnData(obs=pd.DataFrame(index=unpaired.obs_names))
joint.obsm["X_biclum"] = biclum.get_latent_representation()
joint.obs["modality"] = np.where(joint.obs_names.str.startswith("rna_"), "RNA", "ATAC")
joint.obs["marker_label"] = pd.concat(
    [pd.Series(source_labels, index=rna.obs_names), truth]
).reindex(joint.obs_names)
sc.pp.neighbors(joint, use_rep="X_biclum", transformer="sklearn", random_state=0)
sc.tl.umap(joint, random_state=0)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
sc.pl.umap(joint, color="modality", ax=axes[0], show=False)
sc.pl.umap(joint, color="marker_label", ax=axes[1], show=False)
fig.tight_layout()
