"""Synthetic multi-omics data sets of any size, with known cell types, built quickly.

Counts are sparse (CSR) and drawn one UMI at a time from per-type expression profiles, so a
million cells take about a minute and the memory of the counts alone. Used by the scaling
benchmark (:mod:`.scaling`) and by tests that need clear, controllable cell types.
"""

from __future__ import annotations

import anndata as ad
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


def _umi_counts(
    rng: np.random.Generator, profiles: np.ndarray, labels: np.ndarray, mean_library: float
) -> sparse.csr_matrix:
    """Sparse counts drawn one UMI at a time, as a library is sequenced.

    Each cell's library size is Poisson with a log-normal mean around ``mean_library``; each of
    its UMIs falls on a feature drawn from the cell's type profile. The cost grows with the
    number of UMIs, not with cells × features, which keeps a million cells cheap to build.
    """
    n_features = profiles.shape[1]
    threshold, alias = _alias_tables(profiles)
    chunks = []
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
        counts = sparse.csr_matrix(dense.reshape(len(chunk), n_features), dtype=np.float32)
        chunks.append(counts)
    return sparse.vstack(chunks, format="csr")


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
    rng = np.random.default_rng(seed)
    labels = _cell_types(rng, n_cells, n_types)
    profiles = _cell_type_profiles(rng, n_types, n_genes, separation)
    rna_counts = _umi_counts(rng, profiles, labels, 1_000.0)
    background = rng.gamma(2.0, 10.0, size=n_proteins)
    foreground = rng.gamma(0.5, 60.0 * separation, size=(n_types, n_proteins))
    depth = rng.lognormal(0.0, 0.3, size=(n_cells, 1))
    protein_counts = rng.poisson((background + foreground[labels]) * depth).astype(np.float32)
    obs_names = [f"cell_{i}" for i in range(n_cells)]
    mdata = MuData(
        {
            "rna": _modality(rna_counts, obs_names, [f"gene_{j}" for j in range(n_genes)], labels),
            "prot": _modality(
                protein_counts, obs_names, [f"protein_{j}" for j in range(n_proteins)], labels
            ),
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
    rng = np.random.default_rng(seed)
    rna_profiles = _cell_type_profiles(rng, n_types, n_genes, separation)
    activity_profiles = rna_profiles**0.7 * rng.lognormal(0.0, 0.3, size=rna_profiles.shape)
    activity_profiles /= activity_profiles.sum(axis=1, keepdims=True)
    gene_names = [f"gene_{j}" for j in range(n_genes)]
    halves = {}
    for name, profiles, depth, n in (
        ("rna", rna_profiles, 1_000.0, n_cells // 2),
        ("atac", activity_profiles, 500.0, n_cells - n_cells // 2),
    ):
        labels = _cell_types(rng, n, n_types)
        counts = _umi_counts(rng, profiles, labels, depth)
        halves[name] = _modality(counts, [f"{name}_{i}" for i in range(n)], gene_names, labels)
    mdata = MuData(halves)
    mdata.obs["cell_type"] = pd.concat([m.obs["cell_type"] for m in halves.values()]).astype(str)
    return mdata
