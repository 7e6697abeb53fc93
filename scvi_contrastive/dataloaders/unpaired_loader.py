"""Minibatches that hold cells of two modalities side by side, positive pairs first.

Like contrastiveVI's ``ContrastiveDataLoader`` (one batch from each of two index sets per step),
with one addition the bilateral cell-level loss needs: each step starts with a random draw of
the current cross-modal positive pairs (mutual nearest neighbours), whose two members sit at the
same position in the two halves, then fills both halves with random cells of their modality so
that every cell is reconstructed, paired or not. The pairs are read when an epoch starts, so a
refresh during training takes effect at the next epoch.

In distributed training every rank draws the same global minibatches (same seed, same pairs)
for all ranks and keeps its own slice of each, so the ranks see disjoint cells, as with
:class:`~torch.utils.data.DistributedSampler`, and take the same number of steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
from scvi import settings
from scvi.data import AnnDataManager
from torch.utils.data import DataLoader, Dataset, Sampler

from scvi_contrastive._constants import REGISTRY_KEYS

#: Returns the current positive pairs as two arrays of ``mdata.obs`` rows, or ``None``.
PairSource = Callable[[], tuple[np.ndarray, np.ndarray] | None]

_N_PAIRS = "n_pairs"


class UnpairedBatchSampler(Sampler):
    """Per step, the rows of both modalities: ``n_pairs`` positive pairs, then random cells.

    Parameters
    ----------
    rows
        Per modality (two), the ``mdata.obs`` rows this sampler draws from.
    batch_size
        Cells per modality per step.
    pair_source
        Callable giving the current positive pairs; pairs with a member outside ``rows`` are
        ignored.
    pair_fraction
        Share of each modality's half of the minibatch taken by pair members.
    seed
        Seed; the epoch number is added so epochs differ. Must be the same on every rank.
        The epoch is the one :meth:`set_epoch` set (Lightning calls it when each epoch
        starts, also when training resumes from a checkpoint), else the number of passes
        made so far.
    num_replicas
        Number of processes of a distributed run; each step's draw is made for all of them.
    rank
        This process's rank: which slice of each draw it yields.
    """

    def __init__(
        self,
        rows: dict[str, np.ndarray],
        batch_size: int,
        pair_source: PairSource | None = None,
        pair_fraction: float = 0.5,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ):
        if len(rows) != 2 or any(len(r) == 0 for r in rows.values()):
            raise ValueError("Both modalities need at least one cell in every minibatch set.")
        if not 0.0 <= pair_fraction <= 1.0:
            raise ValueError(f"`pair_fraction` must be in [0, 1], got {pair_fraction}.")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"`rank` must be in [0, {num_replicas}), got {rank}.")
        self.rows = {name: np.asarray(r, dtype=np.int64) for name, r in rows.items()}
        self.batch_size = batch_size
        self.pair_source = pair_source
        self.pair_fraction = pair_fraction
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self._epoch = 0

    def __len__(self) -> int:
        cells_per_step = self.batch_size * self.num_replicas
        return math.ceil(max(len(r) for r in self.rows.values()) / cells_per_step)

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass draw the minibatches of ``epoch``.

        Parameters
        ----------
        epoch
            Epoch number (from 0), added to the seed of the draws.
        """
        self._epoch = epoch

    def _usable_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        pairs = self.pair_source() if self.pair_source is not None else None
        if pairs is None:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        first, second = (np.asarray(p, dtype=np.int64) for p in pairs)
        rows_a, rows_b = self.rows.values()
        keep = np.isin(first, rows_a) & np.isin(second, rows_b)
        return first[keep], second[keep]

    def __iter__(self) -> Iterator[dict]:
        rng = np.random.default_rng(self.seed + self._epoch)
        self._epoch += 1
        pairs = self._usable_pairs()
        n_pairs = min(
            int(self.pair_fraction * self.batch_size), len(pairs[0]) // self.num_replicas
        )
        n_fill = self.batch_size - n_pairs
        streams = {name: _PermutationStream(r, rng) for name, r in self.rows.items()}
        for _ in range(len(self)):
            # Draw for all ranks (one rank: the single-process draw); keep this rank's part.
            chosen = rng.choice(len(pairs[0]), n_pairs * self.num_replicas, replace=False)
            chosen = chosen[self.rank * n_pairs : (self.rank + 1) * n_pairs]
            step = {_N_PAIRS: n_pairs}
            for side, (name, stream) in enumerate(streams.items()):
                fill = stream.take(n_fill * self.num_replicas)
                fill = fill[self.rank * n_fill : (self.rank + 1) * n_fill]
                step[name] = np.concatenate([pairs[side][chosen], fill])
            yield step


class _PermutationStream:
    """Endless stream of rows made of successive random permutations.

    Every row comes up once per pass; the smaller modality cycles while the larger one is
    traversed.
    """

    def __init__(self, rows: np.ndarray, rng: np.random.Generator):
        self.rows = rows
        self.rng = rng
        self.buffer = rng.permutation(rows)

    def take(self, n: int) -> np.ndarray:
        while len(self.buffer) < n:
            self.buffer = np.concatenate([self.buffer, self.rng.permutation(self.rows)])
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out


