"""The benchmark's data sets: the real files, paired or turned into unpaired tasks.

Paired data sets keep one set of cells with two modalities. Unpaired ones show the models two
modalities with *different* ``obs``: either the cells split into two halves (RNA of one half,
the other modality of the other half), or all cells with their pairing hidden (renamed per
modality, second modality shuffled) so that FOSCTTM can score the recovered pairs.

Every random choice here (subsample, split, shuffle) uses :data:`DATA_SEED`, never a method's
seed: every seed of a benchmark run trains and is scored on the same cells.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import mudata as md
import numpy as np

from scvi_contrastive.data import DATASETS as READERS
from scvi_contrastive.data import read_dataset
from scvi_contrastive.data.marker_labels import UNASSIGNED, marker_labels

logger = logging.getLogger(__name__)

LABEL_KEY = "cell_type"
FINE_LABEL_KEY = "cell_type_fine"
BATCH_KEY = "batch"
MODALITY_KEY = "modality"

#: Random state of every subsample, split and shuffle, whatever the methods' seeds.
DATA_SEED = 0

Layout = Literal["paired", "split", "hidden_pairs"]


@dataclass(frozen=True)
class DatasetSpec:
    """How one benchmark task is built from a shipped data set.

    Attributes
    ----------
    reader
        Name passed to :func:`scvi_contrastive.data.read_dataset`.
    layout
        ``"paired"``, ``"split"`` (RNA of one half of the cells, the other modality of the
        other half) or ``"hidden_pairs"`` (all cells, pairing hidden).
    labels
        ``mdata.obs`` columns of cell types, coarse first; empty when the set ships none
        (marker-gene labels are derived then).
    batch
        ``mdata.obs`` column of batches, or ``None`` when the cells come from one sample.

    """

    reader: str
    layout: Layout
    labels: tuple[str, ...]
    batch: str | None


def _spec(reader: str, layout: Layout) -> DatasetSpec:
    shipped = READERS[reader]
    return DatasetSpec(reader, layout, tuple(shipped["labels"]), shipped["batch"])


#: Benchmark task name -> how it is built.
DATASETS: dict[str, DatasetSpec] = {
    **{
        name: _spec(name, "paired")
        for name in (
            "cbmc_cite",
            "pbmc10x_cite",
            "pbmc_multiome",
            "pbmc10k_cite_named",
            "bmmc_cite_600",
            "bmmc_multiome_500",
            "snare_cortex",
        )
    },
    "pbmc10x_cite_unpaired": _spec("pbmc10x_cite", "split"),
    "cbmc_cite_unpaired": _spec("cbmc_cite", "split"),
    "pbmc10k_cite_named_unpaired": _spec("pbmc10k_cite_named", "split"),
    "pbmc_multiome_unpaired": _spec("pbmc_multiome", "hidden_pairs"),
    "bmmc_multiome_500_unpaired": _spec("bmmc_multiome_500", "hidden_pairs"),
    "snare_cortex_unpaired": _spec("snare_cortex", "hidden_pairs"),
}


@dataclass
class BenchmarkDataset:
    """One benchmark task.

    Attributes
    ----------
    name
        Data set name (a key of :data:`DATASETS`).
    mdata
        What the models train on. Paired: both modalities share ``obs``. Unpaired: the two
        modalities hold different cells and ``mdata.obs_names`` lists the RNA cells first.
    modalities
        ``("rna", "prot")`` or ``("rna", "atac")``.
    paired
        Whether the modalities share cells.
    labels
        Coarse cell types in ``mdata.obs_names`` order, or ``None``. The Multiome subset ships
        none, so its labels come from marker genes (:func:`~scvi_contrastive.data.marker_labels`);
        its ambiguous cells are ``"unassigned"`` and left out of label-based scores.
    cell_modality
        Unpaired: the modality of each row of ``mdata.obs_names``.
    true_pairs
        Unpaired with hidden pairing: row indices (into ``mdata.obs_names``) of the RNA cells
        and of their true partners in the other modality.
    fine_labels
        Fine cell types in ``mdata.obs_names`` order where the set ships a second annotation,
        else ``None``.
    batch
        Batch of each row of ``mdata.obs_names`` where the set has batches, else ``None``.
    batch_key
        The ``mdata.obs`` column holding :attr:`batch` (for the models' ``batch_key``).
    label_columns
        The shipped label columns :attr:`labels` and :attr:`fine_labels` come from.

    """

    name: str
    mdata: md.MuData
    modalities: tuple[str, str]
    paired: bool
    labels: np.ndarray | None = None
    cell_modality: np.ndarray | None = None
    true_pairs: tuple[np.ndarray, np.ndarray] | None = None
    fine_labels: np.ndarray | None = None
    batch: np.ndarray | None = None
    batch_key: str | None = None
    label_columns: tuple[str, ...] = ()

    @property
    def n_labels(self) -> int | None:
        """Number of distinct labels (``"unassigned"`` not counted), or ``None`` without labels."""
        if self.labels is None:
            return None
        return len(np.unique(np.asarray(self.labels)[self.labelled]))

    @property
    def n_fine_labels(self) -> int | None:
        """Number of distinct fine labels, or ``None`` without them."""
        return None if self.fine_labels is None else len(np.unique(self.fine_labels))

    @property
    def labelled(self) -> np.ndarray | None:
        """Cells whose label counts in label-based scores (not ``"unassigned"``), or ``None``."""
        return None if self.labels is None else np.asarray(self.labels) != UNASSIGNED

    @property
    def other(self) -> str:
        """The non-RNA modality."""
        return self.modalities[1]


def load_dataset(name: str, n_cells: int | None = None, seed: int = DATA_SEED) -> BenchmarkDataset:
    """Read a benchmark data set, optionally subsampled to ``n_cells`` cells.

    Parameters
    ----------
    name
        A key of :data:`DATASETS`.
    n_cells
        Keep this many randomly chosen cells (before any split); ``None`` keeps all.
    seed
        Random state of the subsample, the split and the shuffle. The runner always passes
        :data:`DATA_SEED`, so that every method seed sees the same cells.

    Returns
    -------
    A :class:`BenchmarkDataset`.

    """
    if name not in DATASETS:
        raise ValueError(f"Unknown data set {name!r}; choose from {sorted(DATASETS)}.")
    spec = DATASETS[name]
    mdata = read_dataset(spec.reader)
    rng = np.random.default_rng(seed)
    if n_cells is not None and n_cells < mdata.n_obs:
        keep = np.sort(rng.choice(mdata.n_obs, size=n_cells, replace=False))
        mdata = mdata[keep].copy()
    other = "atac" if "atac" in mdata.mod else "prot"
    annotations = _annotations(mdata, spec)
    logger.info("Loaded %s: %d cells, modalities rna + %s", name, mdata.n_obs, other)
    if spec.layout == "paired":
        return BenchmarkDataset(name, mdata, ("rna", other), True, **annotations)
    if spec.layout == "split":
        return _split_halves(name, mdata, other, annotations, rng)
    return _hide_pairs(name, mdata, other, annotations, rng)


def _annotations(mdata: md.MuData, spec: DatasetSpec) -> dict:
    """Coarse and fine labels, batch: shipped ones, else marker-gene labels (Multiome subset)."""
    if spec.labels:
        labels = mdata.obs[spec.labels[0]].astype(str).to_numpy()
    else:
        labels = marker_labels(mdata["rna"]).to_numpy()
    fine = mdata.obs[spec.labels[1]].astype(str).to_numpy() if len(spec.labels) > 1 else None
    batch = None if spec.batch is None else mdata.obs[spec.batch].astype(str).to_numpy()
    return {
        "labels": labels,
        "fine_labels": fine,
        "batch": batch,
        "batch_key": spec.batch,
        "label_columns": spec.labels,
    }


def _unpaired_mudata(rna, other_mod, other: str, rows: dict) -> md.MuData:
    """MuData of two modalities with different cells, RNA cells first in ``obs_names``."""
    mdata = md.MuData({"rna": rna, other: other_mod})
    obs_names = np.concatenate([rna.obs_names.to_numpy(), other_mod.obs_names.to_numpy()])
    if not np.array_equal(mdata.obs_names.to_numpy(), obs_names):
        mdata = mdata[obs_names].copy()
    mdata.obs[MODALITY_KEY] = np.array(["rna"] * rna.n_obs + [other] * other_mod.n_obs)
    if rows["batch_key"] is not None:
        # MuData prefixes the columns of modalities with different cells; keep one batch column.
        mdata.obs[rows["batch_key"]] = rows["batch"]
    return mdata


def _unpaired_rows(mdata, other: str, annotations: dict, rna_cells, other_cells):
    """The RNA of ``rna_cells`` and the other modality of ``other_cells``, annotated."""
    rna = mdata["rna"][rna_cells].copy()
    other_mod = mdata[other][other_cells].copy()
    # The CITE-seq readers keep labels in mdata.obs only: copy them into each modality.
    columns = [*annotations["label_columns"], annotations["batch_key"]]
    for column in filter(None, columns):
        rna.obs[column] = mdata.obs[column].to_numpy()[rna_cells]
        other_mod.obs[column] = mdata.obs[column].to_numpy()[other_cells]
    rows = dict(annotations)
    for key in ("labels", "fine_labels", "batch"):
        values = annotations[key]
        rows[key] = (
            None if values is None else np.concatenate([values[rna_cells], values[other_cells]])
        )
    return rna, other_mod, rows


def _split_halves(name, mdata, other, annotations, rng) -> BenchmarkDataset:
    order = rng.permutation(mdata.n_obs)
    half_rna, half_other = np.sort(order[: mdata.n_obs // 2]), np.sort(order[mdata.n_obs // 2 :])
    rna, other_mod, rows = _unpaired_rows(mdata, other, annotations, half_rna, half_other)
    rna.obs_names = [f"rna:{c}" for c in rna.obs_names]
    other_mod.obs_names = [f"{other}:{c}" for c in other_mod.obs_names]
    joint = _unpaired_mudata(rna, other_mod, other, rows)
    modality = np.array(["rna"] * rna.n_obs + [other] * other_mod.n_obs)
    return BenchmarkDataset(name, joint, ("rna", other), False, cell_modality=modality, **rows)


def _hide_pairs(name, mdata, other, annotations, rng) -> BenchmarkDataset:
    shuffle = rng.permutation(mdata.n_obs)
    cells = np.arange(mdata.n_obs)
    rna, other_mod, rows = _unpaired_rows(mdata, other, annotations, cells, shuffle)
    rna.obs_names = [f"rna_{i}" for i in range(rna.n_obs)]
    other_mod.obs_names = [f"{other}_{i}" for i in range(other_mod.n_obs)]
    joint = _unpaired_mudata(rna, other_mod, other, rows)
    modality = np.array(["rna"] * rna.n_obs + [other] * other_mod.n_obs)
    # RNA cell `shuffle[j]` is the partner of other-modality row j.
    partner_rows = rna.n_obs + np.argsort(shuffle)
    return BenchmarkDataset(
        name,
        joint,
        ("rna", other),
        False,
        cell_modality=modality,
        true_pairs=(cells, partner_rows),
        **rows,
    )
