"""Getters of SCMDCF: the joint and per-modality embeddings, fusion weights and clusters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from mudata import MuData

from ..data.argument_checks import check_indices
from ..module.collect_inference import collect_inference
from ._docstrings import getter_dsp


class FusionGettersMixin:
    """Getters of :class:`~scvi_contrastive.model.SCMDCF`, read from its module's inference."""

    @torch.inference_mode()
    def _inference_outputs(
        self,
        adata: MuData | None,
        indices: Sequence[int] | None,
        batch_size: int | None,
        keys,
        dataloader: Iterable[dict] | None = None,
    ) -> dict[str, np.ndarray]:
        """The inference outputs named by ``keys`` for the cells ``indices``, as numpy arrays.

        With ``dataloader``, for its cells instead (``adata`` and ``indices`` unused).
        """
        loader = dataloader
        if loader is None:
            adata = self._validate_anndata(adata)
            indices = check_indices(indices, adata.n_obs)
            loader = self._make_data_loader(adata=adata, indices=indices, batch_size=batch_size)
        outputs = collect_inference(
            self.module, loader, lambda outputs: {key: outputs[key] for key in keys}
        )
        return {key: value.numpy() for key, value in outputs.items()}

    @getter_dsp.dedent
    def get_latent_representation(
        self,
        adata: MuData | None = None,
        modality: str = "joint",
        indices: Sequence[int] | None = None,
        batch_size: int | None = None,
        dataloader: Iterable[dict] | None = None,
    ) -> np.ndarray:
        """Embedding of each cell.

        The arguments are MULTIVI's, in its order, then scvi-tools' ``dataloader``.

        Parameters
        ----------
        %(param_adata)s
        modality
            ``"joint"`` for the fused embedding, or ``"rna"``, ``"protein"``, ``"atac"`` for
            one encoder's embedding (``NaN`` rows for cells not measured in that modality).
        %(param_indices)s
        %(param_batch_size)s
        dataloader
            ``EXPERIMENTAL`` Minibatches to embed instead of ``adata``'s cells, e.g.
            ``datamodule.inference_dataloader()`` of a model built from a datamodule.

        Returns
        -------
        ``(n_cells, d)`` array: ``d`` is ``module.n_joint`` for the joint embedding, else the
        modality's ``module.n_latents[modality]``.
        """
        _check_data_or_dataloader(adata, indices, dataloader)
        if modality == "joint":
            return self._inference_outputs(adata, indices, batch_size, ["z"], dataloader)["z"]
        if modality not in self.module.modalities:
            raise ValueError(
                f"`modality` must be 'joint' or one of {self.module.modalities}, got {modality!r}."
            )
        out = self._inference_outputs(
            adata, indices, batch_size, [f"z_{modality}", "observed"], dataloader
        )
        latent = out[f"z_{modality}"].copy()
        latent[out["observed"][:, self.module.modalities.index(modality)] <= 0] = np.nan
        return latent

    @getter_dsp.dedent
    def get_fusion_weights(
        self,
        adata: MuData | None = None,
        indices: Sequence[int] | None = None,
        batch_size: int | None = None,
    ) -> pd.DataFrame:
        """Weight of each modality in each cell's joint embedding (rows sum to one).

        With the default ``fusion="concat"`` these are the modality weights fitted during
        training, restricted to the modalities the cell was measured in; with
        ``fusion="attention"``, the cell's attention weights.

        Parameters
        ----------
        %(param_adata)s
        %(param_indices)s
        %(param_batch_size)s

        Returns
        -------
        DataFrame of cells × modalities.
        """
        adata = self._validate_anndata(adata)
        indices = check_indices(indices, adata.n_obs)
        weights = self._inference_outputs(adata, indices, batch_size, ["fusion_weights"])
        obs_names = adata.obs_names if indices is None else adata.obs_names[np.asarray(indices)]
        return pd.DataFrame(
            weights["fusion_weights"], index=obs_names, columns=self.module.modalities
        )

    @getter_dsp.dedent
    def get_cluster_assignments(
        self,
        adata: MuData | None = None,
        indices: Sequence[int] | None = None,
        batch_size: int | None = None,
        soft: bool = False,
        dataloader: Iterable[dict] | None = None,
    ) -> np.ndarray:
        """Clusters of the DEC head.

        Parameters
        ----------
        %(param_adata)s
        %(param_indices)s
        %(param_batch_size)s
        soft
            Return the ``(n_cells, k)`` soft assignment instead of the hard labels.
        dataloader
            ``EXPERIMENTAL`` Minibatches to assign instead of ``adata``'s cells.

        Returns
        -------
        Integer cluster per cell, or the soft assignment.
        """
        if not self.module.dec.initialized:
            raise RuntimeError("Clusters are initialised during `train()`; train the model first.")
        latent = self.get_latent_representation(
            adata, indices=indices, batch_size=batch_size, dataloader=dataloader
        )
        latent = torch.from_numpy(latent)
        q = self.module.soft_clusters(latent.to(self.device)).cpu().numpy()
        return q if soft else q.argmax(axis=1)


def _check_data_or_dataloader(adata, indices, dataloader) -> None:
    """Refuse cells asked for both through ``adata`` / ``indices`` and ``dataloader``."""
    if dataloader is not None and (adata is not None or indices is not None):
        raise ValueError("Pass `adata` / `indices` or `dataloader`, not both.")
