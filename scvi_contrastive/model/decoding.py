"""Decoded values of SCMDCF: normalised expression and accessibility, as MULTIVI's getters."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from mudata import MuData

from .._constants import COUNT_KEYS, MODALITIES, REGISTRY_KEYS
from ..data.argument_checks import check_indices
from ._docstrings import getter_dsp


class DecodingMixin:
    """``get_normalized_expression`` and ``get_normalized_accessibility`` of a fusion model.

    Every cell is decoded from its joint embedding by the module's ``generative``, so the
    methods need a model whose module has ``modalities``, ``likelihoods``, ``inference`` and
    ``generative`` as :class:`~scvi_contrastive.module.ContrastiveFusionModule`.
    """

    @getter_dsp.dedent
    @torch.inference_mode()
    def get_normalized_expression(
        self,
        adata: MuData | None = None,
        indices: Sequence[int] | None = None,
        modality: str = "rna",
        library_size: float = 1.0,
        transform_batch: str | None = None,
        batch_size: int | None = None,
    ) -> pd.DataFrame:
        """Decoded (denoised, and for unmeasured modalities imputed) values of each feature.

        Every cell is decoded from its joint embedding, so a cell measured only in RNA gets
        protein or accessibility values imputed from it (cross-modal imputation).

        Parameters
        ----------
        %(param_adata)s
        %(param_indices)s
        modality
            ``"rna"``, ``"protein"`` or ``"atac"``.
        library_size
            RNA (and Poisson ATAC) values are expected counts at this library size (1 gives
            proportions). Protein values are the expected counts of the likelihood (background
            included); Bernoulli ATAC values are accessibility probabilities.
        %(param_transform_batch)s
        %(param_batch_size)s

        Returns
        -------
        DataFrame of cells × features.
        """
        if modality not in self.module.modalities:
            raise ValueError(
                f"`modality` must be one of {self.module.modalities}, got {modality!r}."
            )
        if not np.isfinite(library_size) or library_size <= 0:
            raise ValueError(
                f"`library_size` must be a positive number (1 gives proportions, 1e4 counts per "
                f"10,000), got {library_size}."
            )
        adata = self._validate_anndata(adata)
        indices = check_indices(indices, adata.n_obs)
        batch_code = self._batch_code(transform_batch)
        loader = self._make_data_loader(adata=adata, indices=indices, batch_size=batch_size)
        values = []
        for tensors in loader:
            if batch_code is not None:
                tensors[REGISTRY_KEYS.BATCH_KEY] = torch.full_like(
                    tensors[REGISTRY_KEYS.BATCH_KEY], batch_code
                )
            inference_outputs = self.module.inference(**self.module._get_inference_input(tensors))
            generative_input = self.module._get_generative_input(tensors, inference_outputs)
            library = dict(generative_input["library"])
            if modality != MODALITIES.ATAC or self.module.likelihoods[modality] == "poisson":
                library[modality] = torch.full_like(library[modality], float(np.log(library_size)))
            generative_input.update(library=library, size_factor=None)
            values.append(self.module.generative(**generative_input)[f"p_{modality}"].mean.cpu())
        mod_key = self.adata_manager.get_state_registry(COUNT_KEYS[modality])
        obs_names = adata.obs_names if indices is None else adata.obs_names[np.asarray(indices)]
        return pd.DataFrame(
            torch.cat(values).numpy(), index=obs_names, columns=mod_key.column_names
        )

    @getter_dsp.dedent
    def get_normalized_accessibility(
        self,
        adata: MuData | None = None,
        indices: Sequence[int] | None = None,
        region_list: Sequence[str] | None = None,
        transform_batch: str | None = None,
        batch_size: int | None = None,
    ) -> pd.DataFrame:
        """Decoded accessibility of each region, as MULTIVI's method of the same name.

        With the default Bernoulli likelihood the values are the probabilities that each
        region is open in each cell at the cell's own sequencing depth; with the Poisson
        likelihood, expected counts per unit library. Cells without ATAC are imputed from their
        joint embedding.

        Parameters
        ----------
        %(param_adata)s
        %(param_indices)s
        region_list
            Regions to return (all if ``None``), in this order.
        %(param_transform_batch)s
        %(param_batch_size)s

        Returns
        -------
        DataFrame of cells × regions.
        """
        if MODALITIES.ATAC not in self.module.modalities:
            raise ValueError(
                "The model has no ATAC modality; set up `atac_layer` to decode accessibility."
            )
        values = self.get_normalized_expression(
            adata,
            indices,
            modality=MODALITIES.ATAC,
            transform_batch=transform_batch,
            batch_size=batch_size,
        )
        if region_list is None:
            return values
        missing = pd.Index(region_list).difference(values.columns)
        if len(missing):
            raise ValueError(
                f"`region_list` holds {len(missing)} regions the model does not know, e.g. "
                f"{list(missing[:3])}; use names from the ATAC modality's `var_names`."
            )
        return values[list(region_list)]

    def _batch_code(self, category: str | None) -> int | None:
        if category is None:
            return None
        mapping = list(
            self.adata_manager.get_state_registry(REGISTRY_KEYS.BATCH_KEY).categorical_mapping
        )
        if category not in mapping:
            raise ValueError(
                f"`transform_batch` {category!r} is not a batch category; known: {mapping}."
            )
        return mapping.index(category)
