"""Log-normalisation of count matrices, as the encoders compute it, for numpy and scipy input."""

from __future__ import annotations

import numpy as np
from scipy import sparse


def log_normalize(counts, target_sum: float = 1e4, dtype=np.float64):
    """``log1p(counts / library * target_sum)``, as the models' encoders compute it.

    Parameters
    ----------
    counts
        Cells × features counts; sparse input stays sparse.
    target_sum
        Library size every cell is normalised to.
    dtype
        Floating dtype of the result.
    """
    library = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
    scale = target_sum / np.maximum(library, 1.0)
    if sparse.issparse(counts):
        normalized = sparse.csr_matrix(
            sparse.diags(scale) @ sparse.csr_matrix(counts), dtype=dtype
        )
        normalized.data = np.log1p(normalized.data)
        return normalized
    return np.log1p(np.asarray(counts, dtype=np.float64) * scale[:, None]).astype(dtype)
