"""Gene (feature) embeddings computed from a fixed-size sketch of the cells.

BiCLUM embeds each gene by passing its vector over *all* cells of a modality through an MLP, so
the encoder's input width, its weights and its memory grow with the number of cells. Here a gene
is described by its standardised mean expression in ``n_metacells`` metacells (k-means clusters
of the cells), a sketch whose size is fixed before training, independent of the cell count.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .encoders import MLP


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
