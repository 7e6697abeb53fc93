"""Synthetic multi-omics data sets of any size, with known cell types, built quickly.

Counts are sparse (CSR) and drawn one UMI at a time from per-type expression profiles, so a
million cells take about a minute and the memory of the counts alone. Used by the scaling
benchmark (:mod:`.scaling`) and by tests that need clear, controllable cell types.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
from mudata import MuData
from scipy import sparse

#: Features of the synthetic data sets (a typical highly-variable-gene selection and panel).
N_GENES = 2_000
N_PROTEINS = 30
N_CELL_TYPES = 6

#: Cells generated per chunk: bounds the temporary arrays of the count sampler.
_CHUNK_CELLS = 10_000
#: Mean UMIs per cell of the synthetic RNA.
_RNA_LIBRARY = 1_000.0
#: Values copied into a file's dataset at a time by :func:`write_synthetic_paired`.
_COPY_VALUES = 25_000_000


def _cell_type_profiles(
    rng: np.random.Generator, n_types: int, n_features: int, separation: float
) -> np.ndarray:
    """Expression profiles (rows summing to 1): a shared skewed baseline, varied per type."""
    baseline = rng.gamma(0.3, 1.0, size=n_features) + 1e-3
    profiles = baseline * rng.lognormal(0.0, separation, size=(n_types, n_features))
    return profiles / profiles.sum(axis=1, keepdims=True)


def _alias_tables(profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias tables of each row of ``profiles`` (flattened, one row after another).

    A draw from row ``t`` is then one uniform bucket ``k`` and one coin: ``k`` itself with
    probability ``threshold[k]``, else ``alias[k]``. Unlike a binary search of the cumulative
    sums, this costs the same for every feature and touches memory only twice.
    """
    n_types, n_features = profiles.shape
    threshold = np.empty((n_types, n_features), dtype=np.float32)
    alias = np.tile(np.arange(n_features, dtype=np.int32), (n_types, 1))
    for t, row in enumerate(profiles):
        scaled = row * n_features
        small = [k for k in range(n_features) if scaled[k] < 1.0]
        large = [k for k in range(n_features) if scaled[k] >= 1.0]
        while small and large:
            lesser, greater = small.pop(), large.pop()
            alias[t, lesser] = greater
            scaled[greater] -= 1.0 - scaled[lesser]
            (small if scaled[greater] < 1.0 else large).append(greater)
        scaled[small + large] = 1.0  # leftovers are 1 up to rounding
        threshold[t] = scaled
    return threshold.ravel(), alias.ravel()


def _umi_count_chunks(
    rng: np.random.Generator, profiles: np.ndarray, labels: np.ndarray, mean_library: float
) -> Iterator[sparse.csr_matrix]:
    """Sparse counts drawn one UMI at a time, as a library is sequenced, a chunk at a time.

    Chunks of :data:`_CHUNK_CELLS` cells, in order. Each cell's library size is Poisson with
    a log-normal mean around ``mean_library``; each of its UMIs falls on a feature drawn from
    the cell's type profile. The cost grows with the number of UMIs, not with cells ×
    features, which keeps a million cells cheap to build.
    """
    n_features = profiles.shape[1]
    threshold, alias = _alias_tables(profiles)
    for start in range(0, len(labels), _CHUNK_CELLS):
        chunk = labels[start : start + _CHUNK_CELLS]
        library = rng.poisson(mean_library * rng.lognormal(0.0, 0.3, size=len(chunk)))
        owner = np.repeat(np.arange(len(chunk), dtype=np.int32), library)
        # One uniform per UMI gives both the bucket (integer part) and the coin (the rest).
        uniform = rng.random(len(owner), dtype=np.float32) * np.float32(n_features)
        local = np.minimum(uniform.astype(np.int32), n_features - 1)
        bucket = chunk[owner] * n_features + local
        feature = np.where(uniform - local < threshold[bucket], local, alias[bucket])
        # Counting into a dense chunk is cheaper than sorting the UMIs into CSR order.
        dense = np.bincount(
            owner.astype(np.int64) * n_features + feature, minlength=len(chunk) * n_features
        )
        yield sparse.csr_matrix(dense.reshape(len(chunk), n_features), dtype=np.float32)


