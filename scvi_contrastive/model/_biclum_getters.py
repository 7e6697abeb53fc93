"""Getters of BICLUM: the joint and per-modality embeddings, feature embeddings and pairs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from mudata import MuData

from scvi_contrastive._constants import REGISTRY_KEYS
from scvi_contrastive.data.argument_checks import check_indices
from scvi_contrastive.data.unpaired_backed import cell_positions
from scvi_contrastive.model._docstrings import getter_dsp
from scvi_contrastive.module.collect_inference import collect_inference
from scvi_contrastive.tools.neighbor_smoothing import smooth_along_neighbors
from scvi_contrastive.train.eval_mode import eval_mode


class BilateralGettersMixin:
    """Getters of :class:`~scvi_contrastive.model.BICLUM`, each cell from its own modality."""

    @torch.inference_mode()
    def _embed(
        self,
        adata: AnnData | MuData,
        modality: str,
        rows: np.ndarray,
        batch_size: int | None = None,
        smooth_obsm: dict[str, str] | None = None,
    ) -> np.ndarray:
        """Latent embedding of ``rows`` of ``adata`` from the data of ``modality``."""
        _, count_keys = self._layout()
        key = count_keys[modality]
        if len(rows) == 0:
            return np.zeros((0, self.module.n_latent), np.float32)
        loader = self._make_data_loader(
            adata=adata,
            indices=rows,
            batch_size=batch_size,
            data_and_attributes={key: np.float32, REGISTRY_KEYS.BATCH_KEY: np.int64},
        )

        def minibatches():
            for tensors in loader:
                tensors[REGISTRY_KEYS.X_KEY] = tensors.pop(key)
                yield {modality: tensors}

        with eval_mode(self.module):
            latent = collect_inference(
                self.module, minibatches(), lambda outputs: {"z": outputs["z"][modality]}
            )
        latent = latent["z"].numpy()
        if smooth_obsm and modality in smooth_obsm:
            space = self._own_space(adata, modality, rows, smooth_obsm[modality])
            latent = smooth_along_neighbors(latent, space).astype(np.float32)
        return latent

    def _check_own_obsm(
        self, adata: AnnData | MuData, own_obsm: dict[str, str] | None, argument: str
    ) -> None:
        """Raise unless every ``{modality: obsm key}`` entry of ``argument`` can be looked up.

        Called before any inference (``smooth_obsm``) or training (``neighbors_obsm``).
        """
        if own_obsm is None:
            return
        names, _ = self._layout()
        if not set(own_obsm) <= set(names):
            raise ValueError(
                f"`{argument}` keys must be modality names {names}, got {sorted(own_obsm)}."
            )
        for modality, key in own_obsm.items():
            holder, where = _obsm_holder(adata, modality)
            if key not in holder.obsm:
                raise ValueError(
                    f"`{argument}` names {key!r} for {modality!r}, which is not in {where}: "
                    "store the cells' own representation there first (e.g. the peaks' LSI)."
                )

    @staticmethod
    def _own_space(
        adata: AnnData | MuData, modality: str, rows: np.ndarray, key: str
    ) -> np.ndarray:
        """``.obsm[key]`` of ``modality``'s AnnData for the cells ``rows`` of ``adata.obs``."""
        holder, _ = _obsm_holder(adata, modality)
        positions = cell_positions(adata, modality)[rows] if isinstance(adata, MuData) else rows
        return np.asarray(holder.obsm[key])[positions]

    @getter_dsp.dedent
    def get_latent_representation(
        self,
        adata: AnnData | MuData | None = None,
        modality: str = "joint",
        indices: Sequence[int] | None = None,
        batch_size: int | None = None,
        smooth_obsm: dict[str, str] | None = None,
    ) -> np.ndarray:
        """Joint latent embedding of the cells of both modalities.

        The arguments are MULTIVI's (and SCMDCF's), in its order.

        Parameters
        ----------
        %(param_adata)s
        modality
            ``"joint"``: every cell from the modality that holds it (a cell held by both, as in
            paired data, gets the mean of its two embeddings). A modality name: every cell from
            that modality's data, NaN rows for cells it does not hold.
        %(param_indices)s
        %(param_batch_size)s
        %(param_smooth_obsm)s

        Returns
        -------
        ``(len(indices), n_latent)`` array in the order of ``indices``.
        """
        adata = self._validate_anndata(adata)
        self._check_own_obsm(adata, smooth_obsm, "smooth_obsm")
        names, _ = self._layout()
        if modality != "joint" and modality not in names:
            raise ValueError(f"`modality` must be 'joint' or one of {names}, got {modality!r}.")
        indices = check_indices(indices, adata.n_obs)
        indices = np.arange(adata.n_obs) if indices is None else indices
        rows = self._modality_rows(self.get_anndata_manager(adata, required=True))
        total = np.zeros((len(indices), self.module.n_latent))
        count = np.zeros(len(indices))
        for name in names if modality == "joint" else [modality]:
            held = np.isin(indices, rows[name])
            total[held] += self._embed(adata, name, indices[held], batch_size, smooth_obsm)
            count[held] += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            return (total / count[:, None]).astype(np.float32)

    @torch.inference_mode()
    def get_feature_embeddings(self) -> dict[str, pd.DataFrame]:
        """Embedding of every feature of each modality (features x latent dimensions)."""
        with eval_mode(self.module):
            embeddings = self.module.feature_embeddings()
        return {
            name: pd.DataFrame(
                embeddings[name].cpu().numpy(),
                index=pd.Index(features, name="feature"),
                columns=[f"latent_{i}" for i in range(embeddings[name].shape[1])],
            )
            for name, features in self._features().items()
        }

    def get_mnn_pairs(self) -> pd.DataFrame:
        """Current cross-modal positive pairs: one row per pair, the two cells' obs names."""
        names, _ = self._layout()
        obs_names = np.asarray(self.adata.obs_names)
        pairs = dict(zip(names, self.mnn_pairs_, strict=True))
        return pd.DataFrame({name: obs_names[rows] for name, rows in pairs.items()})


def _obsm_holder(adata: AnnData | MuData, modality: str) -> tuple[AnnData | MuData, str]:
    """The object whose ``.obsm`` holds ``modality``'s own space, and its name for errors."""
    if isinstance(adata, MuData):
        return adata.mod[modality], f"mdata[{modality!r}].obsm"
    return adata, "adata.obsm"
