"""Contrastive losses between two views of the same cells (or the same features).

Pure functions of tensors: every module of this package calls them, and they are tested on
their own (known values, gradients, extreme inputs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_EPS = torch.finfo(torch.float32).eps


def mutual_information_loss(
    p_a: torch.Tensor, p_b: torch.Tensor, lamb: float = 0.5
) -> torch.Tensor:
    """Negative mutual information between two soft assignments, with an entropy bonus.

    The cross-view objective of scMDCF (after IIC and COMPLETER): the joint distribution of the
    two views' assignments over a minibatch is symmetrised and normalised, and

    ``loss = - sum_ij P_ij [log P_ij - (lamb + 1) log P_i - (lamb + 1) log P_j]``.

    Maximising mutual information makes the views agree; ``lamb`` rewards high marginal entropy,
    which keeps the assignment from collapsing onto one component.

    Parameters
    ----------
    p_a, p_b
        ``(n_cells, k)`` rows of probabilities (e.g. a softmax) for the two views of each cell.
    lamb
        Weight of the entropy term (scMDCF: 0.5 for protein, 10 for ATAC).

    Returns
    -------
    Scalar loss. Its minimum, ``-(1 + 2 lamb) log k`` less the joint entropy, is reached when
    the views agree exactly and use all ``k`` components equally.
    """
    _check_pair(p_a, p_b)
    k = p_a.shape[1]
    joint = p_a.T @ p_b
    joint = (joint + joint.T) / 2
    joint = joint / joint.sum().clamp_min(_EPS)
    p_i = joint.sum(dim=1, keepdim=True).expand(k, k)
    p_j = joint.sum(dim=0, keepdim=True).expand(k, k)
    joint = joint.clamp_min(_EPS)
    log_terms = joint.log() - (lamb + 1) * p_i.clamp_min(_EPS).log()
    log_terms = log_terms - (lamb + 1) * p_j.clamp_min(_EPS).log()
    return -(joint * log_terms).sum()


def info_nce_loss(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    temperature: float = 0.1,
    groups: torch.Tensor | None = None,
) -> torch.Tensor:
    """NT-Xent (SimCLR's InfoNCE) loss between paired embeddings.

    Row ``i`` of ``z_a`` and row ``i`` of ``z_b`` are a positive pair; every other row of
    either view is a negative. Similarities are cosine similarities divided by
    ``temperature``.

    Parameters
    ----------
    z_a, z_b
        ``(n, d)`` embeddings of the two views.
    temperature
        Softmax temperature; lower values sharpen the contrast.
    groups
        Optional ``(n,)`` group (e.g. batch) of each pair: negatives are then drawn only from
        the anchor's own group, so what the groups differ in (a batch effect both views of a
        cell share) does not help to tell the partner from the negatives and is not learned.

    Returns
    -------
    Scalar loss, the mean cross-entropy over the ``2 n`` anchors.
    """
    _check_pair(z_a, z_b)
    if temperature <= 0:
        raise ValueError(f"`temperature` must be positive, got {temperature}.")
    n = z_a.shape[0]
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)
    similarity = (z @ z.T) / temperature
    excluded = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    if groups is not None:
        groups = torch.cat([groups.reshape(-1), groups.reshape(-1)])
        excluded = excluded | (groups[:, None] != groups[None, :])
    similarity = similarity.masked_fill(excluded, float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(similarity, targets)


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(
            f"Both views must be 2-D tensors of the same shape, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}."
        )


def scale_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` unchanged in the forward pass, its gradient multiplied by ``scale``."""
    if scale == 1.0:
        return x
    return x * scale + x.detach() * (1.0 - scale)
