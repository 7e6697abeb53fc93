"""Encoders from one modality's raw counts to a cell embedding."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from scvi.nn import FCLayers
from torch import nn
from torch.distributions import Normal

from .input_transform import InputTransform


class MLP(nn.Module):
    """scvi's ``FCLayers`` and a linear head (categorical covariates enter the first layer).

    Parameters
    ----------
    n_input
        Number of input features.
    n_output
        Output dimension.
    n_hidden
        Width of the hidden layers.
    n_layers
        Number of hidden layers.
    dropout_rate
        Dropout in the hidden layers.
    n_cat_list
        Category counts of categorical covariates.
    activation_fn
        Activation of the hidden layers.
    """

    def __init__(
        self,
        n_input: int,
        n_output: int,
        n_hidden: int = 256,
        n_layers: int = 2,
        dropout_rate: float = 0.1,
        n_cat_list: Iterable[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
    ):
        super().__init__()
        self.hidden = FCLayers(
            n_in=n_input,
            n_out=n_hidden,
            n_cat_list=n_cat_list,
            n_layers=n_layers,
            n_hidden=n_hidden,
            dropout_rate=dropout_rate,
            inject_covariates=False,
            activation_fn=activation_fn,
        )
        self.head = nn.Linear(n_hidden, n_output)

    def forward(self, x: torch.Tensor, *cat_list: torch.Tensor) -> torch.Tensor:
        """Apply the hidden layers and the head."""
        return self.head(self.hidden(x, *cat_list))


class CountEncoder(MLP):
    """MLP encoder of raw counts: normalise, log, standardise, then ``FCLayers`` and a head.

    The encoder sees ``log1p(counts / library * target_sum)`` scaled per feature with a mean and
    standard deviation fixed before training (:meth:`set_feature_scaling`). Scaling gives rare
    but informative features (antibodies, marker genes) the same say as abundant ones, as the
    z-scored inputs of scMDCF and BiCLUM do, while the model still sees counts for its
    likelihoods.

    With ``linear_path=True`` a linear map of the standardised features is added to the MLP's
    output; :meth:`start_at` sets it (e.g. to PCA axes) and zeroes the MLP's head, so training
    starts from that linear embedding and the MLP learns a correction to it, as
    :class:`TransformedEncoder` starts from its PCA/LSI.

    Parameters
    ----------
    n_input
        Number of input features.
    n_output
        Dimension of the embedding.
    n_hidden
        Width of the hidden layers.
    n_layers
        Number of hidden layers.
    dropout_rate
        Dropout in the hidden layers.
    n_cat_list
        Category counts of categorical covariates injected into the first layer.
    n_cont
        Number of continuous covariates injected into the first layer.
    target_sum
        Library size every cell is normalised to before ``log1p``.
    activation_fn
        Activation of the hidden layers.
    linear_path
        Add the linear map of the standardised features that :meth:`start_at` sets (zero
        until then).
    """

    def __init__(
        self,
        n_input: int,
        n_output: int,
        n_hidden: int = 256,
        n_layers: int = 2,
        dropout_rate: float = 0.1,
        n_cat_list: Iterable[int] | None = None,
        n_cont: int = 0,
        target_sum: float = 1e4,
        activation_fn: type[nn.Module] = nn.ReLU,
        linear_path: bool = False,
    ):
        super().__init__(
            n_input + n_cont, n_output, n_hidden, n_layers, dropout_rate, n_cat_list, activation_fn
        )
        self.target_sum = target_sum
        self.register_buffer("feature_mean", torch.zeros(n_input))
        self.register_buffer("feature_std", torch.ones(n_input))
        self.linear = None
        if linear_path:
            self.linear = nn.Linear(n_input, n_output, bias=False)
            nn.init.zeros_(self.linear.weight)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Saves from before the linear path existed load with it at zero, which gives exactly
        # the embedding they were trained with.
        key = f"{prefix}linear.weight"
        if self.linear is not None and key not in state_dict:
            state_dict[key] = torch.zeros_like(self.linear.weight)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def normalize(self, counts: torch.Tensor) -> torch.Tensor:
        """Library-normalised, log-transformed, standardised features."""
        library = counts.sum(dim=1, keepdim=True).clamp_min(1.0)
        logged = torch.log1p(counts / library * self.target_sum)
        return (logged - self.feature_mean) / self.feature_std

    @torch.no_grad()
    def set_feature_scaling(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Fix the per-feature mean and standard deviation used by :meth:`normalize`."""
        self.feature_mean.copy_(torch.as_tensor(mean, dtype=self.feature_mean.dtype))
        self.feature_std.copy_(torch.as_tensor(std, dtype=self.feature_std.dtype).clamp_min(1e-3))

    @torch.no_grad()
    def start_at(self, weight: torch.Tensor | np.ndarray) -> None:
        """Start the embedding at ``weight @ standardised features``; the MLP adds nothing yet.

        Parameters
        ----------
        weight
            ``(n_output, n_input)`` linear map, e.g. PCA axes as rows.
        """
        if self.linear is None:
            raise ValueError("This encoder was built without `linear_path=True`.")
        weight = torch.as_tensor(weight, dtype=self.linear.weight.dtype)
        if weight.shape != self.linear.weight.shape:
            raise ValueError(
                f"`weight` must have shape {tuple(self.linear.weight.shape)}, got "
                f"{tuple(weight.shape)}."
            )
        self.linear.weight.copy_(weight)
        self.head.weight.zero_()
        self.head.bias.zero_()

    def forward(
        self, counts: torch.Tensor, *cat_list: torch.Tensor, cont: torch.Tensor | None = None
    ):
        """Embed a minibatch of raw counts.

        Parameters
        ----------
        counts
            ``(n_cells, n_input)`` raw counts.
        *cat_list
            One ``(n_cells, 1)`` integer tensor per categorical covariate.
        cont
            ``(n_cells, n_cont)`` continuous covariates, if any.
        """
        features = self.normalize(counts)
        hidden_input = features if cont is None else torch.cat([features, cont], dim=-1)
        embedding = super().forward(hidden_input, *cat_list)
        return embedding if self.linear is None else embedding + self.linear(features)