def _umi_counts(
    rng: np.random.Generator, profiles: np.ndarray, labels: np.ndarray, mean_library: float
) -> sparse.csr_matrix:
    """All cells' counts of :func:`_umi_count_chunks` as one CSR matrix."""
    return sparse.vstack(list(_umi_count_chunks(rng, profiles, labels, mean_library)), "csr")


def _cell_types(rng: np.random.Generator, n_cells: int, n_types: int) -> np.ndarray:
    """Cell-type labels with unequal proportions, as in tissue."""
    proportions = rng.dirichlet(np.full(n_types, 3.0))
    return rng.choice(n_types, size=n_cells, p=proportions)


def _modality(counts, obs_names: list[str], var_names: list[str], labels) -> ad.AnnData:
    adata = ad.AnnData(counts)
    adata.obs_names = obs_names
    adata.var_names = var_names
    adata.obs["cell_type"] = pd.Categorical([f"type_{t}" for t in labels])
    return adata


def synthetic_paired(
    n_cells: int,
    n_genes: int = N_GENES,
    n_proteins: int = N_PROTEINS,
    n_types: int = N_CELL_TYPES,
    separation: float = 1.0,
    seed: int = 0,
) -> MuData:
    """CITE-seq-like data: RNA and protein counts of the same cells, a few cell types.

    Parameters
    ----------
    n_cells
        Number of cells.
    n_genes
        RNA features (sparse CSR counts, about 1,000 UMIs per cell).
    n_proteins
        Protein features (dense counts: a per-protein background plus a type-specific
        foreground, as antibody-derived tags).
    n_types
        Number of cell types; ``mdata.obs["cell_type"]`` holds them.
    separation
        How distinct the cell types are: the log-scale standard deviation of each type's RNA
        profile around a shared one, and the scale of its protein foreground.
    seed
        Random seed.

    Returns
    -------
    ``MuData({"rna": ..., "prot": ...})``.
    """
    rng, labels, profiles = _paired_draws(n_cells, n_genes, n_types, separation, seed)
    rna_counts = _umi_counts(rng, profiles, labels, _RNA_LIBRARY)
    protein_counts = _protein_counts(rng, labels, n_types, n_proteins, separation)
    return _paired_mudata(rna_counts, protein_counts, labels)


def write_synthetic_paired(path: str | os.PathLike, n_cells: int, seed: int = 0) -> Path:
    """Write ``synthetic_paired(n_cells, seed=seed)`` to an ``.h5mu``, its RNA a chunk at a time.

    The file holds the same numbers as ``synthetic_paired(n_cells, seed=seed).write(path)``, but
    the RNA counts (CSR, in ``.X``) are never all in memory: they are drawn
    :data:`_CHUNK_CELLS` cells at a time and appended to raw files beside ``path``, then copied
    into the ``.h5mu``'s datasets (contiguous, as anndata writes them) in slices. Memory holds
    one chunk, the proteins and the per-cell arrays.

    Parameters
    ----------
    path
        The ``.h5mu`` to write (replaced if it exists).
    n_cells
        Number of cells.
    seed
        Random seed.

    Returns
    -------
    ``path``, for ``mudata.read_h5mu(path, backed=True)``.
    """
    path = Path(path)
    rng, labels, profiles = _paired_draws(n_cells, N_GENES, N_CELL_TYPES, 1.0, seed)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        chunks = _umi_count_chunks(rng, profiles, labels, _RNA_LIBRARY)
        raw, indptr = _write_chunks_to_files(chunks, Path(scratch))
        protein_counts = _protein_counts(rng, labels, N_CELL_TYPES, N_PROTEINS, 1.0)
        empty = sparse.csr_matrix((n_cells, N_GENES), dtype=np.float32)
        mdata = _paired_mudata(empty, protein_counts, labels)
        _write_filling_counts(mdata, path, {"rna": (raw, indptr)})
    return path


