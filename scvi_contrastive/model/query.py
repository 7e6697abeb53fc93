"""scArches-style query mapping: add the batches of new cells to a trained model.

:class:`QueryMappingMixin` builds on scvi-tools' :class:`~scvi.model.base.ArchesMixin`
(architecture surgery, Lotfollahi et al., Nat Biotechnol 2022): the query is registered with the
reference's setup and its new batch categories appended, a model of the reference's shape is
built for it, the reference weights are copied in, and everything is frozen except the
parameters of the new batch categories. Two things are done here on top of scvi's surgery:

- scvi appends the columns of new categories at the end of each covariate-injected layer. With
  categorical covariates after the batch, that end is another covariate's block, so the columns
  are put back in place, block by block. New columns start at the mean of the reference
  categories' columns (at zero where the reference had a single category, which FCLayers gives
  no columns, so that reference cells are mapped exactly as by the reference model).
- scvi lets the gradient reach every category column; here only the new categories' columns
  (and rows of per-batch tables such as BICLUM's decoder bias) are trained, so reference cells
  keep their embedding and reconstruction bit for bit. Query training also defaults to
  ``weight_decay=0``: the optimiser sees the masked weights, and weight decay would move them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from mudata import MuData
from scvi.model.base import ArchesMixin, BaseModelClass
from scvi.nn import FCLayers
from torch import nn

from .._constants import REGISTRY_KEYS
from ..data.safe_loading import safe_model_loading
from ..data.saved_model_checks import check_modalities_present, read_saved_registry
from .saving import restore_history

logger = logging.getLogger(__name__)


class QueryMappingMixin(ArchesMixin):
    """Map cells of new batches into a trained model (scArches), for this package's models.

    Mixed into :class:`~scvi_contrastive.model.SCMDCF` and (through
    :class:`BilateralQueryMixin`) :class:`~scvi_contrastive.model.BICLUM`. What adapts to a new
    batch is what sees the batch in the model: in SCMDCF the decoders (batch is injected into
    every decoder layer) and the encoders' input centring (each batch's feature means, fixed,
    not trained), so a new batch's centring is computed from the query cells when the query is
    mapped, the query embedding then comes from the reference encoders as they are, and query
    training fits the new batch's decoder parameters; in BICLUM the cell encoders' first layer
    and the decoder bias are per batch, so query training moves the query embedding.
    """

    #: Parameters (prefixes of ``module.named_parameters()`` names) holding one row per batch.
    _per_batch_parameters: tuple[str, ...] = ()
    #: Whether the model was made by :meth:`load_query_data` (saved with the model).
    query_mapped_: bool = False

    @classmethod
    def load_query_data(
        cls,
        adata: AnnData | MuData,
        reference_model: str | os.PathLike | BaseModelClass,
        *,
        unfrozen: bool = False,
        freeze_dropout: bool = False,
        inplace_subset_query_vars: bool = False,
        accelerator: str = "auto",
        device: int | str = "auto",
    ):
        """Model of the reference extended with the query's new batch categories (scArches).

        Parameters
        ----------
        adata
            Query data organised as the reference data were (same modalities, features and
            ``obs`` columns); it need not be set up. Its batch categories that the reference did
            not see are added.
        reference_model
            Trained reference model, or the folder it was saved to.
        unfrozen
            Train every weight on the query (fine-tuning), not only the new batch parameters.
        freeze_dropout
            Switch dropout off during query training.
        inplace_subset_query_vars
            Subset and reorder the query's features to the reference's in place.
        accelerator, device
            Where to put the model (as in scvi-tools).

        A reference folder is read without running code from it (see :meth:`load`).

        Returns
        -------
        A model of this class registered with ``adata``, with the reference's weights; train
        it on the query with ``train()`` (reference cells keep their embedding exactly unless
        ``unfrozen``), then embed reference and query cells with it.

        Examples
        --------
        >>> query_model = SCMDCF.load_query_data(query_mdata, reference_model)
        >>> query_model.train(max_epochs=50)
        >>> z_query = query_model.get_latent_representation()
        >>> z_reference = query_model.get_latent_representation(reference_mdata)
        """
        if isinstance(reference_model, BaseModelClass) and not isinstance(reference_model, cls):
            name = type(reference_model).__name__
            raise TypeError(
                f"`reference_model` is a {name}, not a {cls.__name__}: map the query with the "
                f"reference's class, `{name}.load_query_data(adata, reference_model)`."
            )
        reference_counts = _category_counts(cls._registry_of(reference_model))
        cls._check_query(adata, reference_model)
        with safe_model_loading():
            model = super().load_query_data(
                adata=adata,
                reference_model=str(reference_model)
                if isinstance(reference_model, os.PathLike)
                else reference_model,
                inplace_subset_query_vars=inplace_subset_query_vars,
                accelerator=accelerator,
                device=device,
                unfrozen=unfrozen,
                freeze_dropout=freeze_dropout,
                freeze_expression=True,
                freeze_decoder_first_layer=True,
                freeze_batchnorm_encoder=True,
                freeze_batchnorm_decoder=True,
            )
        restore_history(model)
        query_counts = _category_counts(model.registry_)
        for fc_layers in model.module.modules():
            if isinstance(fc_layers, FCLayers) and fc_layers.n_cat_list:
                align_covariate_columns(fc_layers, reference_counts, query_counts, not unfrozen)
        for name, parameter in model.module.named_parameters():
            if name.startswith(cls._per_batch_parameters):
                extend_batch_rows(parameter, reference_counts[0], not unfrozen)
        model.query_mapped_ = True
        model._prepare_query_model(reference_counts[0])
        logger.info(
            "Query mapped: %d batch categories added to the reference's %d.",
            query_counts[0] - reference_counts[0],
            reference_counts[0],
        )
        return model

    @classmethod
    def _registry_of(cls, reference_model: str | os.PathLike | BaseModelClass) -> dict:
        if isinstance(reference_model, BaseModelClass):
            return reference_model.registry_
        return read_saved_registry(cls, reference_model)

    @classmethod
    def _check_query(
        cls, adata: AnnData | MuData, reference_model: str | os.PathLike | BaseModelClass
    ) -> None:
        """Model-specific checks of a query before the surgery (none by default)."""

    def _prepare_query_model(self, n_reference_batches: int) -> None:
        """Model-specific state to rebuild for the query after the surgery (none by default).

        Batches ``n_reference_batches`` and above are the query's new ones.
        """

    def train(self, *args, plan_kwargs: dict | None = None, **kwargs):
        """Train; a query-mapped model defaults to ``weight_decay=0`` (see the module notes)."""
        if self.query_mapped_:
            plan_kwargs = {"weight_decay": 0.0, **(plan_kwargs or {})}
        return super().train(*args, plan_kwargs=plan_kwargs, **kwargs)

    def _validate_anndata(self, adata: AnnData | MuData | None = None, copy_if_view: bool = True):
        # scvi's own errors for a missing modality (a KeyError) and an unseen batch (which
        # suggests `extend_categories=True`, giving the new batch untrained parameters) do not
        # say the fix.
        if adata is not None and self.get_anndata_manager(adata) is None:
            modalities = self.registry_["setup_args"].get("modalities") or {}
            registered = [m for arg, m in modalities.items() if arg.endswith("_layer") and m]
            check_modalities_present(adata, registered, "the data given")
            self._check_batch_categories(adata)
        return super()._validate_anndata(adata, copy_if_view=copy_if_view)

    def _check_batch_categories(self, adata: AnnData | MuData) -> None:
        setup_args = self.registry_["setup_args"]
        batch_key = setup_args.get("batch_key")
        if batch_key is None:
            return
        obs = _obs_holding(adata, (setup_args.get("modalities") or {}).get("batch_key"))
        if batch_key not in obs:
            return  # scvi's transfer names the missing column
        batch_state = self.registry_["field_registries"][REGISTRY_KEYS.BATCH_KEY]
        known = pd.Index(batch_state["state_registry"]["categorical_mapping"])
        unknown = pd.Index(obs[batch_key].dropna().unique()).difference(known)
        if len(unknown):
            name = type(self).__name__
            raise ValueError(
                f"Batch category {unknown[0]!r} of `obs[{batch_key!r}]` was not seen in "
                f"training ({len(unknown)} unseen: {list(unknown[:5])}; known: "
                f"{list(known)}). A trained model has no parameters for a new batch: map it "
                f"with `{name}.load_query_data(adata, model)` (scArches) and use the returned "
                "model, or give the cells one of the known categories."
            )


class BilateralQueryMixin(QueryMappingMixin):
    """:class:`QueryMappingMixin` for :class:`~scvi_contrastive.model.BICLUM`.

    BICLUM injects the batch into the first layer of each cell encoder and keeps one decoder
    bias row per batch, so query training fits the new batch's encoder columns and bias rows
    (the feature embeddings, which define the shared space, stay the reference's). The query
    must hold cells of both modalities, since training needs cross-modal pairs; its first pairs
    are the mutual nearest neighbours in the reference model's latent space, where the two
    modalities are already aligned. Without training, the returned model embeds the query with
    the reference encoders (new batch columns at the mean of the reference batches' columns, or
    zero when the reference had a single batch).
    """

    _per_batch_parameters = ("bias.",)

    @classmethod
    def _check_query(
        cls, adata: AnnData | MuData, reference_model: str | os.PathLike | BaseModelClass
    ) -> None:
        # The feature encoders read a metacell sketch of at most `n_metacells` rows made from the
        # model's data; a query modality with fewer cells than the reference's sketch would give
        # a smaller model that the reference weights do not fit.
        if not isinstance(reference_model, BaseModelClass) or not isinstance(adata, MuData):
            return
        names, _ = reference_model._layout()
        for name in names:
            rows = reference_model.module.feature_encoders[name].sketch.shape[0]
            if name in adata.mod and adata.mod[name].n_obs < rows:
                raise ValueError(
                    f"The query's modality {name!r} holds {adata.mod[name].n_obs} cells; "
                    f"mapping into this reference needs at least {rows} (its metacell sketch)."
                )

    def _prepare_query_model(self, n_reference_batches: int) -> None:
        # The pairs saved with the reference index the reference's cells; find the query's in
        # the reference latent space instead of in a joint PCA of the query.
        self.start_in_latent_ = True
        self.initial_mnn_pairs_ = np.empty((2, 0), dtype=np.int64)
        self._refresh_mnn_pairs()
        self.initial_mnn_pairs_ = self.mnn_pairs_


def align_covariate_columns(
    fc_layers: FCLayers,
    reference_counts: Sequence[int],
    query_counts: Sequence[int],
    train_new_only: bool,
) -> None:
    """Put the covariate columns of a layer stack back in place after scvi's surgery.

    scvi's surgery leaves each covariate-injected ``Linear`` as ``[inputs | reference
    covariate columns | columns of all new categories]``. Rebuild it block by block (batch
    first, then each categorical covariate, as ``FCLayers`` lays them out), each block's new
    columns after its reference ones, started at the mean of the reference ones (zero where the
    reference had one category and so no columns).

    Parameters
    ----------
    fc_layers
        The layer stack, already holding the surgery's weights.
    reference_counts
        Categories of the batch and of each categorical covariate in the reference.
    query_counts
        The same for the query model (reference categories first).
    train_new_only
        Mask gradients so that only the new categories' columns train.
    """
    n_blocks = len(fc_layers.n_cat_list)
    reference_width = _one_hot_widths(reference_counts[:n_blocks])
    query_width = _one_hot_widths(query_counts[:n_blocks])
    if list(fc_layers.n_cat_list) != query_width:
        raise RuntimeError(
            f"Unexpected covariate layout {fc_layers.n_cat_list} (expected {query_width})."
        )
    for index, layers in enumerate(fc_layers.fc_layers):
        if not fc_layers.inject_into_layer(index):
            continue
        linear = next(layer for layer in layers if isinstance(layer, nn.Linear))
        starts = _rebuild_covariate_columns(linear, reference_width, query_width)
        if train_new_only:
            trainable_columns = torch.zeros_like(linear.weight)
            for block, n_reference in enumerate(reference_counts[:n_blocks]):
                # Reference categories come first in the query's mapping (scvi appends).
                trainable_columns[:, starts[block] + n_reference : starts[block + 1]] = 1.0
            _mask_gradient(linear.weight, trainable_columns)


def _one_hot_widths(counts: Sequence[int]) -> list[int]:
    """Columns each covariate takes in ``FCLayers`` (none for a single category)."""
    return [n if n > 1 else 0 for n in counts]


@torch.no_grad()
def _rebuild_covariate_columns(
    linear: nn.Linear, reference_width: list[int], query_width: list[int]
) -> list[int]:
    """Reorder a surgery-extended weight in place; return the start of each block (and end)."""
    weight = linear.weight
    n_inputs = weight.shape[1] - sum(query_width)
    reference = weight[:, n_inputs : n_inputs + sum(reference_width)]
    pieces = [weight[:, :n_inputs]]
    starts = [n_inputs]
    offset = 0
    for n_old, n_new in zip(reference_width, query_width, strict=True):
        block = reference[:, offset : offset + n_old]
        offset += n_old
        start = block.mean(dim=1, keepdim=True) if n_old else torch.zeros_like(weight[:, :1])
        pieces += [block, start.expand(-1, n_new - n_old)]
        starts.append(starts[-1] + n_new)
    weight.copy_(torch.cat(pieces, dim=1))
    return starts


@torch.no_grad()
def extend_batch_rows(parameter: nn.Parameter, n_reference: int, train_new_only: bool) -> None:
    """Start the rows of new batches of a per-batch table at the reference rows' mean.

    Parameters
    ----------
    parameter
        Table with one row per batch (one row in all when there is a single batch).
    n_reference
        Number of reference batches; rows beyond them are new.
    train_new_only
        Let only the new rows train.
    """
    n_reference = max(n_reference, 1)
    if parameter.shape[0] <= n_reference:
        return
    parameter[n_reference:] = parameter[:n_reference].mean(dim=0, keepdim=True)
    if train_new_only:
        trainable_rows = torch.zeros_like(parameter)
        trainable_rows[n_reference:] = 1.0
        parameter.requires_grad_(True)
        _mask_gradient(parameter, trainable_rows)


def _mask_gradient(parameter: nn.Parameter, mask: torch.Tensor) -> None:
    parameter.register_hook(lambda grad: grad * mask.to(grad.device))


def _category_counts(registry: dict) -> list[int]:
    """Number of categories of the batch, then of each categorical covariate, in a registry."""
    fields = registry["field_registries"]
    batch = fields.get(REGISTRY_KEYS.BATCH_KEY, {}).get("state_registry", {})
    covariates = fields.get(REGISTRY_KEYS.CAT_COVS_KEY, {}).get("state_registry", {})
    return [
        len(batch.get("categorical_mapping", [None])),
        *covariates.get("n_cats_per_key", []),
    ]


def _obs_holding(adata: AnnData | MuData, modality: str | None) -> pd.DataFrame:
    """The ``obs`` a setup argument refers to: a modality's, or the (Mu)Data's own."""
    if modality is not None and isinstance(adata, MuData):
        return adata.mod[modality].obs
    return adata.obs
