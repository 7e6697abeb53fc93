"""``UnpairedBatchSampler`` and ``UnpairedDataLoader``: what one minibatch of two modalities holds.

Per step, each modality's half holds ``batch_size`` of its own cells: first the members of
``int(pair_fraction * batch_size)`` positive pairs, the two members of a pair at the same
position in the two halves, then random cells, so that every cell comes up in an epoch.
"""

import math

import numpy as np
import pytest
from torch.utils.data import SequentialSampler

from scvi_contrastive._constants import REGISTRY_KEYS
from scvi_contrastive.dataloaders import UnpairedBatchSampler, UnpairedDataLoader

#: Cells per modality per step: fewer than either modality holds, so that a pass takes steps.
BATCH = 8


def test_minibatches_hold_each_modality_with_its_own_cells_and_features(registered):
    rows = registered.rows
    loader = UnpairedDataLoader(registered.manager, rows, registered.count_keys, batch_size=BATCH)
    minibatches = list(loader)
    # One pass over the larger modality; the smaller one cycles meanwhile.
    assert len(minibatches) == len(loader) == math.ceil(max(map(len, rows.values())) / BATCH)
    codes = registered.mdata.obs["_scvi_batch"].to_numpy()
    keys = {REGISTRY_KEYS.X_KEY, REGISTRY_KEYS.BATCH_KEY, REGISTRY_KEYS.PAIR_KEY}
    for minibatch in minibatches:
        assert set(minibatch) == set(rows)
        for name, tensors in minibatch.items():
            assert set(tensors) == keys
            counts = tensors[REGISTRY_KEYS.X_KEY]
            assert counts.shape == (BATCH, registered.mdata[name].n_vars)
            assert tensors[REGISTRY_KEYS.BATCH_KEY].shape == (BATCH, 1)
            assert tensors[REGISTRY_KEYS.PAIR_KEY].shape == (BATCH, 1)
            cells = registered.cells(counts)
            assert set(cells) <= set(rows[name])  # only cells this modality measured
            np.testing.assert_array_equal(counts.numpy(), registered.counts(name, cells))
            np.testing.assert_array_equal(
                tensors[REGISTRY_KEYS.BATCH_KEY].numpy().ravel(), codes[cells]
            )
            # No pairs given: no cell is flagged as a pair member.
            assert tensors[REGISTRY_KEYS.PAIR_KEY].sum() == 0


def test_pair_members_come_first_at_the_same_position(registered):
    rows = registered.rows
    rna_only = np.setdiff1d(rows["rna"], rows["atac"])
    atac_only = np.setdiff1d(rows["atac"], rows["rna"])
    pairs = (rna_only[: len(atac_only)], atac_only)  # cells of different experiments
    pair_fraction = 0.25
    n_pairs = int(pair_fraction * BATCH)
    loader = UnpairedDataLoader(
        registered.manager,
        rows,
        registered.count_keys,
        batch_size=BATCH,
        pair_source=lambda: pairs,
        pair_fraction=pair_fraction,
    )
    known = set(zip(*pairs, strict=True))
    flags = np.r_[np.ones(n_pairs), np.zeros(BATCH - n_pairs)]
    for minibatch in loader:
        cells = {}
        for name, tensors in minibatch.items():
            np.testing.assert_array_equal(tensors[REGISTRY_KEYS.PAIR_KEY].numpy().ravel(), flags)
            cells[name] = registered.cells(tensors[REGISTRY_KEYS.X_KEY])
        drawn = set(zip(cells["rna"][:n_pairs], cells["atac"][:n_pairs], strict=True))
        assert len(drawn) == n_pairs and drawn <= known


def test_sampler_ignores_pairs_with_a_member_outside_its_rows():
    rows = {"rna": np.arange(0, 100), "atac": np.arange(100, 180)}
    inside = (rows["rna"][:30], rows["atac"][:30])
    beyond = (np.arange(200, 230), rows["atac"][30:60])  # RNA member in no modality's rows
    swapped = (rows["atac"][60:80], rows["rna"][60:80])  # members on the wrong sides
    pairs = tuple(np.concatenate(side) for side in zip(inside, beyond, swapped, strict=True))
    sampler = UnpairedBatchSampler(rows, 16, lambda: pairs, pair_fraction=0.5)
    for step in sampler:
        assert step["n_pairs"] == 8  # enough usable pairs for half of each half
        drawn = set(zip(step["rna"][:8], step["atac"][:8], strict=True))
        assert drawn <= set(zip(*inside, strict=True))


