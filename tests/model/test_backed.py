"""SCMDCF trained from a backed ``.h5mu`` is the model trained from the same data in memory."""

import hashlib

import anndata as ad
import h5py
import mudata as md
import numpy as np
import pytest
import scvi
from scipy import sparse

from scvi_contrastive.data import backed
from scvi_contrastive.model import SCMDCF

N_CELLS = 300
MODALITIES = {"rna_layer": "rna", "protein_layer": "prot"}
INIT = {"n_latent": 4, "n_hidden": 16, "n_clusters": 3}
TRAIN = {
    "max_epochs": 3,
    "accelerator": "cpu",
    "enable_progress_bar": False,
    "batch_size": 64,
    "plan_kwargs": {"cluster_init": "kmeans"},
}


def _mudata(n_cells: int = N_CELLS) -> md.MuData:
    """Three cell types: RNA counts as CSR and protein counts dense, both in ``.X``."""
    rng = np.random.default_rng(0)
    types = rng.integers(0, 3, n_cells)
    genes = rng.poisson(rng.gamma(1.0, 1.0, (3, 60))[types]).astype(np.float32)
    genes[:, 0] += 1  # every cell has counts
    proteins = rng.poisson(rng.gamma(2.0, 2.0, (3, 12))[types] + 1).astype(np.float32)
    rna = ad.AnnData(sparse.csr_matrix(genes))
    rna.var_names = [f"g{i}" for i in range(genes.shape[1])]
    prot = ad.AnnData(proteins)
    prot.var_names = [f"p{i}" for i in range(proteins.shape[1])]
    rna.obs_names = prot.obs_names = [f"cell{i}" for i in range(n_cells)]
    mdata = md.MuData({"rna": rna, "prot": prot})
    mdata.obs["batch"] = np.resize(["a", "b"], n_cells)
    return mdata


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    path = tmp_path_factory.mktemp("backed") / "cells.h5mu"
    _mudata().write(path)
    return path


def _assert_backed(mdata):
    assert mdata.isbacked
    for modality in mdata.mod.values():
        assert modality.isbacked and backed.is_on_disk(modality.X)


def _train(mdata):
    scvi.settings.seed = 0
    SCMDCF.setup_mudata(mdata, batch_key="batch", modalities=MODALITIES)
    model = SCMDCF(mdata, **INIT)
    model.train(**TRAIN)
    return model


def _outputs(model):
    shuffled = np.random.default_rng(1).permutation(N_CELLS)[:100]
    return {
        "joint": model.get_latent_representation(),
        "rna": model.get_latent_representation(modality="rna"),
        "shuffled": model.get_latent_representation(indices=shuffled),
        "clusters": model.get_cluster_assignments(),
        "protein": model.get_normalized_expression(indices=shuffled, modality="protein"),
        "weights": model.get_fusion_weights().to_numpy(),
    }


def test_backed_training_gives_the_in_memory_model(path):
    expected = _outputs(_train(md.read_h5mu(path)))
    mdata = md.read_h5mu(path, backed=True)
    model = _train(mdata)
    outputs = _outputs(model)
    for name, value in expected.items():
        # Same minibatches in the same row order as in memory: the same numbers.
        np.testing.assert_allclose(outputs[name], value, rtol=0, atol=1e-6, err_msg=name)
    assert list(outputs["protein"].index) == list(expected["protein"].index)
    _assert_backed(mdata)
    # New backed data given to a getter are read from their file as well.
    other = md.read_h5mu(path, backed=True)
    np.testing.assert_allclose(
        model.get_latent_representation(other), expected["joint"], rtol=0, atol=1e-6
    )
    _assert_backed(other)


def _file_digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_setup_and_construction_read_bounded_chunks_never_the_whole_matrix(
    path, monkeypatch, row_reads
):
    mdata = md.read_h5mu(path, backed=True)
    monkeypatch.setattr(backed, "CHUNK_ROWS", 50)
    classes = {type(modality.X) for modality in mdata.mod.values()}
    assert len(classes) == 2  # an h5py dataset (protein) and a CSR dataset (RNA)
    reads = row_reads(*classes)
    for cls in classes:
        if hasattr(cls, "to_memory"):
            monkeypatch.setattr(cls, "to_memory", lambda self: pytest.fail("read whole"))
    SCMDCF.setup_mudata(mdata, batch_key="batch", modalities=MODALITIES)
    SCMDCF(mdata, **INIT)
    assert reads and max(reads) <= 50


def test_a_backed_mudata_gets_only_what_setup_documents(path):
    digest = _file_digest(path)
    mdata = md.read_h5mu(path, backed=True)
    before = {slot: set(getattr(mdata, slot)) for slot in ("obs", "obsm", "uns")}
    obs, modality_obs = mdata.obs.copy(), {k: m.obs.copy() for k, m in mdata.mod.items()}
    model = _train(mdata)
    _outputs(model)
    added = {slot: set(getattr(mdata, slot)) - keys for slot, keys in before.items()}
    assert added == {
        "obs": {"_scvi_batch"},
        "obsm": {"_scvi_contrastive_observed"},
        "uns": {"_scvi_uuid", "_scvi_manager_uuid"},
    }
    assert mdata.obs[obs.columns].equals(obs)
    for name, modality in mdata.mod.items():
        assert modality.obs.equals(modality_obs[name])
        assert not modality.layers
    _assert_backed(mdata)
    mdata.file.close()
    assert _file_digest(path) == digest  # the file is read, never written


def test_backed_layers_are_read_from_memory(path):
    mdata = md.read_h5mu(path)
    for modality in mdata.mod.values():
        modality.layers["counts"] = modality.X.copy()
    layered = path.with_name("layered.h5mu")
    mdata.write(layered)
    mdata = md.read_h5mu(layered, backed=True)
    # anndata's backed mode loads layers into memory when the file is opened; only .X stays.
    assert sparse.issparse(mdata["rna"].layers["counts"])
    SCMDCF.setup_mudata(mdata, rna_layer="counts", protein_layer="counts", modalities=MODALITIES)
    SCMDCF(mdata, **INIT)


def test_what_cannot_be_read_from_disk_is_refused_with_the_fix(tmp_path):
    partial = _mudata()
    partial.mod["prot"] = partial["prot"][:200].copy()
    partial.update()
    partial.write(tmp_path / "partial.h5mu")
    with pytest.raises(ValueError, match=r"modality 'prot' is backed.*copied into memory"):
        SCMDCF.setup_mudata(
            md.read_h5mu(tmp_path / "partial.h5mu", backed=True), modalities=MODALITIES
        )
    csc = _mudata()
    csc.mod["rna"].X = sparse.csc_matrix(csc["rna"].X)
    csc.write(tmp_path / "csc.h5mu")
    with h5py.File(tmp_path / "csc.h5mu") as file:
        assert file["mod/rna/X"].attrs["encoding-type"] == "csc_matrix"
    with pytest.raises(ValueError, match=r"\.X of modality 'rna' is a CSC matrix on disk"):
        SCMDCF.setup_mudata(
            md.read_h5mu(tmp_path / "csc.h5mu", backed=True), modalities=MODALITIES
        )
