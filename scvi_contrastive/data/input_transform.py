"""Fit the encoders' fixed input transforms (normalisation and PCA / LSI) on training cells."""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import sparse
from sklearn.utils.extmath import randomized_svd

from ..nn.input_transform import PEARSON_THETA, n_transform_components
from ..tools.sketch import sketch_rows
from .backed import read_rows
from .normalization import log_normalize

#: Cells the statistics and the projection are fitted on at most (a random subset beyond),
#: so that setup time and memory stay bounded whatever the number of cells.
MAX_FIT_CELLS = 20_000
#: Largest dense cells × features block fitted (fewer cells when there are many features).
MAX_DENSE_VALUES = 100_000_000


def _idf(counts: sparse.csr_matrix) -> np.ndarray:
    detected = np.asarray((counts > 0).sum(axis=0), dtype=np.float64).ravel()
    return np.log1p(counts.shape[0] / (1.0 + detected))


def _gene_shares(counts: sparse.csr_matrix) -> np.ndarray:
    totals = np.asarray(counts.sum(axis=0), dtype=np.float64).ravel()
    return totals / max(totals.sum(), 1.0)


def _feature_weight(counts: sparse.csr_matrix, kind: str) -> np.ndarray:
    """The transform's ``feature_weight``: IDF, genes' shares of the counts, or ones."""
    if kind == "tfidf":
        return _idf(counts)
    if kind == "pearson_residuals":
        return _gene_shares(counts)
    return np.ones(counts.shape[1])


def normalized_features(
    counts: sparse.csr_matrix, kind: str, feature_weight: np.ndarray, target_sum: float
):
    """The transform's normalisation before standardisation (cells × features).

    Dense, except for ``"tfidf"``, whose zeros stay zeros and which stays sparse.
    ``feature_weight`` is the IDF for ``"tfidf"`` and the genes' shares of the counts for
    ``"pearson_residuals"``.
    """
    if kind == "pearson_residuals":
        # In place where possible: the dense block can be 10^8 values.
        residuals = counts.toarray().astype(np.float64, copy=False)
        expected = residuals.sum(axis=1, keepdims=True) * feature_weight
        residuals -= expected
        expected += expected**2 / PEARSON_THETA
        np.sqrt(np.maximum(expected, 1e-12, out=expected), out=expected)
        residuals /= expected
        return residuals
    if kind == "clr":
        logged = np.log1p(counts.toarray())
        return logged - logged.mean(axis=1, keepdims=True)
    logged = log_normalize(counts, target_sum, feature_weight=feature_weight)
    return logged if kind == "tfidf" else logged.toarray()