def _write_chunks_to_files(
    chunks: Iterator[sparse.csr_matrix], folder: Path
) -> tuple[dict[str, Path], np.ndarray]:
    """CSR chunks (rows in order) appended to raw files in ``folder``, and their ``indptr``."""
    raw = {"data": folder / "data", "indices": folder / "indices"}
    indptr, nnz = [np.zeros(1, dtype=np.int64)], 0
    with open(raw["data"], "wb") as data, open(raw["indices"], "wb") as indices:
        for chunk in chunks:
            chunk.data.astype(np.float32, copy=False).tofile(data)
            chunk.indices.astype(np.int32, copy=False).tofile(indices)
            indptr.append(chunk.indptr[1:].astype(np.int64) + nnz)
            nnz += chunk.nnz
    return raw, np.concatenate(indptr)


def _write_filling_counts(
    mdata: MuData, path: Path, files: dict[str, tuple[dict[str, Path], np.ndarray]]
) -> None:
    """Write ``mdata`` with mudata, then each listed modality's counts into its empty ``.X``.

    ``files`` maps a modality to the raw files and ``indptr`` of :func:`_write_chunks_to_files`;
    that modality's ``.X`` in ``mdata`` is an empty CSR placeholder of the right shape.
    """
    mdata.write(path)
    with h5py.File(path, "r+") as file:
        for name, (raw, indptr) in files.items():
            _fill_csr_group(file[f"mod/{name}/X"], raw, indptr)


def _fill_csr_group(group: h5py.Group, raw: dict[str, Path], indptr: np.ndarray) -> None:
    """Replace the arrays of an anndata CSR group by the raw files', a slice at a time."""
    nnz = int(indptr[-1])
    for name, dtype in (("data", np.float32), ("indices", np.int32)):
        del group[name]
        dataset = group.create_dataset(name, shape=(nnz,), dtype=dtype)
        with open(raw[name], "rb") as source:
            for start in range(0, nnz, _COPY_VALUES):
                values = np.fromfile(source, dtype=dtype, count=_COPY_VALUES)
                dataset[start : start + values.size] = values
    del group["indptr"]
    group.create_dataset("indptr", data=indptr)


def _paired_draws(
    n_cells: int, n_genes: int, n_types: int, separation: float, seed: int
) -> tuple[np.random.Generator, np.ndarray, np.ndarray]:
    """The generator, cell types and RNA profiles of a paired data set, in drawing order."""
    rng = np.random.default_rng(seed)
    labels = _cell_types(rng, n_cells, n_types)
    return rng, labels, _cell_type_profiles(rng, n_types, n_genes, separation)


def _protein_counts(
    rng: np.random.Generator, labels: np.ndarray, n_types: int, n_proteins: int, separation: float
) -> np.ndarray:
    """Antibody-derived tag counts: a per-protein background plus a per-type foreground."""
    background = rng.gamma(2.0, 10.0, size=n_proteins)
    foreground = rng.gamma(0.5, 60.0 * separation, size=(n_types, n_proteins))
    depth = rng.lognormal(0.0, 0.3, size=(len(labels), 1))
    return rng.poisson((background + foreground[labels]) * depth).astype(np.float32)


def _paired_mudata(rna_counts, protein_counts: np.ndarray, labels: np.ndarray) -> MuData:
    n_cells, n_genes = rna_counts.shape
    obs_names = [f"cell_{i}" for i in range(n_cells)]
    gene_names = [f"gene_{j}" for j in range(n_genes)]
    protein_names = [f"protein_{j}" for j in range(protein_counts.shape[1])]
    mdata = MuData(
        {
            "rna": _modality(rna_counts, obs_names, gene_names, labels),
            "prot": _modality(protein_counts, obs_names, protein_names, labels),
        }
    )
    mdata.obs["cell_type"] = mdata.mod["rna"].obs["cell_type"].to_numpy()
    return mdata


