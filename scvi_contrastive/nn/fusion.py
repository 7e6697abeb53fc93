"""Cross-modality feature fusion: one joint embedding from per-modality embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

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


class WeightedConcatFusion(nn.Module):
    """Join the modality embeddings side by side, each scaled by a modality weight.

    Block ``m`` of the joint embedding is ``sqrt(w_m) · z_m / s_m``: ``s_m`` gives every
    block the same root-mean-square size and ``w_m`` (summing to one) the share of the squared
    distances between cells that modality ``m`` contributes. The weights start uniform and are
    set during training by :func:`cluster_fit_weights`, so a modality that carries the cells'
    cluster structure (a clean antibody panel) counts more than one that mostly carries noise
    (a few hundred sparse peaks). Keeping each embedding whole, rather than mixing them,
    keeps what only one modality measures. A cell not measured in a modality gets zeros in
    that block.

    Parameters
    ----------
    n_latent
        Dimension of each modality embedding, or one dimension per modality (blocks may
        differ in width: the weights act on squared distances, not on dimensions).
    n_modalities
        Number of modalities fused; the joint embedding has the sum of their dimensions.
    """

    def __init__(self, n_latent: int | Sequence[int], n_modalities: int):
        super().__init__()
        widths = [n_latent] * n_modalities if isinstance(n_latent, Integral) else list(n_latent)
        if len(widths) != n_modalities:
            raise ValueError(
                f"`n_latent` must give one width per modality ({n_modalities}), got {widths}."
            )
        #: Width of each modality's block, in order.
        self.widths = widths
        self.n_output = sum(widths)
        self.register_buffer("weights", torch.full((n_modalities,), 1.0 / n_modalities))
        self.register_buffer("scales", torch.ones(n_modalities))

    @torch.no_grad()
    def set_weights(self, weights: torch.Tensor, scales: torch.Tensor) -> None:
        """Fix the modality weights (normalised to sum to one) and block scales."""
        weights = torch.as_tensor(weights, dtype=self.weights.dtype).clamp_min(0.0)
        self.weights.copy_(weights / weights.sum().clamp_min(1e-12))
        self.scales.copy_(torch.as_tensor(scales, dtype=self.scales.dtype).clamp_min(1e-6))

    def forward(
        self, embeddings: list[torch.Tensor], observed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Joint embedding and, per cell, the weights of the modalities it was measured in."""
        factors = (self.weights.sqrt() / self.scales).to(embeddings[0])
        blocks = [z * factors[i] * (observed[:, [i]] > 0) for i, z in enumerate(embeddings)]
        cell_weights = self.weights * (observed > 0)
        cell_weights = cell_weights / cell_weights.sum(dim=1, keepdim=True).clamp_min(1e-12)
        return torch.cat(blocks, dim=1), cell_weights


def cluster_fit_weights(
    embeddings: list[torch.Tensor], clusters: torch.Tensor, power: float = 2.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Modality weights from how well each embedding fits a shared clustering.

    The auto-weighting of multi-view clustering: each view's weight grows with the fraction
    of its variance that lies between the clusters of the consensus partition,
    ``w_m ∝ (1 - within_m / total_m) ** power``. A view whose cells sit tightly in the shared
    clusters gets a large weight; a view that is mostly noise around them, a small one.

    Parameters
    ----------
    embeddings
        One ``(n_cells, d)`` tensor per modality, rows the same cells.
    clusters
        ``(n_cells,)`` integer clusters of the joint embedding.
    power
        Sharpness of the weighting (0 gives equal weights).

    Returns
    -------
    The weights (summing to one) and each embedding's root-mean-square distance to its mean.
    """
    clusters = clusters.long()
    n_clusters = int(clusters.max()) + 1
    fits, scales = [], []
    for z in embeddings:
        z = z.double()
        total = (z - z.mean(dim=0)).pow(2).sum()
        counts = torch.bincount(clusters, minlength=n_clusters).clamp_min(1).to(z)
        means = torch.zeros(n_clusters, z.shape[1], dtype=z.dtype).index_add_(0, clusters, z)
        means = means / counts[:, None]
        within = (z - means[clusters]).pow(2).sum()
        fits.append((1.0 - within / total.clamp_min(1e-12)).clamp_min(0.0))
        scales.append((total / z.shape[0]).sqrt())
    weights = torch.stack(fits).pow(power)
    if weights.sum() <= 0:
        weights = torch.ones_like(weights)
    return (weights / weights.sum()).float(), torch.stack(scales).float()
