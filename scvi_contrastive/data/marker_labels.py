"""Coarse cell-type labels from marker genes, for data sets shipped without annotation."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from .normalization import log_normalize
from .validation import named_layers

#: Canonical PBMC markers of the four major lineages (all present in the shipped Multiome subset).
PBMC_MARKERS: dict[str, list[str]] = {
    "B cell": ["MS4A1", "CD79A", "BANK1", "TCL1A", "IGHM"],
    "monocyte": ["CD14", "LYZ", "VCAN", "S100A8"],
    "NK cell": ["NKG7", "GNLY"],
    "T cell": ["CD2", "IL7R", "TRAC", "LEF1", "BCL11B"],
}

UNASSIGNED = "unassigned"


def marker_labels(
    rna: ad.AnnData,
    markers: dict[str, list[str]] | None = None,
    layer: str | None = "counts",
    min_score: float = 1.0,
    min_margin: float = 0.5,
) -> pd.Series:
    """Label each cell with the cell type whose markers it expresses most, when clearly so.

    A cell's score for a type is the mean ``log1p(counts / library * 1e4)`` of that type's
    markers. The cell gets the best-scoring type when that score exceeds ``min_score`` and
    beats the runner-up by more than ``min_margin``; otherwise ``"unassigned"``. Meant as an
    independent yardstick for data without annotation (the labels come from a handful of
    genes, not from any model's embedding).

    Parameters
    ----------
    rna
        Cells × genes with raw counts in ``layer``; not modified.
    markers
        Cell type → marker genes; default :data:`PBMC_MARKERS`.
    layer
        Layer with raw counts; ``None`` reads ``.X``.
    min_score
        Least mean log-normalised expression of the winning markers.
    min_margin
        Least lead of the winning type over the second best.

    Returns
    -------
    Labels indexed by ``rna.obs_names``.
    """
    markers = PBMC_MARKERS if markers is None else markers
    missing = sorted({g for genes in markers.values() for g in genes} - set(rna.var_names))
    if missing:
        raise ValueError(
            f"Marker genes {missing} are not in `rna.var_names`; pass `markers` with genes "
            "the data set measures."
        )
    if layer is not None and layer not in rna.layers:
        raise ValueError(f"`layer={layer!r}` is not in `rna.layers` ({named_layers(rna)}).")
    counts = rna.X if layer is None else rna.layers[layer]
    logged = log_normalize(counts)
    scores = np.column_stack(
        [
            np.asarray(logged[:, rna.var_names.get_indexer(genes)].mean(axis=1)).ravel()
            for genes in markers.values()
        ]
    )
    top_two = np.sort(scores, axis=1)[:, -2:]
    clear = (top_two[:, 1] > min_score) & (top_two[:, 1] - top_two[:, 0] > min_margin)
    best = np.asarray(list(markers))[scores.argmax(axis=1)]
    return pd.Series(np.where(clear, best, UNASSIGNED), index=rna.obs_names, name="marker_label")
