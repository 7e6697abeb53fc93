"""Rows of docs/reliability.md on saved models (both models): save → load, folders and files
that cannot be loaded, and loading that never runs code from a file.

A crafted ``model.pt`` (an intact save with a pickled call added) goes through every way a
model file is read: ``Model.load``, ``Model.load_query_data(query, folder)`` and scvi-hub's
``HubModel(folder).model``. The payload would create a folder; it must never appear.
"""

import os

import numpy as np
import pandas as pd
import pytest
import scvi
import torch
from reliability_cases import CASES, GENES
from scvi.hub import HubModel
from scvi.model.base import BaseModelClass

from scvi_contrastive.data.safe_loading import UnsafeModelFileError, read_model_file
from scvi_contrastive.hub import make_hub_model
from scvi_contrastive.model import BICLUM, SCMDCF
from scvi_contrastive.model.saving import SafeSaveLoadMixin

REFUSED = r"was not loaded: .*GLOBAL posix.mkdir.*Nothing from the file was executed"


# ---------------------------------------------------------------------------- save and load


@pytest.fixture
def saved(case, trained, tmp_path):
    folder = tmp_path / case.cls.__name__
    trained.save(folder, save_anndata=True)
    return folder


def test_save_load_reproduces_the_latent_bit_for_bit(case, trained, saved):
    latent = trained.get_latent_representation()
    np.testing.assert_array_equal(case.cls.load(saved).get_latent_representation(), latent)
    with_data = case.cls.load(saved, adata=trained.adata.copy())
    np.testing.assert_array_equal(with_data.get_latent_representation(), latent)


