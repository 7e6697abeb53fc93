"""Decoders from the joint embedding to the parameters of a modality's count likelihood."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from scvi.nn import FCLayers
from torch import nn


class MultiHeadDecoder(nn.Module):
    """Hidden ``FCLayers`` and one linear head per likelihood parameter.

    Covariates are injected into every hidden layer, as scvi's decoders do.

    Parameters
    ----------
    n_input
        Dimension of the embedding decoded.
    n_output
        Number of features of the modality.
    heads
        Names of the per-feature parameters to output (e.g. ``("scale", "dropout")``).
    n_cat_list
        Category counts of batch and categorical covariates.
    n_cont
        Number of continuous covariates.
    n_hidden
        Width of the hidden layers.
    n_layers
        Number of hidden layers.
    dropout_rate
        Dropout in the hidden layers.
    """

    def __init__(
        self,
        n_input: int,
        n_output: int,
        heads: Sequence[str],
        n_cat_list: Iterable[int] | None = None,
        n_cont: int = 0,
        n_hidden: int = 256,
        n_layers: int = 1,
        dropout_rate: float = 0.0,
    ):
        super().__init__()
        self.hidden = FCLayers(
            n_in=n_input + n_cont,
            n_out=n_hidden,
            n_cat_list=n_cat_list,
            n_layers=n_layers,
            n_hidden=n_hidden,
            dropout_rate=dropout_rate,
            inject_covariates=True,
        )
        self.heads = nn.ModuleDict({name: nn.Linear(n_hidden, n_output) for name in heads})

    def forward(
        self, z: torch.Tensor, *cat_list: torch.Tensor, cont: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Unconstrained per-feature outputs, one tensor per head."""
        if cont is not None:
            z = torch.cat([z, cont], dim=-1)
        hidden = self.hidden(z, *cat_list)
        return {name: head(hidden) for name, head in self.heads.items()}
