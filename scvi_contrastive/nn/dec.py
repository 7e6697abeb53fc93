"""Deep embedded clustering (DEC): the soft-assignment head and its loss."""

from __future__ import annotations

import torch
from torch import nn


class DECHead(nn.Module):
    """Student-t soft assignment of embeddings to learnable cluster centres (DEC).

    The head holds room for ``max_clusters`` centres so that its parameters exist before
    training starts (optimisers, distributed training and saved models see one fixed shape);
    :meth:`set_centers` activates the first ``k`` of them once the number of clusters is known.

    Parameters
    ----------
    n_latent
        Dimension of the embeddings.
    max_clusters
        Largest number of clusters the head can hold.
    alpha
        Degrees of freedom of the Student-t kernel.
    """

    def __init__(self, n_latent: int, max_clusters: int = 50, alpha: float = 1.0):
        super().__init__()
        self.alpha = alpha
        self.centers = nn.Parameter(torch.zeros(max_clusters, n_latent))
        self.register_buffer("n_active", torch.tensor(0, dtype=torch.long))

    @property
    def initialized(self) -> bool:
        """Whether cluster centres were set."""
        return int(self.n_active) > 0

    @torch.no_grad()
    def set_centers(self, centers: torch.Tensor) -> None:
        """Activate ``centers`` (``k × n_latent``) as the first ``k`` cluster centres."""
        k = centers.shape[0]
        if k > self.centers.shape[0]:
            raise ValueError(
                f"{k} clusters found but the model holds at most {self.centers.shape[0]}; "
                "create the model with a larger `max_clusters` or set `n_clusters`."
            )
        self.centers[:k] = centers.to(self.centers)
        self.n_active.fill_(k)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Soft assignment ``q`` (``n_cells × k``) of ``z`` to the active centres."""
        centers = self.centers[: int(self.n_active)]
        squared = torch.cdist(z, centers).pow(2)
        kernel = (1.0 + squared / self.alpha).pow(-(self.alpha + 1.0) / 2.0)
        return kernel / kernel.sum(dim=1, keepdim=True)


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """DEC's sharpened target ``p_ij ∝ q_ij² / f_j`` with ``f_j = Σ_i q_ij``, rows summing to 1."""
    weight = q.pow(2) / q.sum(dim=0, keepdim=True).clamp_min(1e-12)
    return weight / weight.sum(dim=1, keepdim=True)


def clustering_loss(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Per-cell ``KL(p ‖ q)`` between target and soft assignments (``n_cells`` values)."""
    p = p.clamp_min(1e-12)
    return (p * (p.log() - q.clamp_min(1e-12).log())).sum(dim=1)