class UnpairedDataset(Dataset):
    """Fetch one minibatch of both modalities from the registered data.

    Parameters
    ----------
    adata_manager
        Manager of the registered (Mu)Data.
    count_keys
        Per modality, the registry key of its counts; returned under ``REGISTRY_KEYS.X_KEY``.
    load_sparse_tensor
        Passed to :meth:`~scvi.data.AnnDataManager.create_torch_dataset`.
    neighbor_spaces
        Per modality (any), a ``(mdata.n_obs, k)`` float array: the cells' own representation,
        returned under ``REGISTRY_KEYS.NEIGHBOR_SPACE_KEY`` (rows of cells the modality lacks
        are never read).
    """

    def __init__(
        self,
        adata_manager: AnnDataManager,
        count_keys: dict[str, str],
        load_sparse_tensor: bool = False,
        neighbor_spaces: dict[str, np.ndarray] | None = None,
    ):
        self.count_keys = count_keys
        self.neighbor_spaces = neighbor_spaces or {}
        self.datasets = {
            name: adata_manager.create_torch_dataset(
                data_and_attributes={key: np.float32, REGISTRY_KEYS.BATCH_KEY: np.int64},
                load_sparse_tensor=load_sparse_tensor,
            )
            for name, key in count_keys.items()
        }
        self.n_obs = adata_manager.adata.n_obs

    def __len__(self) -> int:
        return self.n_obs

    def __getitem__(self, step: dict) -> dict[str, dict[str, np.ndarray]]:
        minibatch = {}
        for name, dataset in self.datasets.items():
            tensors = dataset[step[name]]
            tensors[REGISTRY_KEYS.X_KEY] = tensors.pop(self.count_keys[name])
            flag = np.zeros((len(step[name]), 1), dtype=np.float32)
            flag[: step[_N_PAIRS]] = 1.0
            tensors[REGISTRY_KEYS.PAIR_KEY] = flag
            if name in self.neighbor_spaces:
                tensors[REGISTRY_KEYS.NEIGHBOR_SPACE_KEY] = self.neighbor_spaces[name][step[name]]
            minibatch[name] = tensors
        return minibatch


class UnpairedDataLoader(DataLoader):
    """DataLoader yielding ``{modality: {"X", "batch", "mnn_pair"}}`` for both modalities.

    A modality given in ``neighbor_spaces`` also gets ``"neighbor_space"``.

    Parameters
    ----------
    adata_manager
        Manager of the registered (Mu)Data.
    rows
        Per modality, the ``mdata.obs`` rows to draw from.
    count_keys
        Per modality, the registry key of its counts.
    batch_size
        Cells per modality per step.
    pair_source
        Callable giving the current positive pairs (rows of ``mdata.obs``).
    pair_fraction
        Share of each modality's half of the minibatch taken by pair members.
    load_sparse_tensor
        Passed to :meth:`~scvi.data.AnnDataManager.create_torch_dataset`.
    neighbor_spaces
        Per modality, its cells' own representation aligned to ``mdata.obs`` (see
        :class:`UnpairedDataset`).
    num_replicas, rank
        Distributed training: number of processes and this one's rank (see
        :class:`UnpairedBatchSampler`).
    **kwargs
        Keyword arguments of :class:`~torch.utils.data.DataLoader` (``num_workers``, ...).
    """

    def __init__(
        self,
        adata_manager: AnnDataManager,
        rows: dict[str, np.ndarray],
        count_keys: dict[str, str],
        batch_size: int = 128,
        pair_source: PairSource | None = None,
        pair_fraction: float = 0.5,
        load_sparse_tensor: bool = False,
        neighbor_spaces: dict[str, np.ndarray] | None = None,
        num_replicas: int = 1,
        rank: int = 0,
        **kwargs,
    ):
        kwargs.setdefault("num_workers", settings.dl_num_workers)
        kwargs.setdefault("persistent_workers", settings.dl_persistent_workers)
        # The sampler below decides all of these. In a distributed run Lightning rebuilds the
        # loader with its own ``sampler=`` (a wrapper that would shard the steps a second
        # time); dropping it keeps the rank-aware sampler, which already shards every step.
        for ignored in ("shuffle", "drop_last", "sampler", "batch_size"):
            kwargs.pop(ignored, None)
        sampler = UnpairedBatchSampler(
            rows,
            batch_size,
            pair_source,
            pair_fraction,
            seed=settings.seed or 0,
            num_replicas=num_replicas,
            rank=rank,
        )
        dataset = UnpairedDataset(adata_manager, count_keys, load_sparse_tensor, neighbor_spaces)
        # ``batch_size=None``: the sampler already yields whole minibatches, fetched in one call.
        super().__init__(dataset, sampler=sampler, batch_size=None, **kwargs)
