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
# # Sharing a model and mapping new cells into it
#
# A model trained on a reference data set is saved with scvi-hub metadata and a model card,
# reloaded the way a user of the Hugging Face Hub would, and then used to map cells of a new
# batch (query) into the reference's space with scArches-style query mapping, where their
# cell types are predicted from the reference's labels.
#
# Data: the 10x Genomics PBMC CITE-seq set (RNA + protein, 7 labelled cell types), split at
# random into a reference half and a query half, which get different `batch` categories.

# %%
import os

# Full training unless SCVI_CONTRASTIVE_TUTORIAL_EPOCHS is set (continuous integration sets
# it to a few epochs to check that the notebook runs; the results are then not meaningful).
QUICK_EPOCHS = os.environ.get("SCVI_CONTRASTIVE_TUTORIAL_EPOCHS")
MAX_EPOCHS = int(QUICK_EPOCHS) if QUICK_EPOCHS else None  # None: the model's default
QUERY_EPOCHS = int(QUICK_EPOCHS) if QUICK_EPOCHS else 100

# %%
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import scanpy as sc
import scvi
from IPython.display import Markdown
from scvi.hub import HubMetadata, HubModel
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from scvi_contrastive.data import read_cite_seq
from scvi_contrastive.hub import make_hub_model
from scvi_contrastive.model import SCMDCF

scvi.settings.seed = 0
workdir = Path(tempfile.mkdtemp())  # everything this tutorial writes goes here

# %% [markdown]
# ## Reference and query

# %%
mdata = read_cite_seq("pbmc10x_cite")
in_reference = np.random.default_rng(0).random(mdata.n_obs) < 0.5
mdata.obs["batch"] = np.where(in_reference, "reference", "query")
reference = mdata[in_reference].copy()
query = mdata[~in_reference].copy()
reference.n_obs, query.n_obs

# %% [markdown]
# ## Train the reference model
#
# The batch is registered (`batch_key="batch"`) even though the reference holds one batch:
# query mapping adds the query's batch as a new category of this covariate.

# %%
SCMDCF.setup_mudata(
    reference,
    rna_layer="counts",
    protein_layer="counts",
    batch_key="batch",
    modalities={"rna_layer": "rna", "protein_layer": "prot"},
)
model = SCMDCF(reference, n_clusters=7)
model.train(max_epochs=MAX_EPOCHS, enable_progress_bar=False)
reference_latent = model.get_latent_representation()

# %% [markdown]
# ## Save with scvi-hub metadata and a model card
#
# `make_hub_model` saves the model with its training data (`mdata.h5mu`), writes the
# metadata scvi-hub needs to load it (`_scvi_required_metadata.json`, naming
# `scvi_contrastive.model` as the module the class comes from) and a model card (`README.md`):
# modalities, a summary of the training data, the model's parameters and the metrics given.
# Here the metric is how well the reference's own labels are predicted from their neighbours
# in the embedding (cross-validated).

# %%
self_consistency = cross_val_score(
    KNeighborsClassifier(n_neighbors=15), reference_latent, reference.obs["cell_type"], cv=3
).mean()
hub_dir = workdir / "scmdcf-pbmc10x-cite"
hub_model = make_hub_model(
    model,
    hub_dir,
    license_info="cc-by-4.0",
    description="SCMDCF trained on half of the 10x Genomics PBMC CITE-seq cells.",
    tissues=["blood"],
    labels_key="cell_type",
    metrics={"knn_label_accuracy_cv3": round(float(self_consistency), 4)},
)
sorted(path.name for path in hub_dir.iterdir())

# %%
Markdown(hub_model.model_card.content.split("---", 2)[2])  # the card, without its YAML header

# %% [markdown]
# The metadata and the card can also be built separately from a saved model folder, with
# scvi-tools' `HubMetadata.from_dir` and this package's `ContrastiveModelCardHelper.from_dir`
# (scvi-tools' own card helper only knows its built-in models).

# %%
HubMetadata.from_dir(
    str(hub_dir),
    anndata_version=version("anndata"),
    model_parent_module="scvi_contrastive.model",
)

# %% [markdown]
# ## Reload, as a Hub user would
#
# `HubModel(folder)` reads the metadata and the card; `.model` imports `SCMDCF` from
# `scvi_contrastive.model` and loads it with the saved data. After
# `HubModel.pull_from_huggingface_hub("<user>/<repo>")` the same two lines apply.

# %%
reloaded = HubModel(str(hub_dir)).model
np.testing.assert_array_equal(reloaded.get_latent_representation(), reference_latent)
reloaded

# %% [markdown]
# ## Publish (needs the network and a token)
#
# This tutorial runs offline; to upload the folder to a Hugging Face model repository
# (model card, metadata, model and data):
#
# ```python
# from scvi_contrastive.hub import push_to_huggingface_hub
#
# push_to_huggingface_hub(hub_model, "<user>/scmdcf-pbmc10x-cite", repo_token="hf_...",
#                         repo_create=True)
# ```
#
# It calls scvi-tools' `HubModel.push_to_huggingface_hub`, and with scvi-tools before 1.5
# also uploads the model folder, which those versions skip when the data are pushed.

# %% [markdown]
# ## Map the query (scArches)
#
# The reference model cannot embed cells of a batch it has not seen:

# %%
try:
    reloaded.get_latent_representation(query.copy())
except ValueError as error:
    print(error)

# %% [markdown]
# `SCMDCF.load_query_data` registers the query with the reference's setup, adds its batch
# categories, copies the reference weights and freezes all of them except the new batch's
# parameters. In SCMDCF the batch enters the decoders only (the encoders, and so the
# embedding, never see it): training on the query fits how the new batch's counts are
# generated, and the query embedding is the reference encoders'. Reference cells keep exactly
# their embedding.

# %%
query_model = SCMDCF.load_query_data(query, reloaded)
query_model.train(max_epochs=QUERY_EPOCHS, enable_progress_bar=False)
query_latent = query_model.get_latent_representation()
np.testing.assert_array_equal(
    query_model.get_latent_representation(reloaded.adata), reference_latent
)

# %% [markdown]
# ## Label transfer
#
# Each query cell gets the majority label of its 15 nearest reference cells in the joint
# embedding; the query's published labels score the prediction.

# %%
knn = KNeighborsClassifier(n_neighbors=15).fit(reference_latent, reference.obs["cell_type"])
query.obs["predicted"] = knn.predict(query_latent)
accuracy = float((query.obs["predicted"] == query.obs["cell_type"]).mean())
majority = float(query.obs["cell_type"].value_counts(normalize=True).max())
print(f"query label transfer: accuracy {accuracy:.3f} (majority class {majority:.3f})")
pd.crosstab(query.obs["cell_type"], query.obs["predicted"])

# %%
both = sc.AnnData(obs=pd.concat([reference.obs, query.obs])[["batch", "cell_type"]])
both.obsm["X_scmdcf"] = np.concatenate([reference_latent, query_latent])
sc.pp.neighbors(both, use_rep="X_scmdcf", transformer="sklearn", random_state=0)
sc.tl.umap(both, random_state=0)
sc.pl.umap(both, color=["batch", "cell_type"], show=False)
