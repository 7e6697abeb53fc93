"""Cross-modality feature fusion: one joint embedding from per-modality embeddings."""

from __future__ import annotations

import torch
from torch import nn


class AttentionFusion(nn.Module):
    """Weigh each cell's modality embeddings by learned attention, then mix them linearly.

    Every cell gets its own weights, a softmax over the modalities it was measured in, from a
    small scoring network shared by all modalities plus a learned per-modality bias. The
    weighted embeddings are concatenated and mixed by a linear layer into the joint
    embedding. Concatenating rather than averaging keeps what only one modality measures
    (protein markers RNA barely sees, and the reverse), which the contrastive alignment of
    the shared part would otherwise wash out. Weights are rescaled by the number of measured
    modalities, so a cell lacking a modality keeps the scale of the others and is embedded
    from what it has. The weights are returned so users can see which modality drives each
    cell.

    Parameters
    ----------
    n_latent
        Dimension of the modality embeddings (and of the joint embedding).
    n_modalities
        Number of modalities fused.
    n_hidden
        Width of the scoring network.
    """

    def __init__(self, n_latent: int, n_modalities: int, n_hidden: int = 64):
        super().__init__()
        self.score = nn.Sequential(
            nn.Linear(n_latent, n_hidden), nn.Tanh(), nn.Linear(n_hidden, 1, bias=False)
        )
        self.modality_bias = nn.Parameter(torch.zeros(n_modalities))
        self.mix = nn.Linear(n_modalities * n_latent, n_latent)

    def forward(
        self, embeddings: list[torch.Tensor], observed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fuse the modality embeddings.

        Parameters
        ----------
        embeddings
            One ``(n_cells, n_latent)`` tensor per modality.
        observed
            ``(n_cells, n_modalities)`` 1 where the cell was measured in the modality, else 0.
            Every cell must be measured in at least one modality.

        Returns
        -------
        The ``(n_cells, n_latent)`` joint embedding and the ``(n_cells, n_modalities)`` weights.
        """
        stacked = torch.stack(embeddings, dim=1)
        scores = self.score(stacked).squeeze(-1) + self.modality_bias
        scores = scores.masked_fill(observed <= 0, float("-inf"))
        weights = torch.softmax(scores, dim=1)
        scale = weights * observed.sum(dim=1, keepdim=True)
        return self.mix((scale.unsqueeze(-1) * stacked).flatten(start_dim=1)), weights