class TransformedEncoder(nn.Module):
    """Encoder of raw counts through a fixed :class:`InputTransform` (e.g. PCA or LSI).

    The embedding is a linear map of the transform's components plus a non-linear
    correction (``FCLayers`` and a head). The linear map starts as the first ``n_output``
    components and the correction at zero, so training starts from the PCA/LSI geometry,
    which is reliable even on a few hundred cells, and departs from it only as far as the
    losses ask.

    Parameters
    ----------
    transform
        The modality's input transform; its statistics are set before training.
    n_output
        Dimension of the embedding.
    n_hidden
        Width of the hidden layers.
    n_layers
        Number of hidden layers.
    dropout_rate
        Dropout in the hidden layers.
    variational
        Return a diagonal Gaussian posterior instead of a point embedding.
    var_eps
        Minimum variance of the posterior, for numerical stability.
    """

    def __init__(
        self,
        transform: InputTransform,
        n_output: int,
        n_hidden: int = 256,
        n_layers: int = 2,
        dropout_rate: float = 0.1,
        variational: bool = False,
        var_eps: float = 1e-4,
    ):
        super().__init__()
        self.transform = transform
        self.variational = variational
        self.var_eps = var_eps
        n_input = transform.n_output
        self.linear = nn.Linear(n_input, n_output, bias=False)
        self.correction = (
            MLP(n_input, n_output, n_hidden, n_layers, dropout_rate) if n_layers > 0 else None
        )
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(n_output, n_input))
            if self.correction is not None:
                self.correction.head.weight.zero_()
                self.correction.head.bias.zero_()
        if variational:
            self.log_var = MLP(n_input, n_output, n_hidden, 1, dropout_rate)

    def forward(
        self, counts: torch.Tensor, batch_index: torch.Tensor | None = None
    ) -> torch.Tensor | Normal:
        """Embedding (or posterior ``q(z | counts)``) of a minibatch of raw counts.

        ``batch_index`` selects each cell's centring in the input transform.
        """
        components = self.transform(counts, batch_index)
        mean = self.linear(components)
        if self.correction is not None:
            mean = mean + self.correction(components)
        if not self.variational:
            return mean
        log_var = self.log_var(components).clamp(-15, 15)
        return Normal(mean, (log_var.exp() + self.var_eps).sqrt())
