"""Smoothing an embedding along a modality's own nearest-neighbour graph.

A shared embedding of unpaired cells is learned from what the modalities have in common
(for ATAC, gene activity). The modality's own features can hold more: on SNARE-seq cortex,
classifiers trained on the ATAC cells' labels reach 0.68 on the LSI of the 25,734 peaks and
0.63 on the gene activity (README, *Unpaired at realistic size*). Moving each cell towards
its neighbours in that own space carries this structure into the shared embedding.
"""

from __future__ import annotations

import numpy as np

from .anchors import nearest_neighbors


def smooth_along_neighbors(
    embedding: np.ndarray,
    representation: np.ndarray,
    n_neighbors: int = 15,
    weight: float = 0.5,
) -> np.ndarray:
    """Move each cell's embedding towards the mean embedding of its own-space neighbours.

    Each row becomes ``(1 - weight) * z + weight * mean(z over its n_neighbors nearest rows
    of representation)``, the rows then rescaled about their mean to the total variance they
    had. Averaging shrinks the spread, and a modality smoothed alone would otherwise contract
    into a cloud of its own (on SNARE, omics mixing fell from 0.78 to 0.27 without the
    rescaling).

    Parameters
    ----------
    embedding
        ``(n_cells, d)`` embedding of the cells of one modality, e.g. the ATAC rows of
        :meth:`~scvi_contrastive.model.BICLUM.get_latent_representation`.
    representation
        ``(n_cells, k)`` the same cells, in the same order, in the modality's own space, e.g.
        the peaks' LSI (``mu.atac.tl.lsi``; leave out its first component, which follows
        sequencing depth). Neighbours are found by cosine similarity.
    n_neighbors
        Neighbours each cell is averaged over (itself not counted).
    weight
        Share of the neighbours' mean in the result: 0 leaves the embedding as it is.

    Returns
    -------
    The smoothed ``(n_cells, d)`` embedding (a new array).
    """
    embedding = np.asarray(embedding, dtype=np.float64)
    representation = np.asarray(representation, dtype=np.float64)
    _check(embedding, representation, n_neighbors, weight)
    neighbours = nearest_neighbors(representation, representation, n_neighbors + 1)[:, 1:]
    smoothed = (1.0 - weight) * embedding + weight * embedding[neighbours].mean(axis=1)
    centre, smoothed_centre = embedding.mean(axis=0), smoothed.mean(axis=0)
    spread = np.sum((embedding - centre) ** 2)
    smoothed_spread = np.sum((smoothed - smoothed_centre) ** 2)
    scale = np.sqrt(spread / smoothed_spread) if smoothed_spread > 0 else 1.0
    return centre + scale * (smoothed - smoothed_centre)


def _check(
    embedding: np.ndarray, representation: np.ndarray, n_neighbors: int, weight: float
) -> None:
    if embedding.ndim != 2 or representation.ndim != 2:
        raise ValueError("`embedding` and `representation` must be 2-d (cells x dimensions).")
    if embedding.shape[0] != representation.shape[0]:
        raise ValueError(
            f"`embedding` has {embedding.shape[0]} cells and `representation` "
            f"{representation.shape[0]}: pass the same cells, in the same order."
        )
    if not (np.isfinite(embedding).all() and np.isfinite(representation).all()):
        raise ValueError(
            "`embedding` and `representation` must be finite: keep only the rows of the cells "
            "the modality holds (its other rows are NaN in a joint embedding)."
        )
    if not 0 < n_neighbors < embedding.shape[0]:
        raise ValueError(
            f"`n_neighbors` must be in [1, {embedding.shape[0] - 1}], got {n_neighbors}."
        )
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"`weight` must be in [0, 1], got {weight}.")
