import json
from importlib.metadata import version

import anndata
import mudata as md
import numpy as np
import pandas as pd
import pytest
import scvi
from scipy import sparse

pytest.importorskip("huggingface_hub")

import huggingface_hub
from scvi.hub import HubMetadata, HubModel

from scvi_contrastive.hub import (
    ContrastiveModelCardHelper,
    make_hub_model,
    push_to_huggingface_hub,
)
from scvi_contrastive.model import BICLUM, SCMDCF

RNA_ATAC = {"rna_layer": "rna", "atac_layer": "atac"}

TRAIN = {"enable_progress_bar": False, "accelerator": "cpu"}
ANNDATA_VERSION = version("anndata")


def _paired(n_cells=80):
    mdata = scvi.data.synthetic_iid(
        batch_size=n_cells // 2,
        n_genes=30,
        n_proteins=8,
        n_regions=0,
        n_batches=2,
        return_mudata=True,
    )
    mdata.obs_names = [f"cell_{i}" for i in range(mdata.n_obs)]
    for mod in mdata.mod.values():
        mod.obs_names = mdata.obs_names
    mdata.obs["batch"] = mdata.obs["batch"].astype(str)
    return mdata


def _unpaired(n_cells=60, n_genes=25, seed=0):
    rng = np.random.default_rng(seed)
    programs = rng.gamma(0.6, 1.0, size=(3, n_genes))
    mods = {}
    for name in ("rna", "atac"):
        labels = rng.integers(0, 3, n_cells)
        counts = rng.poisson(programs[labels] * 3).astype(np.float32)
        adata = anndata.AnnData(sparse.csr_matrix(counts))
        adata.obs_names = [f"{name}_{i}" for i in range(n_cells)]
        adata.var_names = [f"g{j}" for j in range(n_genes)]
        adata.obs["cell_type"] = [f"t{label}" for label in labels]
        mods[name] = adata
    mdata = md.MuData(mods)
    mdata.obs["cell_type"] = pd.concat([m.obs["cell_type"] for m in mods.values()])
    return mdata


@pytest.fixture(scope="module")
def scmdcf():
    scvi.settings.seed = 0
    mdata = _paired()
    SCMDCF.setup_mudata(
        mdata,
        batch_key="batch",
        modalities={"rna_layer": "rna", "protein_layer": "protein_expression"},
    )
    model = SCMDCF(mdata, n_latent=5, n_hidden=16, n_clusters=3)
    model.train(max_epochs=2, batch_size=40, plan_kwargs={"cluster_init": "kmeans"}, **TRAIN)
    return model


@pytest.fixture(scope="module")
def biclum():
    scvi.settings.seed = 0
    mdata = _unpaired()
    BICLUM.setup_mudata(mdata, labels_key="cell_type", modalities=RNA_ATAC)
    model = BICLUM(mdata, n_latent=6, n_hidden=16, n_metacells=8, mnn_k=5)
    model.train(max_epochs=2, batch_size=20, **TRAIN)
    return model


@pytest.mark.parametrize("name", ["scmdcf", "biclum"])
def test_hub_round_trip_gives_the_identical_latent(name, request, tmp_path):
    model = request.getfixturevalue(name)
    local_dir = tmp_path / name
    hub_model = make_hub_model(model, local_dir, metrics={"knn_accuracy": 0.91})
    for file in ("model.pt", "mdata.h5mu", "README.md", "_scvi_required_metadata.json"):
        assert (local_dir / file).is_file(), file

    metadata = HubMetadata.from_dir(
        str(local_dir),
        anndata_version=ANNDATA_VERSION,
        model_parent_module="scvi_contrastive.model",
    )
    assert metadata.model_cls_name == type(model).__name__
    assert hub_model.metadata == metadata

    reloaded = HubModel(str(local_dir)).model  # metadata and card read back from the folder
    assert type(reloaded) is type(model)
    np.testing.assert_array_equal(
        reloaded.get_latent_representation(), model.get_latent_representation()
    )


def test_model_card_describes_modalities_data_and_metrics(scmdcf, tmp_path):
    hub_model = make_hub_model(
        scmdcf,
        tmp_path / "card",
        metrics={"knn_accuracy": 0.91},
        tissues=["blood"],
        description="Synthetic test model.",
        training_code_url="https://github.com/example/scvi-contrastive",
    )
    card = hub_model.model_card
    tags = card.data.tags
    assert {"modality:rna", "modality:protein", "tissue:blood", "model_cls_name:SCMDCF"} <= set(
        tags
    )
    assert card.data.library_name == "scvi-tools"
    text = card.content
    assert "Contrastive fusion of paired multi-omics cells" in text  # the class's summary
    assert "| cells | 80 |" in text
    assert "| modality 'protein_expression' | 80 cells × 8 features |" in text
    assert "| batches (batch) | batch_0, batch_1 |" in text
    assert "| knn_accuracy | 0.91 |" in text
    assert "Synthetic test model." in text
    assert "SCMDCF.load_query_data" in text
    assert json.loads((tmp_path / "card" / "metrics.json").read_text()) == {"knn_accuracy": 0.91}
    # The card file on disk is the one HubModel reads back.
    assert HubModel(str(tmp_path / "card")).model_card.content == text


def test_card_helper_from_dir_alone(biclum, tmp_path):
    biclum.save(str(tmp_path / "saved"), save_anndata=False)
    helper = ContrastiveModelCardHelper.from_dir(
        str(tmp_path / "saved"), license_info="mit", anndata_version=ANNDATA_VERSION
    )
    assert helper.model_cls_name == "BICLUM"
    assert {"modality:rna", "modality:atac"} <= set(helper.model_card.data.tags)
    assert "Bilateral contrastive alignment" in helper.model_card.content
    with pytest.raises(ValueError, match="Invalid URL"):
        ContrastiveModelCardHelper.from_dir(
            str(tmp_path / "saved"),
            license_info="mit",
            anndata_version=ANNDATA_VERSION,
            training_code_url="not a url",
        )


class _RecordingHub:
    """Stands in for the Hugging Face Hub client functions: records calls, no network."""

    def __init__(self, monkeypatch):
        self.calls = []
        record = self._record
        monkeypatch.setattr(huggingface_hub.HfApi, "upload_file", record("upload_file"))
        monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", record("upload_folder"))
        monkeypatch.setattr(huggingface_hub.ModelCard, "push_to_hub", record("card"))
        monkeypatch.setattr(huggingface_hub, "create_repo", record("create_repo"))
        monkeypatch.setattr(huggingface_hub, "add_collection_item", record("collection"))

    def _record(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, kwargs))

        return call

    def names(self):
        return [name for name, _ in self.calls]


def test_push_uploads_card_metadata_and_model_folder(scmdcf, tmp_path, monkeypatch):
    hub = _RecordingHub(monkeypatch)
    hub_model = make_hub_model(scmdcf, tmp_path / "push")
    push_to_huggingface_hub(hub_model, "user/scmdcf-test", "hf_token", repo_create=True)
    names = hub.names()
    assert names[:2] == ["create_repo", "card"]
    uploaded = dict(hub.calls)
    assert uploaded["upload_file"]["path_in_repo"] == "_scvi_required_metadata.json"
    assert uploaded["upload_folder"]["folder_path"] == str(tmp_path / "push")
    assert uploaded["upload_folder"]["repo_id"] == "user/scmdcf-test"
    assert "collection" not in names  # scvi-hub has no collection for plugin models