def synthetic_unpaired(
    n_cells: int,
    n_genes: int = N_GENES,
    n_types: int = N_CELL_TYPES,
    separation: float = 1.0,
    seed: int = 0,
) -> MuData:
    """Unpaired RNA and gene-activity cells over the same genes, half the cells each.

    The gene-activity half mimics ATAC summed over gene bodies: shallower (about 500 counts per
    cell) and with profiles that follow RNA's only loosely (each type's profile is RNA's raised
    to a power below one, times noise).

    Parameters
    ----------
    n_cells
        Number of cells, both modalities together.
    n_genes
        Genes, shared by both modalities.
    n_types
        Number of cell types; ``mdata.obs["cell_type"]`` holds them.
    separation
        How distinct the cell types are: the log-scale standard deviation of each type's
        profile around a shared one.
    seed
        Random seed.

    Returns
    -------
    ``MuData({"rna": ..., "atac": ...})`` whose modalities hold different cells.
    """
    halves = {
        name: (labels, _umi_counts(rng, profiles, labels, depth))
        for name, rng, labels, profiles, depth in _unpaired_draws(
            n_cells, n_genes, n_types, separation, seed
        )
    }
    return _unpaired_mudata(halves, n_genes)


def write_synthetic_unpaired(path: str | os.PathLike, n_cells: int, seed: int = 0) -> Path:
    """Write ``synthetic_unpaired(n_cells, seed=seed)`` to an ``.h5mu``, a chunk at a time.

    As :func:`write_synthetic_paired`: each modality's counts (CSR, in ``.X``) are drawn
    :data:`_CHUNK_CELLS` cells at a time into raw files beside ``path`` and copied into the
    ``.h5mu`` in slices, so memory holds one chunk and the per-cell arrays.

    Parameters
    ----------
    path
        The ``.h5mu`` to write (replaced if it exists).
    n_cells
        Number of cells, both modalities together.
    seed
        Random seed.

    Returns
    -------
    ``path``, for ``mudata.read_h5mu(path, backed=True)``.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        halves, files = {}, {}
        for name, rng, labels, profiles, depth in _unpaired_draws(
            n_cells, N_GENES, N_CELL_TYPES, 1.0, seed
        ):
            folder = Path(scratch) / name
            folder.mkdir()
            chunks = _umi_count_chunks(rng, profiles, labels, depth)
            files[name] = _write_chunks_to_files(chunks, folder)
            halves[name] = (labels, sparse.csr_matrix((len(labels), N_GENES), dtype=np.float32))
        _write_filling_counts(_unpaired_mudata(halves, N_GENES), path, files)
    return path


def _unpaired_draws(
    n_cells: int, n_genes: int, n_types: int, separation: float, seed: int
) -> Iterator[tuple[str, np.random.Generator, np.ndarray, np.ndarray, float]]:
    """Per modality, in drawing order: name, generator, labels, profiles and mean depth.

    The labels of a modality are drawn when the iteration reaches it and its counts must be
    drawn from ``rng`` before the next modality is asked for, so that the data set is the same
    whether the counts are held in memory or written to files.
    """
    rng = np.random.default_rng(seed)
    rna_profiles = _cell_type_profiles(rng, n_types, n_genes, separation)
    activity_profiles = rna_profiles**0.7 * rng.lognormal(0.0, 0.3, size=rna_profiles.shape)
    activity_profiles /= activity_profiles.sum(axis=1, keepdims=True)
    for name, profiles, depth, n in (
        ("rna", rna_profiles, 1_000.0, n_cells // 2),
        ("atac", activity_profiles, 500.0, n_cells - n_cells // 2),
    ):
        yield name, rng, _cell_types(rng, n, n_types), profiles, depth


def _unpaired_mudata(halves: dict[str, tuple[np.ndarray, sparse.csr_matrix]], n_genes: int):
    gene_names = [f"gene_{j}" for j in range(n_genes)]
    modalities = {
        name: _modality(counts, [f"{name}_{i}" for i in range(len(labels))], gene_names, labels)
        for name, (labels, counts) in halves.items()
    }
    mdata = MuData(modalities)
    cell_types = [m.obs["cell_type"] for m in modalities.values()]
    mdata.obs["cell_type"] = pd.concat(cell_types).astype(str)
    return mdata
