"""BICLUM trained from a backed ``.h5mu`` is the model trained from the same data in memory."""

import hashlib

import anndata as ad
import h5py
import mudata as md
import numpy as np
import pandas as pd
import pytest
import scvi
from scipy import sparse

from scvi_contrastive.data import backed
from scvi_contrastive.data.unpaired_backed import read_cells
from scvi_contrastive.dataloaders.modality_rows import ModalityRowsManager
from scvi_contrastive.model import BICLUM
from scvi_contrastive.model._biclum_anchors import NormalizedRows
from scvi_contrastive.tools import chunks

MODALITIES = {"rna_layer": "rna", "atac_layer": "atac"}
INIT = {"n_latent": 6, "n_hidden": 16, "n_metacells": 12, "mnn_k": 10}
TRAIN = {
    "max_epochs": 4,
    "batch_size": 32,
    "mnn_refresh_every": 2,
    "accelerator": "cpu",
    "enable_progress_bar": False,
}


def _mudata(n_rna: int = 160, n_atac: int = 130, shared: int = 0) -> md.MuData:
    """RNA and gene-activity cells of four types over 40 genes, counts as CSR in ``.X``.

    With ``shared``, the last ``shared`` RNA cells are also ATAC cells, listed in reverse order
    first in the ATAC modality, so its cells are not in their ``mdata.obs`` order.
    """
    rng = np.random.default_rng(0)
    programs = rng.gamma(0.6, 1.0, size=(4, 40))
    modalities = {}
    for name, n, depth in (("rna", n_rna, 4.0), ("atac", n_atac, 1.5)):
        labels = rng.integers(0, 4, n)
        counts = rng.poisson(programs[labels] * depth).astype(np.float32)
        adata = ad.AnnData(sparse.csr_matrix(counts))
        adata.obs_names = [f"{name}{i}" for i in range(n)]
        adata.var_names = [f"g{j}" for j in range(counts.shape[1])]
        adata.obs["cell_type"] = pd.Categorical([f"t{label}" for label in labels])
        modalities[name] = adata
    if shared:
        names = list(modalities["atac"].obs_names)
        names[:shared] = modalities["rna"].obs_names[-shared:][::-1]
        modalities["atac"].obs_names = names
    mdata = md.MuData(modalities)
    mdata.obs["batch"] = np.resize(["a", "b"], mdata.n_obs)
    # From the modalities: mudata 0.4 no longer copies their columns into mdata.obs.
    by_rna, by_atac = (modalities[m].obs["cell_type"].astype(str) for m in ("rna", "atac"))
    mdata.obs["cell_type"] = pd.Categorical(by_rna.combine_first(by_atac)[mdata.obs_names])
    return mdata


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    path = tmp_path_factory.mktemp("biclum_backed") / "cells.h5mu"
    _mudata().write(path)
    return path


def _train(mdata, init=INIT, **setup):
    scvi.settings.seed = 0
    BICLUM.setup_mudata(mdata, batch_key="batch", modalities=MODALITIES, **setup)
    model = BICLUM(mdata, **init)
    model.train(**TRAIN)
    return model


def _assert_backed(mdata):
    on_disk = [m.isbacked and backed.is_on_disk(m.X) for m in mdata.mod.values()]
    assert mdata.isbacked and all(on_disk)


@pytest.fixture(scope="module")
def models(path):
    """The model trained in memory and the one trained from the backed file."""
    return _train(md.read_h5mu(path)), _train(md.read_h5mu(path, backed=True))


def test_backed_training_gives_the_in_memory_model(models):
    memory, disk = models
    assert isinstance(disk.adata_manager, ModalityRowsManager)
    _assert_backed(disk.adata)
    # Same normalised inputs, anchors, minibatches and rows: the same numbers.
    np.testing.assert_array_equal(disk.initial_mnn_pairs_, memory.initial_mnn_pairs_)
    np.testing.assert_array_equal(disk.mnn_pairs_, memory.mnn_pairs_)
    np.testing.assert_allclose(
        disk.get_latent_representation(), memory.get_latent_representation(), rtol=0, atol=1e-6
    )


def test_getters_read_backed_data(models, path, tmp_path):
    memory, disk = models
    shuffled = np.random.default_rng(1).permutation(disk.adata.n_obs)[:90]
    for modality in ("joint", "rna", "atac"):
        np.testing.assert_allclose(
            disk.get_latent_representation(indices=shuffled, modality=modality),
            memory.get_latent_representation(indices=shuffled, modality=modality),
            rtol=0,
            atol=1e-6,
            err_msg=modality,
        )
    for name, frame in disk.get_feature_embeddings().items():
        np.testing.assert_allclose(frame, memory.get_feature_embeddings()[name], atol=1e-6)
    pd.testing.assert_frame_equal(disk.get_mnn_pairs(), memory.get_mnn_pairs())
    pd.testing.assert_frame_equal(
        disk.transfer_labels("cell_type"), memory.transfer_labels("cell_type")
    )
    # A new backed MuData given to a getter, and a reloaded model, read from their file too.
    other = md.read_h5mu(path, backed=True)
    expected = memory.get_latent_representation()
    np.testing.assert_allclose(disk.get_latent_representation(other), expected, atol=1e-6)
    _assert_backed(other)
    disk.save(tmp_path / "model")
    reloaded = BICLUM.load(tmp_path / "model", adata=md.read_h5mu(path, backed=True))
    np.testing.assert_allclose(reloaded.get_latent_representation(), expected, atol=1e-6)


