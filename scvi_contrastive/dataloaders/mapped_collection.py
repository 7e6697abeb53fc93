"""Paired modalities of on-disk AnnData stores, served by lamindb's ``MappedCollection``.

scvi-tools' custom-datamodule path (``SCVI(registry=dm.registry)``, ``train(datamodule=dm)``,
``get_latent_representation(dataloader=...)``) with one loader from the registries that can
hand over two modalities of the same cells: :class:`lamindb.core.MappedCollection` reads, for
each cell, ``.X`` (or a layer) and any ``.obsm`` arrays of the same row of an ``.h5ad`` or
``.zarr`` store, so a modality kept in ``.obsm`` (e.g. protein counts beside the RNA counts
in ``.X``) is aligned with the other by construction, across several stores too.
:class:`PairedMappedDataModule` wraps it in the minibatch dictionaries of
:class:`~scvi_contrastive.model.SCMDCF` and the registry that scvi-tools' models are built
from without an AnnData.

Needs ``lamindb`` (``pip install "scvi-contrastive[atlas]"``); no lamindb instance is used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import scvi
import torch
from lightning.pytorch import LightningDataModule
from scipy import sparse
from torch.utils.data import DataLoader, Dataset, Subset, get_worker_info

from .._constants import COUNT_KEYS, REGISTRY_KEYS

#: Minibatch size of :meth:`PairedMappedDataModule.inference_dataloader` by default.
INFERENCE_BATCH_SIZE = 1024


class _PairedCells(Dataset):
    """One cell's counts of every modality, its batch code and which modalities measured it."""

    def __init__(self, mapped, sources: dict[str, str], batch_key: str | None):
        self.mapped = mapped
        self.sources = sources
        self.batch_key = batch_key
        self.observed = np.ones(len(sources), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.mapped)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        item = self.mapped[int(index)]
        cell = {
            COUNT_KEYS[m]: np.asarray(item[source], dtype=np.float32)
            for m, source in self.sources.items()
        }
        code = item[self.batch_key] if self.batch_key is not None else 0
        cell[REGISTRY_KEYS.BATCH_KEY] = np.array([code], dtype=np.int64)
        cell[REGISTRY_KEYS.OBSERVED_KEY] = self.observed
        return cell


def _reconnect_in_worker(worker_id: int) -> None:
    """Open the stores in each loader worker (h5py handles cannot cross processes)."""
    dataset = get_worker_info().dataset
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    mapped = dataset.mapped  # as MappedCollection.torch_worker_init_fn, through the wrappers
    mapped.parallel, mapped.storages, mapped.conns = False, [], []
    mapped._make_connections(mapped.path_list, parallel=False)


def _split(locations: dict[str, str]) -> tuple[dict[str, str], list[str], list[str]]:
    """MappedCollection's item key of each modality, and its ``layers_keys`` and ``obsm_keys``."""
    sources, layers, obsm = {}, [], []
    for modality, location in locations.items():
        if modality not in COUNT_KEYS:
            raise ValueError(f"Modalities must be among {list(COUNT_KEYS)}, got {modality!r}.")
        if location == "X" or location.startswith("layers/"):
            key = location.removeprefix("layers/")
            layers.append(key)
            sources[modality] = key
        elif location.startswith("obsm/"):
            key = location.removeprefix("obsm/")
            obsm.append(key)
            sources[modality] = f"obsm_{key}"
        else:
            raise ValueError(
                f"The location of modality {modality!r} must be 'X', 'layers/<key>' or "
                f"'obsm/<key>', got {location!r}."
            )
    if len(sources) < 2:
        raise ValueError("Name at least two modalities, e.g. {'rna': 'X', 'protein': 'obsm/adt'}.")
    if len(layers) > 1:
        raise ValueError(
            "At most one modality can be read from `.X` or a layer (they share `.var`); keep "
            "the others in `.obsm`."
        )
    return sources, layers, obsm


