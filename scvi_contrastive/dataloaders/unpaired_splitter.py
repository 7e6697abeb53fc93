"""Train/validation/test split of two modalities of different cells."""

from __future__ import annotations

import warnings
from functools import partial

import lightning.pytorch as pl
import numpy as np
import torch.distributed as dist
from scvi import settings
from scvi.data import AnnDataManager

from .unpaired_loader import PairSource, UnpairedDataLoader


class UnpairedDataSplitter(pl.LightningDataModule):
    """Split the cells of ``mdata.obs`` and serve :class:`UnpairedDataLoader` minibatches.

    The split is drawn on the rows of ``mdata.obs``, so a cell that both modalities hold (paired
    data) falls in the same set for both. Mirrors contrastiveVI's ``ContrastiveDataSplitter``.

    Parameters
    ----------
    adata_manager
        Manager of the registered (Mu)Data.
    modality_rows
        Per modality (two), the ``mdata.obs`` rows it holds.
    count_keys
        Per modality, the registry key of its counts.
    pair_source
        Callable giving the current positive pairs (rows of ``mdata.obs``).
    train_size
        Share of cells used for training. ``None`` means 1.0: alignment is transductive, every
        cell should take part in the pairs.
    validation_size
        Share of cells in the validation set (default: the rest).
    shuffle_set_split
        Shuffle cells before splitting (seeded by ``scvi.settings.seed``).
    batch_size
        Cells per modality per step.
    pair_fraction
        Share of each modality's half of a minibatch taken by positive-pair members.
    distributed_sampler
        Give each process of a distributed run its own shard of every minibatch draw, with rank
        0's positive pairs (set by scvi's ``train()`` for any ``"ddp..."`` strategy).
    load_sparse_tensor
        Not supported (ignored with a warning when set).
    **kwargs
        Keyword arguments of :class:`UnpairedDataLoader` (e.g. ``neighbor_spaces``) and of
        :class:`~torch.utils.data.DataLoader`.
    """

    def __init__(
        self,
        adata_manager: AnnDataManager,
        modality_rows: dict[str, np.ndarray],
        count_keys: dict[str, str],
        pair_source: PairSource | None = None,
        train_size: float | None = None,
        validation_size: float | None = None,
        shuffle_set_split: bool = True,
        batch_size: int = 128,
        pair_fraction: float = 0.5,
        distributed_sampler: bool = False,
        load_sparse_tensor: bool = False,
        **kwargs,
    ):
        super().__init__()
        if load_sparse_tensor:
            warnings.warn(
                "`load_sparse_tensor=True` is not supported by UnpairedDataSplitter; ignoring it.",
                UserWarning,
                stacklevel=settings.warnings_stacklevel,
            )
        self.distributed_sampler = distributed_sampler
        self.adata_manager = adata_manager
        self.modality_rows = modality_rows
        self.count_keys = count_keys
        self.pair_source = pair_source
        self.train_size = 1.0 if train_size is None else float(train_size)
        self.validation_size = validation_size
        self.shuffle_set_split = shuffle_set_split
        self.batch_size = batch_size
        self.pair_fraction = pair_fraction
        self.data_loader_kwargs = kwargs
        cells = np.unique(np.concatenate(list(modality_rows.values())))
        self.n_train, self.n_val = _split_sizes(len(cells), self.train_size, validation_size)
        self._cells = cells

    def setup(self, stage: str | None = None) -> None:
        """Assign the cells to the training, validation and test sets."""
        cells = self._cells
        if self.shuffle_set_split:
            cells = np.random.RandomState(seed=settings.seed).permutation(cells)
        self.val_idx = np.sort(cells[: self.n_val])
        self.train_idx = np.sort(cells[self.n_val : self.n_val + self.n_train])
        self.test_idx = np.sort(cells[self.n_val + self.n_train :])

    def _loader(self, cells: np.ndarray) -> UnpairedDataLoader | None:
        rows = {name: np.intersect1d(r, cells) for name, r in self.modality_rows.items()}
        if any(len(r) == 0 for r in rows.values()):
            return None
        loader_kwargs = {
            "batch_size": self.batch_size,
            "pair_source": self.pair_source,
            "pair_fraction": self.pair_fraction,
            **self.data_loader_kwargs,
            **self._replica_kwargs(),
        }
        return UnpairedDataLoader(self.adata_manager, rows, self.count_keys, **loader_kwargs)

    def _replica_kwargs(self) -> dict:
        """Distributed runs: this process's rank, and rank 0's pairs on every rank."""
        if not self.distributed_sampler:
            return {}
        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError(
                "`distributed_sampler=True` needs an initialised process group; train with a "
                "DDP strategy, e.g. `model.train(strategy='ddp', devices=2)`."
            )
        return {
            "num_replicas": dist.get_world_size(),
            "rank": dist.get_rank(),
            "pair_source": partial(_rank_zero_pairs, self.pair_source),
        }

    def train_dataloader(self) -> UnpairedDataLoader:
        """Minibatches of the training cells of both modalities."""
        loader = self._loader(self.train_idx)
        if loader is None:
            raise ValueError("Each modality needs at least one training cell.")
        return loader

    def val_dataloader(self) -> UnpairedDataLoader | None:
        """Minibatches of the validation cells, if both modalities have some."""
        return self._loader(self.val_idx)

    def test_dataloader(self) -> UnpairedDataLoader | None:
        """Minibatches of the test cells, if both modalities have some."""
        return self._loader(self.test_idx)


def _rank_zero_pairs(pair_source: PairSource | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Rank 0's current pairs, on every rank.

    Every rank refreshes the pairs from the same model, but nearest-neighbour searches need not
    agree bit for bit across devices, and the samplers' shards are disjoint only if all ranks
    draw from the same pairs. A collective: the loaders of all ranks read their pairs in step,
    when each epoch's iteration starts.
    """
    payload = [pair_source() if pair_source is not None and dist.get_rank() == 0 else None]
    dist.broadcast_object_list(payload, src=0)
    return payload[0]


def _split_sizes(n_cells: int, train_size: float, validation_size: float | None) -> tuple:
    if not 0.0 < train_size <= 1.0:
        raise ValueError(f"`train_size` must be in (0, 1], got {train_size}.")
    n_train = int(np.ceil(train_size * n_cells))
    if validation_size is None:
        return n_train, n_cells - n_train
    if not 0.0 <= validation_size <= 1.0 - train_size + 1e-9:
        raise ValueError("`train_size + validation_size` must not exceed 1.")
    return n_train, int(np.floor(validation_size * n_cells))
