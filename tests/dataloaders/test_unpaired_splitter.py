"""``UnpairedDataSplitter``: the split is drawn on the cells of ``mdata.obs``, and each set's
loader serves minibatches of that set's cells of both modalities.
"""

import numpy as np
import pytest
import scvi
import torch

from scvi_contrastive._constants import REGISTRY_KEYS
from scvi_contrastive.dataloaders import UnpairedDataSplitter

#: Cells per modality per step: fewer than either modality holds in any set below.
BATCH = 4


def _split(registered, **kwargs) -> UnpairedDataSplitter:
    splitter = UnpairedDataSplitter(
        registered.manager, registered.rows, registered.count_keys, batch_size=BATCH, **kwargs
    )
    splitter.setup()
    return splitter


def test_by_default_every_cell_trains(registered):
    splitter = _split(registered)
    np.testing.assert_array_equal(splitter.train_idx, np.arange(registered.mdata.n_obs))
    assert len(splitter.val_idx) == len(splitter.test_idx) == 0
    assert splitter.val_dataloader() is None and splitter.test_dataloader() is None
    loader = splitter.train_dataloader()
    for name, rows in loader.sampler.rows.items():
        np.testing.assert_array_equal(rows, registered.rows[name])
    minibatch = next(iter(loader))
    for name in registered.rows:
        assert minibatch[name][REGISTRY_KEYS.X_KEY].shape == (BATCH, registered.mdata[name].n_vars)


@pytest.mark.parametrize(
    ("train_size", "validation_size"), [(0.8, None), (0.5, 0.25)], ids=["rest", "test-set"]
)
def test_split_sizes(registered, train_size, validation_size):
    n_cells = registered.mdata.n_obs
    splitter = _split(registered, train_size=train_size, validation_size=validation_size)
    sets = [splitter.train_idx, splitter.val_idx, splitter.test_idx]
    # Every cell in exactly one set.
    np.testing.assert_array_equal(np.sort(np.concatenate(sets)), np.arange(n_cells))
    share_val = 1 - train_size if validation_size is None else validation_size
    for cells, share in zip(sets[:2], [train_size, share_val], strict=True):
        assert abs(len(cells) - share * n_cells) < 1, (len(cells), share)
    assert (splitter.test_dataloader() is None) == (validation_size is None)


def test_each_set_serves_its_own_cells_of_both_modalities(registered):
    splitter = _split(registered, train_size=0.5)
    both = np.intersect1d(registered.rows["rna"], registered.rows["atac"])
    sets = {"train": splitter.train_idx, "validation": splitter.val_idx}
    loaders = {"train": splitter.train_dataloader(), "validation": splitter.val_dataloader()}
    for key, cells in sets.items():
        # Both sets hold cells measured in both modalities, else the check below is empty.
        assert 0 < len(np.intersect1d(cells, both)) < len(both)
        for name, rows in loaders[key].sampler.rows.items():
            np.testing.assert_array_equal(rows, np.intersect1d(registered.rows[name], cells))
            # A cell of both modalities is in the same set for both.
            np.testing.assert_array_equal(np.intersect1d(rows, both), np.intersect1d(cells, both))
        for minibatch in loaders[key]:
            for name in registered.rows:
                drawn = registered.cells(minibatch[name][REGISTRY_KEYS.X_KEY])
                assert set(drawn) <= set(cells), (key, name)


def test_pairs_reach_the_set_holding_both_members(registered):
    rows = registered.rows
    pairs = (rows["rna"][:20], rows["atac"][-20:])
    splitter = _split(registered, train_size=0.5, pair_source=lambda: pairs, pair_fraction=0.5)
    n_pairs = int(0.5 * BATCH)
    for cells, loader in [
        (splitter.train_idx, splitter.train_dataloader()),
        (splitter.val_idx, splitter.val_dataloader()),
    ]:
        usable = {(a, b) for a, b in zip(*pairs, strict=True) if a in cells and b in cells}
        assert usable  # else the set gets no pairs and the check below is empty
        for minibatch in loader:
            rna, atac = (registered.cells(minibatch[n][REGISTRY_KEYS.X_KEY]) for n in rows)
            assert set(zip(rna[:n_pairs], atac[:n_pairs], strict=True)) <= usable


def test_the_split_follows_the_seed(registered):
    first = _split(registered, train_size=0.8).val_idx
    np.testing.assert_array_equal(_split(registered, train_size=0.8).val_idx, first)
    scvi.settings.seed = 1
    assert not np.array_equal(_split(registered, train_size=0.8).val_idx, first)
    # Unshuffled, each set is a run of consecutive rows.
    unshuffled = _split(registered, train_size=0.8, shuffle_set_split=False)
    for cells in (unshuffled.train_idx, unshuffled.val_idx):
        assert (np.diff(cells) == 1).all()


def test_sparse_tensors_are_ignored_with_a_warning(registered):
    with pytest.warns(UserWarning, match="`load_sparse_tensor=True` is not supported"):
        splitter = _split(registered, load_sparse_tensor=True)
    minibatch = next(iter(splitter.train_dataloader()))
    assert all(minibatch[n][REGISTRY_KEYS.X_KEY].layout == torch.strided for n in registered.rows)


def test_distributed_sampler_needs_a_process_group(registered):
    splitter = _split(registered, distributed_sampler=True)
    with pytest.raises(RuntimeError, match="needs an initialised process group"):
        splitter.train_dataloader()