def fit_input_transform(
    matrix,
    rows: np.ndarray | None = None,
    kind: Literal["log_normalize", "pearson_residuals", "clr", "tfidf"] = "log_normalize",
    n_components: int | None = 50,
    target_sum: float = 1e4,
    seed: int = 0,
    batches: np.ndarray | None = None,
    n_batch: int = 1,
) -> dict[str, np.ndarray]:
    """Statistics of :class:`~scvi_contrastive.nn.InputTransform` from training cells.

    Parameters
    ----------
    matrix
        Cells × features raw counts (dense, sparse or backed; a backed matrix is read
        :data:`~scvi_contrastive.data.backed.CHUNK_ROWS` of the fitted rows at a time).
    rows
        Cells to fit on (all when ``None``); at most :data:`MAX_FIT_CELLS` of them, drawn at
        random, are used.
    kind
        ``"log_normalize"`` (RNA: PCA of standardised log-normalised counts),
        ``"pearson_residuals"`` (RNA: PCA of centred, unstandardised analytic Pearson
        residuals; see :class:`~scvi_contrastive.nn.InputTransform`), ``"clr"``
        (protein: standardised CLR values, PCA only when there are more features than
        ``n_components``) or ``"tfidf"`` (ATAC: latent semantic indexing, the SVD of the
        uncentred TF-IDF matrix without its first component, which follows sequencing depth).
    n_components
        Components kept; ``None`` or at least the number of features keeps every feature
        (standardisation only, no projection; not for ``"tfidf"``).
    target_sum
        Library size every cell is scaled to before the logarithm.
    seed
        Random state of the cell subset and the randomized SVD.
    batches
        Integer batch of every cell of ``matrix`` (``0 … n_batch - 1``); ``None``: one batch.
        Except for ``"tfidf"``, each batch is centred on its own feature means before the
        standard deviations and the projection are fitted.
    n_batch
        Number of batches.

    Returns
    -------
    ``feature_weight``, ``feature_mean``, ``feature_std`` (per feature), ``batch_shift``
    (features × batches: each batch's feature means minus ``feature_mean``), ``loadings``
    (features × components) and ``scale`` (one number that gives the components an average
    variance of one, keeping their relative sizes).
    """
    rows = np.arange(matrix.shape[0]) if rows is None else np.asarray(rows)
    if rows.size == 0:
        raise ValueError("No cells to fit the input transform on.")
    n_features = matrix.shape[1]
    max_cells = MAX_FIT_CELLS
    if kind != "tfidf":
        max_cells = min(max_cells, max(2_000, MAX_DENSE_VALUES // n_features))
    rows = sketch_rows(rows, max_cells, seed)
    counts = read_rows(matrix, rows)
    weight = _feature_weight(counts, kind)
    normalized = normalized_features(counts, kind, weight, target_sum)
    del counts
    shift = np.zeros((n_features, max(n_batch, 1)))
    if kind == "tfidf":
        # TF-IDF values are non-negative and bounded; LSI works on them unstandardised.
        mean, std = np.zeros(n_features), np.ones(n_features)
        standardized = normalized
    else:
        mean = normalized.mean(axis=0)
        row_batches = np.zeros(rows.size, dtype=int)
        if batches is not None:
            row_batches = np.asarray(batches)[rows].astype(int)
        batch_rows = {b: np.flatnonzero(row_batches == b) for b in np.unique(row_batches)}
        for b, members in batch_rows.items():
            block = normalized if members.size == rows.size else normalized[members]
            shift[:, b] = block.mean(axis=0) - mean
            del block
        # The dense block is centred, scaled and clipped in place: one copy, not five.
        standardized = normalized
        standardized -= mean
        for b, members in batch_rows.items():
            if members.size == rows.size:
                standardized -= shift[:, b]
            else:
                standardized[members] -= shift[:, b]
        if kind == "pearson_residuals":
            # Residuals are already on a common scale: a gene weighs by its overdispersion.
            std = np.ones(n_features)
        else:
            std = np.maximum(standardized.std(axis=0), 1e-3)
            np.divide(standardized, std, out=standardized)
        np.clip(standardized, -10.0, 10.0, out=standardized)
    loadings = _loadings(standardized, kind, n_components, seed)
    scores = np.asarray(standardized @ loadings)
    scale = np.sqrt(max(float(np.mean(scores.var(axis=0))), 1e-12))
    return {
        "feature_weight": weight.astype(np.float32),
        "feature_mean": mean.astype(np.float32),
        "feature_std": std.astype(np.float32),
        "batch_shift": shift.astype(np.float32),
        "loadings": loadings.astype(np.float32),
        "scale": np.float32(scale),
    }


def _loadings(standardized: np.ndarray, kind: str, n_components: int | None, seed: int):
    n_cells, n_features = standardized.shape
    k = n_transform_components(n_features, kind, n_components)
    if k == n_features:
        return np.eye(n_features)
    extra = 1 if kind == "tfidf" else 0
    k_fit = min(k + extra, n_cells - 1, n_features)
    centred = standardized if kind == "tfidf" else standardized - standardized.mean(axis=0)
    _, _, vt = randomized_svd(centred, k_fit, random_state=seed)
    loadings = vt[extra:].T
    if loadings.shape[1] < k:
        loadings = np.pad(loadings, ((0, 0), (0, k - loadings.shape[1])))
    return loadings


def batch_feature_means(
    matrix,
    rows: np.ndarray,
    kind: str,
    target_sum: float = 1e4,
    seed: int = 0,
    feature_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Mean of each normalised feature over ``rows`` (at most :data:`MAX_FIT_CELLS` of them).

    The per-batch centre of :class:`~scvi_contrastive.nn.InputTransform` for a batch the
    transform was not fitted on (a query batch), computed as :func:`fit_input_transform`
    computes the reference batches' centres. ``feature_weight`` is the fitted transform's
    (the reference genes' shares for ``"pearson_residuals"``); ``None``: ones.
    """
    rows = np.asarray(rows)
    if rows.size == 0:
        raise ValueError("No cells to compute the batch's feature means from.")
    rows = sketch_rows(rows, MAX_FIT_CELLS, seed)
    counts = read_rows(matrix, rows)
    if feature_weight is None:
        feature_weight = np.ones(matrix.shape[1])
    normalized = normalized_features(counts, kind, feature_weight, target_sum)
    return normalized.mean(axis=0).astype(np.float32)
