"""Gene (feature) embeddings computed from a fixed-size sketch of the cells.

BiCLUM embeds each gene by passing its vector over *all* cells of a modality through an MLP, so
the encoder's input width, its weights and its memory grow with the number of cells. Here a gene
is described by its standardised mean expression in ``n_metacells`` metacells (k-means clusters
of the cells), a sketch whose size is fixed before training, independent of the cell count.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse
from sklearn.cluster import MiniBatchKMeans
from torch import nn

from .encoders import MLP


def metacell_sketch(
    normalized,
    embedding: np.ndarray,
    n_metacells: int,
    feature_mean: np.ndarray,
    feature_std: np.ndarray,
    random_state: int = 0,
) -> np.ndarray:
    """Standardised mean expression of every feature in ``n_metacells`` clusters of cells.

    Parameters
    ----------
    normalized
        ``(n_cells, n_features)`` log-normalised expression (dense or sparse).
    embedding
        ``(n_cells, d)`` low-dimensional representation the cells are clustered on.
    n_metacells
        Number of clusters; must not exceed ``n_cells``.
    feature_mean, feature_std
        Per-feature statistics the cluster means are standardised with (those the cell encoder
        uses, so genes and cells see the data on the same scale).
    random_state
        Seed of the mini-batch k-means.

    Returns
    -------
    ``(n_metacells, n_features)`` float32 array, metacells ordered by size (largest first).
    """
    n_cells = normalized.shape[0]
    if not 0 < n_metacells <= n_cells:
        raise ValueError(f"`n_metacells` must be in [1, {n_cells}], got {n_metacells}.")
    kmeans = MiniBatchKMeans(
        n_clusters=n_metacells, random_state=random_state, n_init=3, batch_size=4096
    )
    assignment = kmeans.fit_predict(embedding)
    sizes = np.bincount(assignment, minlength=n_metacells)
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(n_metacells)
    membership = sparse.csr_matrix(
        (np.ones(n_cells), (rank[assignment], np.arange(n_cells))), shape=(n_metacells, n_cells)
    )
    sums = np.asarray(
        (membership @ normalized).todense()
        if sparse.issparse(normalized)
        else membership @ normalized
    )
    means = sums / np.maximum(sizes[order], 1)[:, None]
    return ((means - feature_mean) / np.maximum(feature_std, 1e-3)).astype(np.float32)


class FeatureEncoder(MLP):
    """Embed every feature of one modality from its profile over a fixed set of metacells.

    Parameters
    ----------
    sketch
        ``(n_metacells, n_features)`` metacell profiles (see :func:`metacell_sketch`); stored as
        a buffer, so it is saved with the model and moves with it between devices.
    n_output
        Dimension of the feature embedding (the cell latent dimension).
    n_hidden
        Width of the hidden layers.
    n_layers
        Number of hidden layers.
    dropout_rate
        Dropout in the hidden layers.
    activation_fn
        Activation of the hidden layers.
    """

    def __init__(
        self,
        sketch: np.ndarray | torch.Tensor,
        n_output: int,
        n_hidden: int = 256,
        n_layers: int = 2,
        dropout_rate: float = 0.1,
        activation_fn: type[nn.Module] = nn.ReLU,
    ):
        sketch = torch.as_tensor(sketch, dtype=torch.float32)
        super().__init__(
            sketch.shape[0],
            n_output,
            n_hidden,
            n_layers,
            dropout_rate,
            activation_fn=activation_fn,
        )
        self.register_buffer("sketch", sketch)

    @property
    def n_features(self) -> int:
        """Number of features embedded."""
        return self.sketch.shape[1]

    def forward(self) -> torch.Tensor:
        """``(n_features, n_output)`` embedding of every feature."""
        return super().forward(self.sketch.T)