def test_load_from_missing_or_incomplete_folders(case, saved, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        case.cls.load(tmp_path / "nowhere")
    (saved / "model.pt").rename(saved / "moved.pt")
    with pytest.raises(FileNotFoundError, match=r"holds no 'model.pt'.*moved.pt"):
        case.cls.load(saved)


def test_load_truncated_model_file(case, saved):
    content = (saved / "model.pt").read_bytes()
    (saved / "model.pt").write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        case.cls.load(saved)


def test_load_with_the_wrong_class(case, saved, tmp_path):
    other = BICLUM if case.cls is SCMDCF else SCMDCF
    name = case.cls.__name__
    with pytest.raises(ValueError, match=rf"holds a {name} model, not a {other.__name__} one"):
        other.load(saved)
    adata = scvi.data.synthetic_iid(batch_size=10, n_genes=10, n_proteins=0, n_regions=0)
    scvi.model.SCVI.setup_anndata(adata)
    scvi.model.SCVI(adata, n_hidden=8, n_latent=2).save(tmp_path / "scvi")
    with pytest.raises(ValueError, match=r"holds a SCVI model.*`SCVI.load\(...\)`"):
        case.cls.load(tmp_path / "scvi")


def test_load_lists_genes_that_differ(case, saved):
    renamed = case.make()
    renamed["rna"].var_names = [f"x{i}" for i in range(len(GENES))]
    renamed.update()
    with pytest.raises(ValueError, match=r"missing: \['g0', 'g1'.*not registered: \['x0', 'x1'"):
        case.cls.load(saved, adata=renamed)
    reordered = case.make()
    reordered.mod["rna"] = reordered["rna"][:, GENES[::-1]].copy()
    reordered.update()
    with pytest.raises(ValueError, match=r"modality 'rna' are the registered ones in a different"):
        case.cls.load(saved, adata=reordered)


# ---------------------------------------------------------------------------- files that run code


class _Payload:
    """Unpickling this calls ``os.mkdir(marker)``: code run by merely reading the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def _poison(folder, marker):
    """Add the payload to the saved attributes of an otherwise intact ``model.pt``."""
    path = folder / "model.pt"
    content = torch.load(path, weights_only=False)  # our own file, written by the test
    content["attr_dict"]["note_"] = _Payload(marker)
    torch.save(content, path)


@pytest.fixture
def poisoned(case, trained, tmp_path):
    """A hub folder (model, data, metadata, card) whose model file carries the payload."""
    folder = tmp_path / "hub"
    make_hub_model(trained, folder)
    marker = tmp_path / "payload_ran"
    _poison(folder, marker)
    return folder, marker


def test_the_payload_is_live(poisoned):
    folder, marker = poisoned
    torch.load(folder / "model.pt", weights_only=False)  # what scvi-tools alone would do
    assert marker.is_dir()


def test_load_refuses_a_file_that_would_run_code(case, poisoned):
    folder, marker = poisoned
    with pytest.raises(UnsafeModelFileError, match=REFUSED):
        case.cls.load(folder)
    with pytest.raises(UnsafeModelFileError, match=REFUSED):
        read_model_file(folder / "model.pt")
    assert not marker.exists()


def test_query_mapping_refuses_a_file_that_would_run_code(case, poisoned):
    folder, marker = poisoned
    query = case.make()
    with pytest.raises(UnsafeModelFileError, match=REFUSED):
        case.cls.load_query_data(query, folder)
    with pytest.raises(UnsafeModelFileError, match=REFUSED):
        case.cls.load_query_data(query, str(folder))
    assert not marker.exists()


def test_hub_model_refuses_a_file_that_would_run_code(poisoned):
    folder, marker = poisoned
    hub_model = HubModel(str(folder))  # metadata and card only: model.pt is not read yet
    with pytest.raises(UnsafeModelFileError, match=REFUSED):
        _ = hub_model.model
    assert not marker.exists()


# ---------------------------------------------------------------------------- what saves hold


def test_saves_need_no_pandas_to_load(case, trained, tmp_path):
    trained.save(tmp_path / "model", save_anndata=True)
    needed = torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "model" / "model.pt")
    assert not [name for name in needed if name.startswith("pandas")], needed
    loaded = case.cls.load(tmp_path / "model")
    for name, frame in trained.history.items():
        pd.testing.assert_frame_equal(loaded.history[name], frame, check_dtype=False)


def test_saves_in_scvi_tools_own_format_still_load(case, trained, tmp_path, monkeypatch):
    # Saves made before this package read files safely: scvi-tools' attributes as they are
    # (history as DataFrames, the registry's field table a defaultdict).
    monkeypatch.setattr(
        SafeSaveLoadMixin, "_get_user_attributes", BaseModelClass._get_user_attributes
    )
    trained.save(tmp_path / "old", save_anndata=True)
    monkeypatch.undo()
    needed = torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "old" / "model.pt")
    assert {"pandas.core.frame.DataFrame", "pandas.DataFrame"} & set(needed)  # pandas 2 / 3
    loaded = case.cls.load(tmp_path / "old")
    np.testing.assert_array_equal(
        loaded.get_latent_representation(), trained.get_latent_representation()
    )
    pd.testing.assert_frame_equal(loaded.history["train_loss"], trained.history["train_loss"])


def test_overwriting_a_save_without_data_removes_the_old_data(case, trained, tmp_path):
    folder = tmp_path / "model"
    trained.save(folder, save_anndata=True)
    other = case.fit(case.model(batch_key="batch"), max_epochs=1)
    with pytest.warns(UserWarning, match=r"Removed .*mdata.h5mu.*held the data of the model"):
        other.save(folder, overwrite=True, save_anndata=False)
    assert not (folder / "mdata.h5mu").exists()
    with pytest.raises(FileNotFoundError, match=r"holds no saved data .*adata=mdata"):
        case.cls.load(folder)
    reloaded = case.cls.load(folder, adata=other.adata.copy())
    np.testing.assert_array_equal(
        reloaded.get_latent_representation(), other.get_latent_representation()
    )


def test_query_mapping_from_a_model_of_another_class_names_it(case, trained, tmp_path):
    trained.save(tmp_path / "model", save_anndata=True)
    other = next(c for c in CASES.values() if c.cls is not case.cls)
    name, other_name = case.cls.__name__, other.cls.__name__
    with pytest.raises(ValueError, match=rf"holds a {name} model, not a {other_name} one"):
        other.cls.load_query_data(other.make(), tmp_path / "model")
    with pytest.raises(TypeError, match=rf"is a {name}, not a {other_name}: .*{name}\.load_q"):
        other.cls.load_query_data(other.make(), trained)
