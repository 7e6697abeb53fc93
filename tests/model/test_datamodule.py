"""SCMDCF trained through scvi-tools' custom-datamodule path, from AnnData stores on disk."""

import importlib.util

import anndata as ad
import mudata as md
import numpy as np
import pytest
import scvi
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from scvi_contrastive.model import SCMDCF

N_CELLS = 400
INIT = {"n_latent": 4, "n_hidden": 16, "n_clusters": 3}
TRAIN = {
    "max_epochs": 20,
    "accelerator": "cpu",
    "enable_progress_bar": False,
    "plan_kwargs": {"cluster_init": "kmeans"},
}

needs_lamindb = pytest.mark.skipif(
    importlib.util.find_spec("lamindb") is None,
    reason="lamindb (the optional `atlas` extra: pip install 'scvi-contrastive[atlas]') is not "
    "installed",
)


def _cells(n_cells: int = N_CELLS):
    """Three cell types in two batches: RNA counts (CSR), protein counts (dense), types."""
    rng = np.random.default_rng(0)
    types = rng.integers(0, 3, n_cells)
    genes = rng.poisson(rng.gamma(1.0, 1.0, (3, 60))[types]).astype(np.float32)
    genes[:, 0] += 1  # every cell has counts
    proteins = rng.poisson(rng.gamma(2.0, 2.0, (3, 12))[types] + 1).astype(np.float32)
    return sparse.csr_matrix(genes), proteins, types


def _ari(latent: np.ndarray, types: np.ndarray) -> float:
    clusters = KMeans(3, n_init=10, random_state=0).fit_predict(latent)
    return adjusted_rand_score(types, clusters)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The cells split over two ``.h5ad`` stores: RNA in ``.X``, protein in ``.obsm``."""
    genes, proteins, types = _cells()
    folder = tmp_path_factory.mktemp("stores")
    paths = []
    for part, rows in enumerate(np.array_split(np.arange(N_CELLS), 2)):
        store = ad.AnnData(genes[rows])
        store.var_names = [f"g{i}" for i in range(genes.shape[1])]
        store.obs_names = [f"cell{i}" for i in rows]
        store.obs["batch"] = np.resize(["a", "b"], N_CELLS)[rows]
        store.obsm["protein_counts"] = proteins[rows]
        paths.append(folder / f"part{part}.h5ad")
        store.write_h5ad(paths[-1])
    return paths, genes, proteins, types


def _in_memory_latent(genes, proteins) -> np.ndarray:
    rna, prot = ad.AnnData(genes), ad.AnnData(proteins)
    rna.var_names = [f"g{i}" for i in range(genes.shape[1])]
    prot.var_names = [f"p{i}" for i in range(proteins.shape[1])]
    rna.obs_names = prot.obs_names = [f"cell{i}" for i in range(N_CELLS)]
    mdata = md.MuData({"rna": rna, "prot": prot})
    mdata.obs["batch"] = np.resize(["a", "b"], N_CELLS)
    SCMDCF.setup_mudata(
        mdata, batch_key="batch", modalities={"rna_layer": "rna", "protein_layer": "prot"}
    )
    model = SCMDCF(mdata, **INIT)
    model.train(batch_size=64, **TRAIN)
    return model.get_latent_representation()


@needs_lamindb
def test_training_from_a_datamodule_clusters_the_types_as_in_memory(stores):
    from scvi_contrastive.dataloaders import PairedMappedDataModule

    paths, genes, proteins, types = stores
    scvi.settings.seed = 0
    datamodule = PairedMappedDataModule(
        paths, {"rna": "X", "protein": "obsm/protein_counts"}, batch_key="batch", batch_size=64
    )
    assert datamodule.n_obs == N_CELLS
    assert datamodule.registry["field_registries"]["batch"]["summary_stats"]["n_batch"] == 2
    first = next(iter(datamodule.inference_dataloader(np.arange(5))))
    np.testing.assert_array_equal(first["X"].numpy(), genes[:5].toarray())
    np.testing.assert_array_equal(first["proteins"].numpy(), proteins[:5])

    model = SCMDCF(datamodule=datamodule, **INIT)
    model.train(datamodule=datamodule, **TRAIN)
    latent = model.get_latent_representation(dataloader=datamodule.inference_dataloader())
    clusters = model.get_cluster_assignments(dataloader=datamodule.inference_dataloader())

    assert latent.shape == (N_CELLS, 2 * INIT["n_latent"])
    assert np.isfinite(latent).all()
    assert clusters.shape == (N_CELLS,)
    assert len(model.history["train_loss"]) == TRAIN["max_epochs"]
    in_memory = _ari(_in_memory_latent(genes, proteins), types)
    assert _ari(latent, types) > 0.8
    assert _ari(latent, types) > in_memory - 0.1
    datamodule.close()


def test_a_model_needs_its_cells():
    with pytest.raises(ValueError, match="`adata` or `datamodule`"):
        SCMDCF(**INIT)


@needs_lamindb
def test_a_store_without_a_modality_is_refused(stores):
    from scvi_contrastive.dataloaders import PairedMappedDataModule

    with pytest.raises(ValueError, match="missing from"):
        PairedMappedDataModule(stores[0], {"rna": "X", "protein": "obsm/adt"})
    with pytest.raises(ValueError, match="at least two modalities"):
        PairedMappedDataModule(stores[0], {"rna": "X"})
