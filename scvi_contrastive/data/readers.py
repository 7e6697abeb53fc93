"""Readers for the real multi-omics data sets this package is tested and benchmarked on.

The files are not shipped with the package. They are looked up in ``path`` when given, else in
the folder named by the ``SCVI_CONTRASTIVE_DATA`` environment variable, else in
``../shared/data`` relative to the current working directory.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Literal

import anndata as ad
import h5py
import mudata as md
import numpy as np
import pandas as pd
from anndata.io import read_elem
from scipy import sparse

DATA_ENV_VAR = "SCVI_CONTRASTIVE_DATA"

_CITE_SEQ = {
    "pbmc10x_cite": {
        "file": "pbmc10x_cite_1000g.h5",
        "source": (
            "10x Genomics PBMC CITE-seq as filtered and labelled by the scMDC authors "
            "(github.com/xianglin226/scMDC, datasets/)"
        ),
    },
    "cbmc_cite": {
        "file": "cbmc_cite_1000g.h5",
        "source": (
            "CBMC CITE-seq, Stoeckius et al. 2017, GEO GSE100866, subset and labels from "
            "github.com/xianglin226/scMDC, datasets/"
        ),
    },
}
_MULTIOME = {
    "file": "pbmc_multiome_1k_markers.h5mu",
    "fragments": "pbmc_multiome_1k_markers_fragments.tsv.gz",
    "source": (
        "10x Genomics 'PBMC from a healthy donor, granulocytes removed' Multiome, as subset by "
        "muon for its tests (github.com/scverse/muon, tests/data/atac)"
    ),
}


#: The labelled MuData files (``.h5mu``): name → file, label columns, batch column, source.
_H5MU = {
    "pbmc10k_cite_named": {
        "file": "pbmc10k_cite_named.h5mu",
        "labels": ("cell_type", "cell_type_fine"),
        "batch": None,
        "source": (
            "10x Genomics PBMC 10k protein v3 CITE-seq, counts from "
            "github.com/YosefLab/totalVI_reproducibility, labels from github.com/bernibra/tagtango"
        ),
    },
    "bmmc_cite_600": {
        "file": "bmmc_cite_600.h5mu",
        "labels": ("cell_type",),
        "batch": "batch",
        "source": (
            "NeurIPS 2021 bone marrow CITE-seq (GEO GSE194122), test resources of "
            "github.com/openproblems-bio/neurips2021_multimodal_viash"
        ),
    },
    "bmmc_multiome_500": {
        "file": "bmmc_multiome_500.h5mu",
        "labels": ("cell_type",),
        "batch": "batch",
        "source": (
            "NeurIPS 2021 bone marrow Multiome (GEO GSE194122), test resources of "
            "github.com/openproblems-bio/neurips2021_multimodal_viash"
        ),
    },
    "snare_cortex": {
        "file": "snare_cortex_10k.h5mu",
        "labels": ("cell_type_coarse", "cell_type"),
        "batch": None,
        "source": (
            "SNARE-seq adult mouse cortex, Chen, Lake & Zhang 2019 (GEO GSE126074), as shipped "
            "by github.com/PeterZZQ/scMoMaT (data/real/MOp_5batches, batch 1)"
        ),
    },
}

#: Every shipped data set :func:`read_dataset` reads, with its label columns (the first is the
#: coarse annotation) and its batch column (``None`` where the cells come from one sample).
DATASETS = {
    "cbmc_cite": {"labels": ("cell_type",), "batch": None},
    "pbmc10x_cite": {"labels": ("cell_type",), "batch": None},
    "pbmc_multiome": {"labels": (), "batch": None},
    **{name: {"labels": s["labels"], "batch": s["batch"]} for name, s in _H5MU.items()},
}


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """Folder where the real data sets are looked up.

    Parameters
    ----------
    path
        Explicit folder. If ``None``, the ``SCVI_CONTRASTIVE_DATA`` environment variable, then
        ``../shared/data``.

    """
    if path is not None:
        return Path(path)
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env)
    return Path("..") / "shared" / "data"


def _locate(file: str, source: str, path: str | os.PathLike | None) -> Path:
    folder = data_dir(path)
    target = folder / file
    if not target.is_file():
        raise FileNotFoundError(
            f"{file} was not found in {folder.resolve()}. Pass `path=` or set the "
            f"{DATA_ENV_VAR} environment variable to the folder holding it. The data set is "
            f"public: {source}."
        )
    return target


def read_cite_seq(
    name: Literal["pbmc10x_cite", "cbmc_cite"] = "pbmc10x_cite",
    path: str | os.PathLike | None = None,
) -> md.MuData:
    """Read one of the labelled CITE-seq files (paired RNA + protein).

    Parameters
    ----------
    name
        ``"pbmc10x_cite"`` (6,661 PBMCs, 1,000 genes, 14 antibodies, 7 labels) or
        ``"cbmc_cite"`` (1,182 CBMCs, 1,000 genes, 10 antibodies, 6 labels).
    path
        Folder holding the file; see :func:`data_dir`.

    Returns
    -------
    MuData with modalities ``"rna"`` and ``"prot"``. Raw counts are in ``.X`` and in
    ``.layers["counts"]`` of each modality (sparse CSR, float32 holding integers), the
    published labels in ``mdata.obs["cell_type"]`` (categorical, ``"1"`` ... ``"k"``). The
    files store no feature names, so genes are named ``gene_0`` ... and antibodies ``adt_0`` ....

    """
    if name not in _CITE_SEQ:
        raise ValueError(f"`name` must be one of {sorted(_CITE_SEQ)}, got {name!r}.")
    spec = _CITE_SEQ[name]
    target = _locate(spec["file"], spec["source"], path)
    with h5py.File(target, "r") as handle:
        rna = np.asarray(handle["X1"], dtype=np.float32)
        prot = np.asarray(handle["X2"], dtype=np.float32)
        labels = np.asarray(handle["Y"]).astype(int)
    obs_names = pd.Index([f"{name}_{i}" for i in range(rna.shape[0])], name="cell")
    obs = pd.DataFrame(
        {"cell_type": pd.Categorical(labels.astype(str), sorted({str(v) for v in labels}))},
        index=obs_names,
    )
    mods = {
        "rna": _counts_anndata(rna, obs_names, "gene"),
        "prot": _counts_anndata(prot, obs_names, "adt"),
    }
    mdata = md.MuData(mods)
    mdata.obs["cell_type"] = obs["cell_type"]
    mdata.uns["dataset"] = {"name": name, "source": spec["source"]}
    return mdata


def _counts_anndata(counts: np.ndarray, obs_names: pd.Index, prefix: str) -> ad.AnnData:
    matrix = sparse.csr_matrix(counts)
    var_names = pd.Index([f"{prefix}_{j}" for j in range(counts.shape[1])])
    adata = ad.AnnData(
        X=matrix, obs=pd.DataFrame(index=obs_names), var=pd.DataFrame(index=var_names)
    )
    adata.layers["counts"] = matrix.copy()
    return adata


def read_pbmc_multiome(path: str | os.PathLike | None = None) -> md.MuData:
    """Read the real 10x PBMC Multiome subset (paired RNA + ATAC, 1,000 cells).

    Parameters
    ----------
    path
        Folder holding the file; see :func:`data_dir`.

    Returns
    -------
    MuData with modalities ``"rna"`` (45 marker genes, ``var["interval"]`` holds Cell Ranger's
    ``chrN:start-end`` gene interval) and ``"atac"`` (174 peaks named ``chrN:start-end``,
    ``var`` columns ``chrom``, ``start``, ``end`` added from the names). Raw counts are in
    ``.X`` and ``.layers["counts"]``. ``atac.uns["atac"]["peak_annotation"]`` is Cell Ranger's
    peak → gene table and ``atac.uns["files"]["fragments"]`` points at the fragments file in
    the same folder.

    """
    target = _locate(_MULTIOME["file"], _MULTIOME["source"], path)
    mdata = _read_modalities(target)
    for mod in mdata.mod.values():
        mod.layers["counts"] = mod.X.copy()
    atac = mdata.mod["atac"]
    coords = atac.var_names.str.extract(r"^(?P<chrom>[^:]+):(?P<start>\d+)-(?P<end>\d+)$")
    atac.var["chrom"] = coords["chrom"].to_numpy()
    atac.var["start"] = coords["start"].astype(np.int64).to_numpy()
    atac.var["end"] = coords["end"].astype(np.int64).to_numpy()
    atac.uns["files"] = {"fragments": str(target.parent.resolve() / _MULTIOME["fragments"])}
    mdata.uns["dataset"] = {"name": "pbmc_multiome", "source": _MULTIOME["source"]}
    return mdata


def _read_modalities(target: Path) -> md.MuData:
    """A MuData of the file's modalities, each read element by element.

    The Multiome file predates the ``anndata`` encoding of modality groups, which mudata 0.4
    (what pip installs on Python 3.12 and newer) requires of ``read_h5mu``; anndata's element
    reader takes each modality's ``X``, ``obs``, ``var`` and ``uns`` as they are with every
    supported version.
    """
    # The file is known to be of the old format: anndata's warning per element tells the user
    # nothing they can act on.
    with h5py.File(target, "r") as file, warnings.catch_warnings():
        warnings.simplefilter("ignore", ad.OldFormatWarning)
        mods = {
            name: ad.AnnData(**{key: read_elem(group[key]) for key in group})
            for name, group in file["mod"].items()
        }
    return md.MuData(mods)


def read_h5mu_dataset(name: str, path: str | os.PathLike | None = None) -> md.MuData:
    """Read one of the labelled MuData files with feature names (paired modalities).

    Parameters
    ----------
    name
        ``"pbmc10k_cite_named"`` (6,821 PBMCs, 4,000 genes, 14 named antibodies; labels
        ``cell_type`` (7) and ``cell_type_fine`` (19)), ``"bmmc_cite_600"`` (600 bone marrow
        cells, 1,000 genes, 134 antibodies, 41 types, 2 batches), ``"bmmc_multiome_500"`` (500
        cells, 600 genes, 600 peaks, 21 types, 2 batches) or ``"snare_cortex"`` (SNARE-seq mouse
        cortex, 10,309 cells, 1,677 genes, 25,734 peaks; labels ``cell_type_coarse`` (15) and
        ``cell_type`` (23)).
    path
        Folder holding the file; see :func:`data_dir`.

    Returns
    -------
    MuData with modalities ``"rna"`` and ``"prot"`` or ``"atac"``. Raw counts are in ``.X``
    and ``.layers["counts"]`` of each modality (sparse CSR), labels and batch in ``mdata.obs``.
    ATAC ``var`` has ``chrom``, ``start`` and ``end``; SNARE's ``atac.uns["gene_peak_links"]``
    is a gene → peak table (the mm10 gene coordinates are not shipped).
    """
    if name not in _H5MU:
        raise ValueError(f"`name` must be one of {sorted(_H5MU)}, got {name!r}.")
    spec = _H5MU[name]
    mdata = md.read_h5mu(_locate(spec["file"], spec["source"], path))
    for mod in mdata.mod.values():
        mod.X = sparse.csr_matrix(mod.X)
        mod.layers["counts"] = mod.X.copy()
    mdata.uns["dataset"] = {"name": name, "source": spec["source"]}
    return mdata


def read_dataset(name: str, path: str | os.PathLike | None = None) -> md.MuData:
    """Read any shipped data set by name (a key of :data:`DATASETS`).

    Parameters
    ----------
    name
        ``"cbmc_cite"``, ``"pbmc10x_cite"`` (:func:`read_cite_seq`), ``"pbmc_multiome"``
        (:func:`read_pbmc_multiome`) or a name of :func:`read_h5mu_dataset`.
    path
        Folder holding the file; see :func:`data_dir`.
    """
    if name in _CITE_SEQ:
        return read_cite_seq(name, path)
    if name == "pbmc_multiome":
        return read_pbmc_multiome(path)
    if name in _H5MU:
        return read_h5mu_dataset(name, path)
    raise ValueError(f"`name` must be one of {sorted(DATASETS)}, got {name!r}.")
