"""The benchmark's data sets: the real files, paired or turned into unpaired tasks.

Paired data sets keep one set of cells with two modalities. Unpaired ones show the models two
modalities with *different* ``obs``: either the cells split into two halves (RNA of one half,
the other modality of the other half), or all cells with their pairing hidden (renamed per
modality, second modality shuffled) so that FOSCTTM can score the recovered pairs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import mudata as md
import numpy as np

from scvi_contrastive.data import read_dataset
from scvi_contrastive.data.marker_labels import UNASSIGNED, marker_labels

logger = logging.getLogger(__name__)

LABEL_KEY = "cell_type"
MODALITY_KEY = "modality"

#: Data set name -> (reader, how it is shown to the models).
DATASETS = {
    "pbmc10x_cite": ("pbmc10x_cite", "paired"),
    "cbmc_cite": ("cbmc_cite", "paired"),
    "pbmc_multiome": ("pbmc_multiome", "paired"),
    "pbmc10k_cite_named": ("pbmc10k_cite_named", "paired"),
    "pbmc10x_cite_unpaired": ("pbmc10x_cite", "split"),
    "cbmc_cite_unpaired": ("cbmc_cite", "split"),
    "pbmc_multiome_unpaired": ("pbmc_multiome", "hidden_pairs"),
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
        Cell types in ``mdata.obs_names`` order, or ``None``. The Multiome subset ships none,
        so its labels come from marker genes (:func:`~scvi_contrastive.data.marker_labels`);
        its ambiguous cells are ``"unassigned"`` and left out of label-based scores.
    cell_modality
        Unpaired: the modality of each row of ``mdata.obs_names``.
    true_pairs
        Unpaired with hidden pairing: row indices (into ``mdata.obs_names``) of the RNA cells
        and of their true partners in the other modality.

    """

    name: str
    mdata: md.MuData
    modalities: tuple[str, str]
    paired: bool
    labels: np.ndarray | None = None
    cell_modality: np.ndarray | None = None
    true_pairs: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n_labels(self) -> int | None:
        """Number of distinct labels (``"unassigned"`` not counted), or ``None`` without labels."""
        if self.labels is None:
            return None
        return len(np.unique(np.asarray(self.labels)[self.labelled]))

    @property
    def labelled(self) -> np.ndarray | None:
        """Cells whose label counts in label-based scores (not ``"unassigned"``), or ``None``."""
        return None if self.labels is None else np.asarray(self.labels) != UNASSIGNED

    @property
    def other(self) -> str:
        """The non-RNA modality."""
        return self.modalities[1]


def load_dataset(name: str, n_cells: int | None = None, seed: int = 0) -> BenchmarkDataset:
    """Read a benchmark data set, optionally subsampled to ``n_cells`` cells.

    Parameters
    ----------
    name
        A key of :data:`DATASETS`.
    n_cells
        Keep this many randomly chosen cells (before any split); ``None`` keeps all.
    seed
        Random state of the subsample, the split and the shuffle.

    Returns
    -------
    A :class:`BenchmarkDataset`.

    """
    if name not in DATASETS:
        raise ValueError(f"Unknown data set {name!r}; choose from {sorted(DATASETS)}.")
    source, layout = DATASETS[name]
    mdata = read_dataset(source)
    rng = np.random.default_rng(seed)
    if n_cells is not None and n_cells < mdata.n_obs:
        keep = np.sort(rng.choice(mdata.n_obs, size=n_cells, replace=False))
        mdata = mdata[keep].copy()
    other = "atac" if "atac" in mdata.mod else "prot"
    labels = _labels(mdata)
    logger.info("Loaded %s: %d cells, modalities rna + %s", name, mdata.n_obs, other)
    if layout == "paired":
        return BenchmarkDataset(name, mdata, ("rna", other), True, labels=labels)
    if layout == "split":
        return _split_halves(name, mdata, other, labels, rng)
    return _hide_pairs(name, mdata, other, labels, rng)


def _labels(mdata: md.MuData) -> np.ndarray | None:
    """Shipped cell types; for data without them (the Multiome subset), marker-gene labels."""
    if LABEL_KEY in mdata.obs:
        return mdata.obs[LABEL_KEY].to_numpy()
    return marker_labels(mdata["rna"]).to_numpy()


def _unpaired_mudata(rna, other_mod, other: str) -> md.MuData:
    """MuData of two modalities with different cells, RNA cells first in ``obs_names``."""
    mdata = md.MuData({"rna": rna, other: other_mod})
    obs_names = np.concatenate([rna.obs_names.to_numpy(), other_mod.obs_names.to_numpy()])
    if not np.array_equal(mdata.obs_names.to_numpy(), obs_names):
        mdata = mdata[obs_names].copy()
    mdata.obs[MODALITY_KEY] = np.array(["rna"] * rna.n_obs + [other] * other_mod.n_obs)
    return mdata


def _split_halves(name, mdata, other, labels, rng) -> BenchmarkDataset:
    order = rng.permutation(mdata.n_obs)
    half_rna, half_other = np.sort(order[: mdata.n_obs // 2]), np.sort(order[mdata.n_obs // 2 :])
    rna = mdata["rna"][half_rna].copy()
    other_mod = mdata[other][half_other].copy()
    rna.obs_names = [f"rna:{c}" for c in rna.obs_names]
    other_mod.obs_names = [f"{other}:{c}" for c in other_mod.obs_names]
    if labels is not None:
        rna.obs[LABEL_KEY] = labels[half_rna]
        other_mod.obs[LABEL_KEY] = labels[half_other]
        labels = np.concatenate([labels[half_rna], labels[half_other]])
    joint = _unpaired_mudata(rna, other_mod, other)
    modality = np.array(["rna"] * rna.n_obs + [other] * other_mod.n_obs)
    return BenchmarkDataset(name, joint, ("rna", other), False, labels, modality)


def _hide_pairs(name, mdata, other, labels, rng) -> BenchmarkDataset:
    shuffle = rng.permutation(mdata.n_obs)
    rna = mdata["rna"].copy()
    other_mod = mdata[other][shuffle].copy()
    rna.obs_names = [f"rna_{i}" for i in range(rna.n_obs)]
    other_mod.obs_names = [f"{other}_{i}" for i in range(other_mod.n_obs)]
    joint = _unpaired_mudata(rna, other_mod, other)
    modality = np.array(["rna"] * rna.n_obs + [other] * other_mod.n_obs)
    # RNA cell `shuffle[j]` is the partner of other-modality row j.
    partner_rows = rna.n_obs + np.argsort(shuffle)
    all_labels = None if labels is None else np.concatenate([labels, labels[shuffle]])
    return BenchmarkDataset(
        name,
        joint,
        ("rna", other),
        False,
        all_labels,
        modality,
        true_pairs=(np.arange(rna.n_obs), partner_rows),
    )
