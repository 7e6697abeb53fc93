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
from ..data.unpaired_backed import read_cells
from ..tools.anchors import find_anchor_pairs
from ..tools.chunks import RowReader, row_chunks
from ..tools.joint_pca import JointPCA, fit_joint_pca
from ..tools.optimal_transport import structural_embedding

#: Library size the cells are normalised to, as BICLUM's encoders do.
TARGET_SUM = 1e4
#: Most cells per modality the joint PCA is fitted on and the anchors are searched among
#: (BICLUM's ``sketch_cells``): a random sketch of a larger modality stands in for it.
SKETCH_CELLS = 20_000
#: Root-mean-square norm of the joint PCA coordinates the cell encoders start from
#: (:func:`start_weights`).
START_NORM = 12.0


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


def log_normalized_columns(
    counts, columns: np.ndarray, rows: np.ndarray | None = None
) -> sparse.csr_matrix | np.ndarray:
    """Log-normalised ``columns`` of ``counts``; the library sums only those, as the encoder's.

    Parameters
    ----------
    counts
        Cells x features counts, dense or sparse.
    columns
        Features kept, in order.
    rows
        Cells kept, in order (``None``: all).

    Returns
    -------
    ``(len(rows), len(columns))`` float32 matrix, CSR for sparse counts. Cells are normalised
    a chunk at a time (:func:`~scvi_contrastive.tools.chunks.row_chunks`); every step is per
    cell, so the result is that of one pass over all of them.
    """
    rows = np.arange(counts.shape[0]) if rows is None else np.asarray(rows)
    if sparse.issparse(counts):
        counts = sparse.csr_matrix(counts)
    chunks = [_log_normalize(counts[rows[chunk]], columns) for chunk in row_chunks(len(rows))]
    if len(chunks) == 1:
        return chunks[0]
    return sparse.vstack(chunks, format="csr") if sparse.issparse(counts) else np.vstack(chunks)


class NormalizedRows(RowReader):
    """Log-normalised ``columns`` of a modality's counts, read from them a chunk at a time.

    The counts a backed modality keeps in its file stand in for
    :func:`log_normalized_columns`'s result without it ever being held whole: the tools read
    it :data:`~scvi_contrastive.tools.chunks.CHUNK_ROWS` rows at a time
    (:class:`~scvi_contrastive.tools.chunks.RowReader`), each chunk normalised as
    :func:`log_normalized_columns` normalises the same cells, so the results are those of the
    counts in memory.

    Parameters
    ----------
    counts
        Cells × features counts in the modality's own rows: backed, sparse or dense.
    positions
        Row of ``counts`` of each cell, in order
        (:func:`~scvi_contrastive.data.unpaired_backed.cell_positions`).
    columns
        Features the library is summed over and the cells are normalised on.
    kept
        Positions among ``columns`` of the features read (``None``: all).
    """

    def __init__(
        self,
        counts,
        positions: np.ndarray,
        columns: np.ndarray,
        kept: np.ndarray | None = None,
    ):
        self.counts = counts
        self.positions = np.asarray(positions, dtype=np.int64)
        self.columns = np.asarray(columns)
        self.kept = kept

    @property
    def shape(self) -> tuple[int, int]:
        """``(cells, features read)``."""
        return len(self.positions), len(self.columns if self.kept is None else self.kept)

    def read(self, rows: slice | np.ndarray) -> sparse.csr_matrix:
        """The log-normalised rows ``rows``, float32 CSR."""
        counts = read_cells(self.counts, self.positions[rows]).astype(np.float32)
        normalized = _log_normalize(counts, self.columns)
        return normalized if self.kept is None else _select_columns(normalized, self.kept)

    def select(self, rows: np.ndarray | None, columns: np.ndarray | None) -> NormalizedRows:
        """The reader of ``rows`` and ``columns`` of this one."""
        kept = self.kept
        if columns is not None:
            kept = np.asarray(columns) if kept is None else kept[columns]
        positions = self.positions if rows is None else self.positions[rows]
        return NormalizedRows(self.counts, positions, self.columns, kept)


