"""Log-normalisation of count matrices, as the encoders compute it, for numpy and scipy input."""

from __future__ import annotations

import numpy as np
from scipy import sparse


def log_normalize(
    counts, target_sum: float = 1e4, dtype=np.float64, feature_weight: np.ndarray | None = None
):
    """``log1p(counts / library * target_sum)``, as the models' encoders compute it.

    Parameters
    ----------
    counts
        Cells × features counts; sparse input stays sparse.
    target_sum
        Library size every cell is normalised to.
    dtype
        Floating dtype of the result.
    feature_weight
        Optional factor per feature applied after the library scaling (the IDF of TF-IDF);
        the library stays that of the unweighted counts.
    """
    library = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
    scale = target_sum / np.maximum(library, 1.0)
    if sparse.issparse(counts):
        scaled = sparse.diags(scale) @ sparse.csr_matrix(counts)
        if feature_weight is not None:
            scaled = scaled @ sparse.diags(feature_weight)
        normalized = sparse.csr_matrix(scaled, dtype=dtype)
        normalized.data = np.log1p(normalized.data)
        return normalized
    scaled = np.asarray(counts, dtype=np.float64) * scale[:, None]
    if feature_weight is not None:
        scaled = scaled * feature_weight
    return np.log1p(scaled).astype(dtype)
