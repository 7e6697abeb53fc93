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


def neighborhood_loss(
    z: torch.Tensor,
    space: torch.Tensor,
    temperature: float = 0.5,
    space_temperature: float = 0.1,
) -> torch.Tensor:
    """Cross-entropy from each cell's neighbours in ``space`` to its neighbours in ``z``.

    Within a minibatch, row ``i`` of ``P = softmax_j(cos(space_i, space_j) / space_temperature)``
    says which other cells are ``i``'s neighbours in its own features (e.g. the peaks' LSI), and
    ``Q = softmax_j(cos(z_i, z_j) / temperature)`` which are its neighbours in the embedding
    (``j != i`` in both); the loss is ``-sum_j P_ij log Q_ij`` averaged over the cells, as in
    SNE. It pulls together in ``z`` the cells that ``space`` puts together, without asking ``z``
    to encode all of ``space``.

    Parameters
    ----------
    z
        ``(n, d)`` embeddings of one modality's cells.
    space
        ``(n, k)`` the same cells in their own representation.
    temperature
        Softmax temperature of the similarities in ``z``.
    space_temperature
        Softmax temperature of the similarities in ``space``; lower values keep fewer
        neighbours.

    Returns
    -------
    Scalar loss; zero for fewer than two cells (no neighbours to keep).
    """
    if z.ndim != 2 or space.ndim != 2 or z.shape[0] != space.shape[0]:
        raise ValueError(
            f"`z` and `space` must be 2-D with one row per cell, got {tuple(z.shape)} and "
            f"{tuple(space.shape)}."
        )
    if temperature <= 0 or space_temperature <= 0:
        raise ValueError(
            f"Temperatures must be positive, got {temperature} and {space_temperature}."
        )
    if z.shape[0] < 2:
        return z.sum() * 0.0
    self_pair = torch.eye(z.shape[0], dtype=torch.bool, device=z.device)
    space = F.normalize(space, dim=1)
    target = ((space @ space.T) / space_temperature).masked_fill(self_pair, float("-inf"))
    z = F.normalize(z, dim=1)
    log_q = ((z @ z.T) / temperature).masked_fill(self_pair, float("-inf")).log_softmax(dim=1)
    # The diagonal holds 0 * -inf; it is dropped before summing.
    terms = (target.softmax(dim=1) * log_q).masked_fill(self_pair, 0.0)
    return -terms.sum(dim=1).mean()


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