def initial_embeddings(
    normalized: dict,
    pairs: tuple[np.ndarray, np.ndarray],
    n_pcs: int,
    sketch_cells: int | None = None,
    random_state: int = 0,
) -> tuple[dict[str, np.ndarray], JointPCA | None]:
    """Shared representation the first MNN pairs (and the metacell sketches) are computed in.

    Parameters
    ----------
    normalized
        Per modality (RNA first), the log-normalised cells x features matrix.
    pairs
        Columns of the two matrices holding the same features (:func:`shared_feature_pairs`).
    n_pcs
        Components of the joint PCA.
    sketch_cells
        Most cells per modality the joint PCA is fitted on (``None``: all); every cell is
        embedded.
    random_state
        Seed of the sketches.

    Returns
    -------
    Per modality, ``(n_cells, n_pcs)`` coordinates of its cells; and the joint PCA of the
    shared features they come from (``None`` without shared features).
    """
    (first, x_a), (second, x_b) = normalized.items()
    if len(pairs[0]) > 0:
        shared = [_select_columns(x_a, pairs[0]), _select_columns(x_b, pairs[1])]
        pca = fit_joint_pca(shared, n_pcs, max_fit_cells=sketch_cells, random_state=random_state)
        z_a, z_b = pca.transform(shared)
        return {first: z_a, second: z_b}, pca
    warnings.warn(
        f"Modalities {first!r} and {second!r} share no features: the first positive pairs "
        "come from matching the shape of the two data sets, which is weaker than shared "
        "features; check the alignment.",
        UserWarning,
        stacklevel=settings.warnings_stacklevel,
    )
    z_a, z_b = structural_embedding(x_a, x_b, n_pcs)
    return {first: z_a, second: z_b}, None


def start_weights(
    pca: JointPCA,
    pairs: tuple[np.ndarray, np.ndarray],
    names: Sequence[str],
    n_latent: int,
    norm: float = START_NORM,
) -> dict[str, np.ndarray]:
    """Linear maps that give each modality's cells their joint PCA coordinates.

    For modalities whose features are all shared: row ``k`` of a modality's map is the
    ``k``-th joint axis, in the modality's feature order, so applied to the standardised
    features it gives the cells' joint PCA coordinates, scaled so that their root-mean-square
    norm is ``norm``. Latent dimensions beyond the joint PCA's components start at zero; with
    fewer, the leading components are kept.

    Parameters
    ----------
    pca
        The joint PCA of the shared features (:func:`initial_embeddings`).
    pairs
        Positions of the shared features among each modality's features (all of them).
    names
        The two modality names, RNA first.
    n_latent
        Dimension of the cell embedding.
    norm
        Root-mean-square norm of the scaled coordinates.

    Returns
    -------
    Per modality, its ``(n_latent, n_features)`` map, float32.
    """
    k = min(n_latent, pca.axes.shape[1])
    # The embedding is normalised to unit length, so the scale sets only how far the encoders'
    # trained correction must grow before it turns the cells away from their joint PCA.
    scale = norm / np.sqrt(max(float(pca.variances[:k].sum()), np.finfo(np.float64).tiny))
    weights = {}
    for name, columns in zip(names, pairs, strict=True):
        weight = np.zeros((n_latent, len(columns)), dtype=np.float32)
        weight[:k, columns] = scale * pca.axes[:, :k].T
        weights[name] = weight
    return weights


def mnn_rows(
    embeddings: dict,
    rows: dict,
    k: int,
    keep: float = 1.0,
    sketch_cells: int | None = None,
    random_state: int = 0,
) -> np.ndarray:
    """MNN pairs of two modalities' embeddings, as a ``2 x n_pairs`` array of data rows.

    Parameters
    ----------
    embeddings
        Per modality (RNA first), ``(n_cells, d)`` coordinates in one space.
    rows
        Per modality, the data row of each embedded cell.
    k
        Neighbourhood size of the search.
    keep
        Share of the pairs returned, those whose cells share the most neighbours
        (:func:`~scvi_contrastive.tools.anchors.shared_neighbor_scores`).
    sketch_cells
        Most cells per modality searched, a random sketch of a larger one (``None``: all;
        :func:`~scvi_contrastive.tools.anchors.find_anchor_pairs`).
    random_state
        Seed of the sketches.

    Returns
    -------
    ``(2, n_pairs)`` data rows: the first modality's cell, then the second's.
    """
    (first, z_a), (second, z_b) = embeddings.items()
    idx_a, idx_b = find_anchor_pairs(
        z_a, z_b, k=k, keep=keep, max_cells=sketch_cells, random_state=random_state
    )
    return np.stack([rows[first][idx_a], rows[second][idx_b]])


def _log_normalize(counts, columns: np.ndarray):
    """Log-normalised ``columns`` of some cells' counts, as float32."""
    return log_normalize(_select_columns(counts, columns), TARGET_SUM, dtype=np.float32)


def _select_columns(matrix, columns: np.ndarray):
    """``matrix[:, columns]``; ``matrix`` itself (no copy) when ``columns`` are all, in order."""
    if np.array_equal(columns, np.arange(matrix.shape[1])):
        return matrix
    return matrix[:, columns]
