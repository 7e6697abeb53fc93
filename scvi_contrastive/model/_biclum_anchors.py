"""BICLUM's cross-modal anchors.

Features matched by name, the representation the first positive pairs are found in, and
mutual-nearest-neighbour pairs as rows of the registered data.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scvi import settings

from ..data.normalization import log_normalize
from ..tools.anchors import find_mnn_pairs, shared_neighbor_scores
from ..tools.joint_pca import joint_pca
from ..tools.optimal_transport import structural_embedding

#: Library size the cells are normalised to, as BICLUM's encoders do.
TARGET_SUM = 1e4


def select_features(
    var_names: dict[str, Sequence[str]], feature_space: Literal["shared", "separate"]
) -> dict[str, np.ndarray]:
    """Features of each modality the model uses.

    Parameters
    ----------
    var_names
        Feature names of the two modalities, the RNA modality first.
    feature_space
        ``"shared"``: the features both modalities have, in the first modality's order (an
        error if there are none). ``"separate"``: all features of each modality.

    Returns
    -------
    Per modality, positions in its ``var_names``.
    """
    (first, names_a), (second, names_b) = ((n, pd.Index(v)) for n, v in var_names.items())
    for name, names in ((first, names_a), (second, names_b)):
        if not names.is_unique:
            raise ValueError(
                f"var_names of modality {name!r} are not unique; call "
                f"`mdata.mod[{name!r}].var_names_make_unique()` before setup."
            )
    if feature_space == "separate":
        return {first: np.arange(len(names_a)), second: np.arange(len(names_b))}
    if feature_space != "shared":
        raise ValueError(f"`feature_space` must be 'shared' or 'separate', got {feature_space!r}.")
    shared = names_a.intersection(names_b, sort=False)
    if len(shared) == 0:
        raise ValueError(
            f"Modalities {first!r} and {second!r} share no feature names. Put both in one gene "
            "space (ATAC: `scvi_contrastive.data.gene_activity(atac, genes=rna)`; proteins: "
            "`scvi_contrastive.data.protein_to_gene`), or pass `feature_space='separate'` to "
            "align the cells in a learned space without feature correspondences."
        )
    return {first: names_a.get_indexer(shared), second: names_b.get_indexer(shared)}


def shared_feature_pairs(features: dict[str, Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Positions in the two modalities' feature lists of the features both have by name."""
    names_a, names_b = (pd.Index(f) for f in features.values())
    shared = names_a.intersection(names_b, sort=False)
    return tuple(names.get_indexer(shared).astype(np.int64) for names in (names_a, names_b))


def log_normalized_columns(counts, columns: np.ndarray) -> sparse.csr_matrix | np.ndarray:
    """Log-normalised ``columns`` of ``counts``; the library sums only those, as the encoder's."""
    counts = (
        sparse.csr_matrix(counts)[:, columns] if sparse.issparse(counts) else counts[:, columns]
    )
    return log_normalize(counts, TARGET_SUM, dtype=np.float32)


def initial_embeddings(
    normalized: dict, pairs: tuple[np.ndarray, np.ndarray], n_pcs: int
) -> dict[str, np.ndarray]:
    """Shared representation the first MNN pairs (and the metacell sketches) are computed in."""
    (first, x_a), (second, x_b) = normalized.items()
    if len(pairs[0]) > 0:
        z_a, z_b = joint_pca([x_a[:, pairs[0]], x_b[:, pairs[1]]], n_pcs)
    else:
        warnings.warn(
            f"Modalities {first!r} and {second!r} share no features: the first positive pairs "
            "come from matching the shape of the two data sets, which is weaker than shared "
            "features; check the alignment.",
            UserWarning,
            stacklevel=settings.warnings_stacklevel,
        )
        z_a, z_b = structural_embedding(x_a, x_b, n_pcs)
    return {first: z_a, second: z_b}


def mnn_rows(embeddings: dict, rows: dict, k: int, keep: float = 1.0) -> np.ndarray:
    """MNN pairs of two modalities' embeddings, as a ``2 x n_pairs`` array of data rows.

    Only the share ``keep`` of pairs whose cells share the most neighbours is returned
    (:func:`~scvi_contrastive.tools.anchors.shared_neighbor_scores`).
    """
    (first, z_a), (second, z_b) = embeddings.items()
    idx_a, idx_b = find_mnn_pairs(z_a, z_b, k=k)
    if keep < 1.0 and len(idx_a) > 0:
        scores = shared_neighbor_scores(z_a, z_b, idx_a, idx_b)
        best = scores >= np.quantile(scores, 1.0 - keep)
        idx_a, idx_b = idx_a[best], idx_b[best]
    return np.stack([rows[first][idx_a], rows[second][idx_b]])