def test_cells_in_another_order_than_mdata_obs(tmp_path):
    """Partially paired: ATAC's shared cells come first, reversed, in its own rows.

    The joint PCA is fitted on, and the anchors searched among, sketches of 100 cells.
    """
    mdata = _mudata(shared=20)
    atac = mdata.mod["atac"].obs_names
    assert not atac.equals(mdata.obs_names[mdata.obs_names.isin(atac)])
    mdata.write(tmp_path / "partial.h5mu")
    init = INIT | {"sketch_cells": 100}
    memory = _train(md.read_h5mu(tmp_path / "partial.h5mu"), init, partially_paired=True)
    disk = _train(
        md.read_h5mu(tmp_path / "partial.h5mu", backed=True), init, partially_paired=True
    )
    np.testing.assert_array_equal(disk.initial_mnn_pairs_, memory.initial_mnn_pairs_)
    for modality in ("joint", "atac"):
        np.testing.assert_allclose(
            disk.get_latent_representation(modality=modality),
            memory.get_latent_representation(modality=modality),
            rtol=0,
            atol=1e-6,
        )


def test_setup_construction_and_training_read_bounded_rows(path, monkeypatch, row_reads):
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    mdata = md.read_h5mu(path, backed=True)
    before = set(mdata.obsm)
    monkeypatch.setattr(backed, "CHUNK_ROWS", 50)
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 64)
    (cls,) = {type(modality.X) for modality in mdata.mod.values()}
    monkeypatch.setattr(cls, "to_memory", lambda self: pytest.fail("read whole"))
    normalized = []
    read = NormalizedRows.read
    monkeypatch.setattr(
        NormalizedRows,
        "read",
        lambda self, rows: normalized.append(read(self, rows)) or normalized[-1],
    )
    reads = row_reads(cls)
    scvi.settings.seed = 0
    BICLUM.setup_mudata(mdata, batch_key="batch", modalities=MODALITIES)
    model = BICLUM(mdata, **INIT)
    assert reads and max(reads) <= 50
    # The normalised matrices are never whole: chunks of at most 64 cells.
    assert normalized and max(chunk.shape[0] for chunk in normalized) <= 64
    reads.clear()
    monkeypatch.setattr(scvi.settings, "batch_size", 40)  # the getters' and refreshes' default
    model.train(**(TRAIN | {"max_epochs": 2, "mnn_refresh_every": 1}))
    model.get_latent_representation()
    assert reads and max(reads) <= 40  # a minibatch's distinct cells of one modality
    # No aligned copy of the counts in mdata.obsm; the file is read, never written.
    assert set(mdata.obsm) - before == {"_scvi_contrastive_observed"}
    _assert_backed(mdata)
    mdata.file.close()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_what_cannot_be_read_from_disk_is_refused_with_the_fix(path, tmp_path):
    layered = md.read_h5mu(path)
    for modality in layered.mod.values():
        modality.layers["counts"] = modality.X.copy()
    layered.write(tmp_path / "layered.h5mu")
    with pytest.raises(
        ValueError, match=r"layer 'counts'.*only `\.X` stays on disk.*rna_layer=None"
    ):
        BICLUM.setup_mudata(
            md.read_h5mu(tmp_path / "layered.h5mu", backed=True),
            rna_layer="counts",
            atac_layer="counts",
            modalities=MODALITIES,
        )
    csc = md.read_h5mu(path)
    csc.mod["atac"].X = sparse.csc_matrix(csc["atac"].X)
    csc.write(tmp_path / "csc.h5mu")
    with h5py.File(tmp_path / "csc.h5mu") as file:
        assert file["mod/atac/X"].attrs["encoding-type"] == "csc_matrix"
    with pytest.raises(ValueError, match=r"\.X of modality 'atac' is a CSC matrix on disk"):
        BICLUM.setup_mudata(
            md.read_h5mu(tmp_path / "csc.h5mu", backed=True), modalities=MODALITIES
        )
    stacked = ad.concat(
        {name: modality for name, modality in md.read_h5mu(path).mod.items()}, label="modality"
    )
    stacked.write_h5ad(tmp_path / "stacked.h5ad")
    with pytest.raises(ValueError, match=r"`adata` is backed.*MuData form only"):
        BICLUM.setup_anndata(
            ad.read_h5ad(tmp_path / "stacked.h5ad", backed="r"), modality_key="modality"
        )


def test_read_cells_keeps_the_order_asked_repeats_and_missing_cells():
    matrix = sparse.csr_matrix(np.arange(12.0).reshape(4, 3))
    rows = read_cells(matrix, np.array([2, -1, 0, 2]))
    np.testing.assert_array_equal(rows.toarray(), [[6, 7, 8], [0, 0, 0], [0, 1, 2], [6, 7, 8]])