def test_sampler_passes_over_every_row_once_while_the_smaller_modality_cycles():
    rows = {"rna": np.arange(0, 100), "atac": np.arange(100, 140)}
    steps = list(UnpairedBatchSampler(rows, 16))  # no pairs: every cell is a random one
    assert len(steps) == math.ceil(100 / 16)
    for name, own in rows.items():
        drawn = np.concatenate([step[name] for step in steps])
        assert len(drawn) == len(steps) * 16
        # Each complete pass over the modality's rows holds every row once.
        for start in range(0, len(drawn) - len(own) + 1, len(own)):
            np.testing.assert_array_equal(np.sort(drawn[start : start + len(own)]), own)
        assert len(drawn) // len(own) == (1 if name == "rna" else 2)  # atac: cycled


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"rows": {"rna": np.arange(5)}}, "Both modalities need at least one cell"),
        ({"rows": {"rna": np.arange(5), "atac": np.arange(0)}}, "Both modalities need"),
        ({"pair_fraction": 1.5}, r"`pair_fraction` must be in \[0, 1\], got 1.5"),
        ({"num_replicas": 2, "rank": 2}, r"`rank` must be in \[0, 2\), got 2"),
    ],
    ids=["one-modality", "empty-modality", "pair-fraction", "rank"],
)
def test_sampler_checks_its_arguments(arguments, message):
    rows = {"rna": np.arange(5), "atac": np.arange(5, 9)}
    with pytest.raises(ValueError, match=message):
        UnpairedBatchSampler(**{"rows": rows, "batch_size": 2, **arguments})


def test_loader_keeps_its_own_sampler_when_given_another(registered):
    # Lightning rebuilds the loader of a distributed run with a `sampler=` of its own.
    loader = UnpairedDataLoader(
        registered.manager,
        registered.rows,
        registered.count_keys,
        batch_size=BATCH,
        sampler=SequentialSampler(range(registered.mdata.n_obs)),
        shuffle=True,
        drop_last=True,
    )
    assert isinstance(loader.sampler, UnpairedBatchSampler)
    assert loader.sampler.batch_size == BATCH
    minibatch = next(iter(loader))
    assert all(len(minibatch[name][REGISTRY_KEYS.X_KEY]) == BATCH for name in registered.rows)


# ---------------------------------------------------------------------------- distributed runs


def _rank_samplers(rows, pairs, pair_fraction):
    return [
        UnpairedBatchSampler(
            rows, 16, lambda: pairs, pair_fraction, seed=3, num_replicas=2, rank=rank
        )
        for rank in range(2)
    ]


def test_sampler_gives_each_rank_a_distinct_equal_shard():
    rng = np.random.default_rng(0)
    rows = {"rna": np.arange(0, 300), "atac": np.arange(300, 500)}
    flat = rng.choice(300 * 200, 400, replace=False)  # 400 distinct pairs
    pairs = (rows["rna"][flat // 200], rows["atac"][flat % 200])
    epochs = [list(sampler) for sampler in _rank_samplers(rows, pairs, 0.5)]
    # Same number of steps on both ranks (else DDP waits forever), half of one process's.
    assert len(epochs[0]) == len(epochs[1]) == int(np.ceil(300 / (2 * 16)))
    index = {pair: i for i, pair in enumerate(zip(*pairs, strict=True))}
    for step0, step1 in zip(*epochs, strict=True):
        chosen = []
        for step in (step0, step1):
            assert step["n_pairs"] == 8 and all(len(step[name]) == 16 for name in rows)
            chosen.append({index[p] for p in zip(step["rna"][:8], step["atac"][:8], strict=True)})
        # Within a step the ranks take different pairs and different random cells.
        assert not chosen[0] & chosen[1]
        for name in rows:
            assert not set(step0[name][8:]) & set(step1[name][8:])


def test_sampler_ranks_together_cover_every_cell():
    rows = {"rna": np.arange(0, 300), "atac": np.arange(300, 500)}
    epochs = [list(sampler) for sampler in _rank_samplers(rows, None, 0.0)]
    visited = {int(cell) for epoch in epochs for step in epoch for cell in step["rna"]}
    assert visited == set(rows["rna"])


def test_sampler_draws_follow_the_epoch_set():
    rows = {"rna": np.arange(0, 100), "atac": np.arange(100, 180)}
    sampler = UnpairedBatchSampler(rows, 16, seed=3)
    epochs = [[step["rna"].tolist() for step in sampler] for _ in range(3)]
    assert epochs[0] != epochs[1] != epochs[2]
    # What Lightning does when training resumes at epoch 2: the draws of epoch 2 again.
    resumed = UnpairedBatchSampler(rows, 16, seed=3)
    resumed.set_epoch(2)
    assert [step["rna"].tolist() for step in resumed] == epochs[2]


def test_neighbor_space_rows_follow_their_cells(registered):
    # Row r of the space holds r: each minibatch row must carry its own cell's row.
    space = np.repeat(np.arange(registered.mdata.n_obs, dtype=np.float32)[:, None], 3, axis=1)
    loader = UnpairedDataLoader(
        registered.manager,
        registered.rows,
        registered.count_keys,
        batch_size=BATCH,
        neighbor_spaces={"atac": space},
    )
    for minibatch in loader:
        assert REGISTRY_KEYS.NEIGHBOR_SPACE_KEY not in minibatch["rna"]
        atac = minibatch["atac"]
        cells = registered.cells(atac[REGISTRY_KEYS.X_KEY])
        np.testing.assert_array_equal(atac[REGISTRY_KEYS.NEIGHBOR_SPACE_KEY].numpy(), space[cells])