class PairedMappedDataModule(LightningDataModule):
    """Paired counts of the same cells from ``.h5ad`` / ``.zarr`` stores, for SCMDCF.

    Each store holds one modality in ``.X`` (or a layer) and the others in ``.obsm`` (dense
    or CSR, the same columns in every store), e.g. RNA counts in ``.X`` and protein counts in
    ``obsm["protein_counts"]``. The stores are concatenated virtually
    (:class:`lamindb.core.MappedCollection`; genes of ``.X`` joined by their intersection) and
    read one cell at a time, so memory holds a minibatch and not the data set. Every cell must
    be measured in every modality.

    Parameters
    ----------
    path_list
        Paths of the AnnData stores (``.h5ad`` files or ``.zarr`` folders).
    modalities
        Where each modality is: ``"X"``, ``"layers/<key>"`` or ``"obsm/<key>"``, by modality
        (``"rna"``, ``"protein"``, ``"atac"``), e.g. ``{"rna": "X", "protein": "obsm/adt"}``.
    batch_key
        Categorical column of ``.obs`` with each cell's batch (``None``: one batch).
    batch_size
        Cells per training minibatch.
    train_size
        Fraction of cells trained on; the others form the validation set.
    seed
        Seed of the train / validation split and of the training order (``None``:
        ``scvi.settings.seed``).
    num_workers
        Loader processes per loader (0: read in the training process).
    """

    def __init__(
        self,
        path_list: Sequence[str | os.PathLike],
        modalities: dict[str, str],
        batch_key: str | None = None,
        batch_size: int = 256,
        train_size: float = 0.9,
        seed: int | None = None,
        num_workers: int = 0,
    ):
        from lamindb.core import MappedCollection

        super().__init__()
        if not 0.0 < train_size <= 1.0:
            raise ValueError(f"`train_size` must be in (0, 1], got {train_size}.")
        self.modalities = dict(modalities)
        self.batch_key = batch_key
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = (scvi.settings.seed or 0) if seed is None else seed
        sources, layers, obsm = _split(self.modalities)
        self.mapped = MappedCollection(
            [str(path) for path in path_list],
            layers_keys=layers,
            obs_keys=[batch_key] if batch_key is not None else None,
            obsm_keys=obsm or None,
            join="inner" if layers else None,
            parallel=num_workers > 0,
        )
        for key in obsm:
            missing = [
                str(path)
                for path, keys in zip(path_list, self.mapped._cache_obsm_keys, strict=True)
                if key not in keys
            ]
            if missing:
                raise ValueError(f"`obsm[{key!r}]` is missing from {missing}.")
        self.cells = _PairedCells(self.mapped, sources, batch_key)
        first = self.cells[0]
        self.n_features = {m: first[COUNT_KEYS[m]].shape[0] for m in sources}
        self.layer_var_names = self.mapped.var_joint
        order = np.random.default_rng(self.seed).permutation(self.n_obs)
        n_train = int(np.ceil(train_size * self.n_obs))
        self.train_idx = np.sort(order[:n_train])
        self.val_idx = np.sort(order[n_train:])
        self.test_idx = np.array([], dtype=int)
        self.n_train, self.n_val = len(self.train_idx), len(self.val_idx)

    @property
    def n_obs(self) -> int:
        """Number of cells of all stores."""
        return int(self.mapped.n_obs)

    @property
    def batch_categories(self) -> np.ndarray:
        """Batch names, in the order of their codes."""
        if self.batch_key is None:
            return np.array(["0"], dtype=object)
        encoder = self.mapped.encoders[self.batch_key]
        return np.array(sorted(encoder, key=encoder.get), dtype=object)

    def _loader(self, indices, batch_size: int, shuffle: bool) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed) if shuffle else None
        return DataLoader(
            Subset(self.cells, np.asarray(indices)),
            batch_size=batch_size,
            shuffle=shuffle,
            generator=generator,
            num_workers=self.num_workers,
            worker_init_fn=_reconnect_in_worker if self.num_workers > 0 else None,
        )

    def train_dataloader(self) -> DataLoader:
        """Training cells in a random order, drawn anew each epoch."""
        return self._loader(self.train_idx, self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        """Validation cells in their order (none when ``train_size`` is 1)."""
        if self.n_val == 0:
            return []
        return self._loader(self.val_idx, self.batch_size, shuffle=False)

    def inference_dataloader(
        self, indices: Sequence[int] | None = None, batch_size: int = INFERENCE_BATCH_SIZE
    ) -> DataLoader:
        """Cells ``indices`` (all when ``None``) in their order, for the model's getters."""
        indices = np.arange(self.n_obs) if indices is None else indices
        return self._loader(indices, batch_size, shuffle=False)

    def read_cells(self, indices: Sequence[int]) -> dict[str, sparse.csr_matrix | np.ndarray]:
        """Counts (CSR) and batch codes of the cells ``indices``, in order, by registry key."""
        blocks: dict[str, list] = {m: [] for m in self.n_features}
        batches = []
        for minibatch in self.inference_dataloader(indices):
            for m, rows in blocks.items():
                rows.append(sparse.csr_matrix(minibatch[COUNT_KEYS[m]].numpy()))
            batches.append(minibatch[REGISTRY_KEYS.BATCH_KEY].numpy().ravel())
        cells = {COUNT_KEYS[m]: sparse.vstack(rows, format="csr") for m, rows in blocks.items()}
        cells[REGISTRY_KEYS.BATCH_KEY] = np.concatenate(batches)
        return cells

    @property
    def registry(self) -> dict:
        """scvi-tools' registry of the data, as ``SCMDCF.setup_mudata`` would write it."""
        counts = {}
        for m, n in self.n_features.items():
            key = COUNT_KEYS[m]
            names = (
                np.asarray(self.layer_var_names)
                if self.modalities[m] == "X" or self.modalities[m].startswith("layers/")
                else np.array([f"{m}_{j}" for j in range(n)], dtype=object)
            )
            stats = {"n_vars": n, "n_cells": self.n_obs} if key == REGISTRY_KEYS.RNA_KEY else {}
            counts[key] = {
                "data_registry": {"attr_name": "X", "attr_key": None, "mod_key": m},
                "state_registry": {"n_obs": self.n_obs, "n_vars": n, "column_names": names},
                "summary_stats": stats or {f"n_{key}": n},
            }
        empty = {"data_registry": {}, "state_registry": {}}
        return {
            "scvi_version": scvi.__version__,
            "model_name": "SCMDCF",
            "setup_args": {
                "modalities": self.modalities,
                "batch_key": self.batch_key,
                "size_factor_key": None,
                "categorical_covariate_keys": None,
                "continuous_covariate_keys": None,
            },
            "field_registries": {
                REGISTRY_KEYS.BATCH_KEY: {
                    "data_registry": {"attr_name": "obs", "attr_key": "_scvi_batch"},
                    "state_registry": {
                        "categorical_mapping": self.batch_categories,
                        "original_key": self.batch_key,
                    },
                    "summary_stats": {"n_batch": len(self.batch_categories)},
                },
                REGISTRY_KEYS.SIZE_FACTOR_KEY: {**empty, "summary_stats": {}},
                REGISTRY_KEYS.CAT_COVS_KEY: {
                    **empty,
                    "summary_stats": {"n_extra_categorical_covs": 0},
                },
                REGISTRY_KEYS.CONT_COVS_KEY: {
                    **empty,
                    "summary_stats": {"n_extra_continuous_covs": 0},
                },
                REGISTRY_KEYS.OBSERVED_KEY: {
                    "data_registry": {"attr_name": "obsm", "attr_key": "observed"},
                    "state_registry": {"column_names": list(self.n_features)},
                    "summary_stats": {"n_observed_modalities": len(self.n_features)},
                },
                **counts,
            },
            "setup_method_name": "setup_datamodule",
        }

    def close(self) -> None:
        """Close the stores."""
        self.mapped.close()
