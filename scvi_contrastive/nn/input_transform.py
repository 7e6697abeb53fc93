"""Fixed map from one modality's raw counts to an encoder's input: normalise, then project."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

#: How each kind of count matrix is normalised before the projection.
TRANSFORMS = ("log_normalize", "pearson_residuals", "clr", "tfidf")
#: The transforms of RNA counts.
RNA_TRANSFORMS = ("log_normalize", "pearson_residuals")
#: Overdispersion of the analytic Pearson residuals (Lause et al. 2021; scanpy's default).
PEARSON_THETA = 100.0


def n_transform_components(n_features: int, kind: str, n_components: int | None) -> int:
    """Number of components an :class:`InputTransform` yields for ``n_features`` features."""
    if kind != "tfidf" and (n_components is None or n_components >= n_features):
        return n_features
    if n_components is None:
        raise ValueError("The 'tfidf' transform needs `n_components`.")
    # LSI computes one more component and drops the first; an SVD has at most n - 1 useful.
    return max(1, min(n_components, n_features - 2))


class InputTransform(nn.Module):
    """Normalise raw counts as a standard single-cell pipeline would, then project them.

    ``"log_normalize"`` (RNA): ``log1p(counts / library * 1e4)``, standardised per feature and
    clipped at ±10, as before a PCA in scanpy. ``"pearson_residuals"`` (RNA): the
    analytic Pearson residuals of a negative binomial with overdispersion
    :data:`PEARSON_THETA`, ``(counts - mu) / sqrt(mu + mu**2 / theta)`` with ``mu = library *
    share`` (each gene's share of the training counts, kept in ``feature_weight``), centred
    per feature and clipped at ±10 but not standardised, as scanpy's
    ``normalize_pearson_residuals``: sequencing depth is modelled rather than divided out, and
    each gene weighs by its overdispersion. ``"clr"`` (protein): the centred log-ratio of
    ``log1p(counts)`` per cell, standardised per feature. ``"tfidf"`` (ATAC):
    ``log1p(counts / library * idf * 1e4)``, the TF-IDF behind latent semantic indexing.
    The normalised features are then multiplied by fixed ``loadings`` (a PCA or LSI computed
    from the training cells before training) and scaled by one number, so the encoder sees a
    few dozen denoised components instead of thousands of sparse features. All statistics are
    buffers: fixed during training, saved with the model and applied unchanged to new cells.

    Parameters
    ----------
    n_input
        Number of count features.
    n_output
        Number of components after the projection (``n_input`` when no projection is used).
    kind
        One of :data:`TRANSFORMS`.
    target_sum
        Library size every cell is scaled to before the logarithm.
    n_batch
        Number of batches. For ``"log_normalize"`` and ``"clr"`` each batch is centred on its
        own feature means (``feature_mean + batch_shift[:, batch]``), which removes the
        batches' average shift per feature before the projection, as a per-batch centring
        (ComBat's location step) does; it assumes batches of similar cell-type composition.
    """

    def __init__(
        self,
        n_input: int,
        n_output: int,
        kind: Literal["log_normalize", "pearson_residuals", "clr", "tfidf"] = "log_normalize",
        target_sum: float = 1e4,
        n_batch: int = 1,
    ):
        super().__init__()
        if kind not in TRANSFORMS:
            raise ValueError(f"`kind` must be one of {TRANSFORMS}, got {kind!r}.")
        self.kind = kind
        self.target_sum = target_sum
        self.n_output = n_output
        self.register_buffer("feature_weight", torch.ones(n_input))
        self.register_buffer("feature_mean", torch.zeros(n_input))
        self.register_buffer("feature_std", torch.ones(n_input))
        # Features × batches, so that scvi's query surgery appends new batches as columns.
        self.register_buffer("batch_shift", torch.zeros(n_input, max(n_batch, 1)))
        self.register_buffer("loadings", torch.eye(n_input, n_output))
        self.register_buffer("scale", torch.ones(()))

    def normalize(
        self, counts: torch.Tensor, batch_index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Normalised, standardised (per batch, when ``batch_index`` is given) features."""
        if self.kind == "pearson_residuals":
            expected = counts.sum(dim=1, keepdim=True) * self.feature_weight
            variance = expected + expected**2 / PEARSON_THETA
            values = (counts - expected) / variance.clamp_min(1e-12).sqrt()
        elif self.kind == "clr":
            values = torch.log1p(counts)
            values = values - values.mean(dim=1, keepdim=True)
        else:
            library = counts.sum(dim=1, keepdim=True).clamp_min(1.0)
            values = torch.log1p(counts * self.feature_weight / library * self.target_sum)
        if self.kind == "tfidf":
            return values
        centre = self.feature_mean
        if batch_index is not None:
            centre = centre + self.batch_shift[:, batch_index.reshape(-1).long()].T
        standardized = (values - centre) / self.feature_std
        return standardized.clamp(-10.0, 10.0)

    def forward(
        self, counts: torch.Tensor, batch_index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Projected components of a minibatch of raw counts, ``(n_cells, n_output)``."""
        return self.normalize(counts, batch_index) @ self.loadings / self.scale

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A model saved before RNA + ATAC defaulted to Pearson residuals does not name its RNA
        # input; its genes' weights do (ones when log-normalised, the genes' shares of the
        # counts for residuals), so loading restores the transform it was trained with.
        weight = state_dict.get(prefix + "feature_weight")
        if self.kind in RNA_TRANSFORMS and weight is not None and weight.numel() > 1:
            self.kind = "log_normalize" if bool((weight == 1).all()) else "pearson_residuals"
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def set_statistics(self, statistics: dict[str, torch.Tensor]) -> None:
        """Fix the transform from statistics fitted on the training cells.

        ``statistics`` holds ``feature_weight`` (the IDF for ``"tfidf"``, the genes' shares of
        the counts for ``"pearson_residuals"``, else ones),
        ``feature_mean``, ``feature_std``, ``batch_shift``, ``loadings`` and ``scale`` (any
        subset), as returned by
        :func:`scvi_contrastive.data.fit_input_transform`.
        """
        for name, value in statistics.items():
            buffer = getattr(self, name)
            value = torch.as_tensor(value, dtype=buffer.dtype)
            if value.shape != buffer.shape:
                raise ValueError(
                    f"Statistic {name!r} has shape {tuple(value.shape)}, the transform expects "
                    f"{tuple(buffer.shape)}."
                )
            buffer.copy_(value)
