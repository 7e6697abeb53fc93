"""Paired contrastive fusion of multi-omics cells, after scMDCF (Genome Medicine 2026)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import scvi
import torch
from mudata import MuData
from scvi.data import fields
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin
from scvi.utils import setup_anndata_dsp
from scvi.utils._docstrings import devices_dsp

from .._constants import COUNT_KEYS, LAYER_ARGS, MODALITIES, REGISTRY_KEYS
from ..data.input_transform import batch_feature_means, fit_input_transform
from ..data.validation import (
    check_in_memory,
    check_indices,
    check_obs_columns,
    check_paired_cells,
    check_training_arguments,
    check_unique_obs_names,
)
from ..module.fusion import TRANSFORM_KINDS, ContrastiveFusionModule
from ..train.callbacks import with_default_callbacks
from ..train.eval_mode import eval_mode
from ..train.fusion import ContrastiveFusionTrainingPlan
from ..train.history import history_so_far, number_continued_epochs
from ..train.scheduled_refresh import ScheduledRefresh
from ._setup import (
    SetupModality,
    check_is_mudata,
    count_modalities,
    register_mudata,
    resolve_modalities,
)
from .query import QueryMappingMixin
from .saving import SafeSaveLoadMixin

logger = logging.getLogger(__name__)

#: Upper bound of the default number of epochs (half warm-up, half clustering).
DEFAULT_MAX_EPOCHS = 200
#: Cell passes of the default training: epochs = this / cells, within [MIN_EPOCHS, 200].
DEFAULT_CELL_PASSES = 400_000
#: Fewest epochs of a default training (from 100,000 cells on).
MIN_EPOCHS = 4
#: Fewest cells SCMDCF trains on (see ``train``).
MIN_TRAINING_CELLS = 3
#: Minibatch size of the training cells' embedding for the plan's refreshes.
_REFRESH_BATCH_SIZE = 1024

#: ``setup_mudata`` arguments that ``modalities`` may map to a modality.
_MODALITY_ARGS = [
    *LAYER_ARGS.values(),
    "batch_key",
    "size_factor_key",
    "categorical_covariate_keys",
    "continuous_covariate_keys",
]
_MODALITIES_EXAMPLE = "{'rna_layer': 'rna', 'protein_layer': 'prot'}"


def default_max_epochs(n_cells: int) -> int:
    """Epochs of a default training on ``n_cells`` cells.

    A fixed budget of cell passes (:data:`DEFAULT_CELL_PASSES`): small sets get up to
    :data:`DEFAULT_MAX_EPOCHS` epochs (a few hundred cells need them to converge); from 2,000
    cells on the number of gradient steps, and so the training time, stays the same, until
    the floor of :data:`MIN_EPOCHS` epochs makes it grow again from 100,000 cells on.
    """
    epochs = round(DEFAULT_CELL_PASSES / max(n_cells, 1))
    return int(np.clip(epochs, MIN_EPOCHS, DEFAULT_MAX_EPOCHS))


class SCMDCF(QueryMappingMixin, SafeSaveLoadMixin, UnsupervisedTrainingMixin, BaseModelClass):
    """Contrastive fusion of paired multi-omics cells (CITE-seq, Multiome, RNA+ATAC+protein).

    After scMDCF (Cheng et al., Genome Medicine 2026): one encoder per modality, a
    cross-modality contrastive loss aligning each cell's views, a fusion of the views into one
    joint embedding, count likelihoods for reconstruction from the joint embedding (batch and
    covariates injected into the decoders, as in scvi-tools), and a DEC clustering head
    trained in the same ``train()`` call after a warm-up.

    Where the defaults depart from the published method, and why (measured on real data, see
    the README's benchmark and its protocol):

    - Each encoder reads its modality through a fixed PCA (RNA: log-normalised, scaled; protein:
      CLR) or LSI (ATAC: TF-IDF) fitted on the training cells (``n_input_components``), then a
      linear map plus a non-linear correction that starts at zero. Deep encoders on thousands
      of raw features lost the cell-type structure on a few hundred cells.
    - With ``batch_key``, each batch's RNA and protein features are centred on the batch's own
      means before that PCA (the location step of ComBat), which removes most of a batch
      shift before any training; query batches get their centres from the query cells
      (:meth:`load_query_data`). This assumes batches of broadly similar composition.
    - The fusion joins the modality embeddings side by side (``fusion="concat"``), each
      weighted by how well it fits the clusters of the joint embedding (refreshed during the
      warm-up), so a noisy modality (600 sparse peaks) cannot drown a clean one. The
      published attention fusion stays available as ``fusion="attention"``.
    - The contrastive loss moves the more reliable modality less (``asymmetric_alignment``) and
      draws its negatives within each batch (``contrastive_within_batch``), so it neither
      pulls a clean view towards a noisy one nor learns the batch effect. Likewise a
      modality's reconstruction reshapes a more reliable modality's block of the joint
      embedding only in proportion to the weights (``asymmetric_reconstruction``): 25,000
      sparse peaks decoded from the joint embedding otherwise pull the RNA block away from
      the cell types.
    - The DEC head learns its centres on the joint embedding without moving it
      (``clustering_shapes_embedding=False``), so its clusters are the model's own output
      while the embedding stays good for any number of clusters.
    - The number of epochs scales with the number of cells (:func:`default_max_epochs`).

    Cells measured in only some modalities (a MuData whose modalities hold different subsets
    of ``mdata.obs``) are embedded from the modalities they have; contrastive terms use only
    cells with both views.

    Parameters
    ----------
    adata
        MuData registered with :meth:`setup_mudata`.
    n_latent
        Dimension of each modality's embedding. The joint embedding has ``n_latent`` per
        modality with the default ``fusion="concat"`` (``n_latent`` with ``"attention"``).
    n_hidden
        Width of hidden layers.
    n_layers
        Hidden layers of each encoder's non-linear correction; 0 (the default) makes each
        encoder linear on its PCA / LSI components, which kept the cell types best on every
        set the defaults were chosen on (README). Decoders have ``max(n_layers - 1, 1)``.
    dropout_rate
        Dropout in the encoders.
    n_clusters
        Number of clusters of the DEC head; ``None`` takes the Leiden clustering of the joint
        embedding whose clusters have the highest silhouette when the clustering phase
        starts (no labels needed).
    max_clusters
        Largest number of clusters the DEC head can hold.
    rna_likelihood
        ``"nb"`` or ``"zinb"``.
    protein_likelihood
        ``"nb_mixture"`` (totalVI-style background/foreground) or ``"nb"``.
    atac_likelihood
        ``"bernoulli"`` (on binarised counts) or ``"poisson"``.
    contrastive_loss
        ``"info_nce"`` (NT-Xent over the minibatch) or ``"mutual_information"`` (scMDCF's
        entropy-regularised form, weight ``lamb``). InfoNCE is the default: on both labelled
        CITE-seq data sets it gave clearly better Leiden clusters (see the README).
    lamb
        Entropy weight of the mutual-information loss; ``None`` uses scMDCF's (0.5 with
        protein, 10 with ATAC).
    reconstruction_weights
        Weight per modality (``{"rna": 1.0, "protein": 1.0}``) of its reconstruction term,
        each averaged over the modality's features.
    contrastive_weight
        Weight of the contrastive loss.
    clustering_weight
        Weight of the DEC loss in the clustering phase. Stronger weights make the clusters of
        the joint embedding more compact but lock in the initial partition; across seeds the
        default (1) gave the best Leiden clusters on the labelled CITE-seq data (README).
    variational
        Gaussian encoders regularised towards ``N(0, I)`` (as scvi-tools models), or
        deterministic ones (as the published scMDCF).
    **module_kwargs
        Passed to :class:`~scvi_contrastive.module.ContrastiveFusionModule`.

    Examples
    --------
    >>> mdata = scvi_contrastive.data.read_cite_seq("pbmc10x_cite")
    >>> SCMDCF.setup_mudata(
    ...     mdata, rna_layer="counts", protein_layer="counts",
    ...     modalities={"rna_layer": "rna", "protein_layer": "prot"},
    ... )
    >>> model = SCMDCF(mdata)
    >>> model.train()
    >>> mdata.obsm["X_scmdcf"] = model.get_latent_representation()
    >>> mdata.obs["scmdcf_cluster"] = model.get_cluster_assignments().astype(str)
    """

    _module_cls = ContrastiveFusionModule
    _training_plan_cls = ContrastiveFusionTrainingPlan

    def __init__(
        self,
        adata: MuData,
        n_latent: int = 16,
        n_hidden: int = 256,
        n_layers: int = 0,
        dropout_rate: float = 0.1,
        n_clusters: int | None = None,
        max_clusters: int = 50,
        rna_likelihood: Literal["nb", "zinb"] = "nb",
        protein_likelihood: Literal["nb_mixture", "nb"] = "nb_mixture",
        atac_likelihood: Literal["bernoulli", "poisson"] = "bernoulli",
        contrastive_loss: Literal["mutual_information", "info_nce"] = "info_nce",
        lamb: float | None = None,
        reconstruction_weights: dict[str, float] | None = None,
        contrastive_weight: float = 1.0,
        clustering_weight: float = 1.0,
        variational: bool = True,
        **module_kwargs,
    ):
        super().__init__(adata)
        if n_clusters is not None and n_clusters < 2:
            raise ValueError(f"`n_clusters` must be at least 2 or None, got {n_clusters}.")
        self.n_clusters = n_clusters
        registry = self.adata_manager.data_registry
        n_features = {
            m: self.adata_manager.get_from_registry(key).shape[1]
            for m, key in COUNT_KEYS.items()
            if key in registry
        }
        n_cats_per_cov = (
            self.adata_manager.get_state_registry(REGISTRY_KEYS.CAT_COVS_KEY).n_cats_per_key
            if REGISTRY_KEYS.CAT_COVS_KEY in registry
            else None
        )
        self.module = self._module_cls(
            n_features,
            n_batch=self.summary_stats.n_batch,
            n_cats_per_cov=n_cats_per_cov,
            n_continuous_cov=self.summary_stats.get("n_extra_continuous_covs", 0),
            n_latent=n_latent,
            n_hidden=n_hidden,
            n_layers=n_layers,
            dropout_rate=dropout_rate,
            likelihoods={
                MODALITIES.RNA: rna_likelihood,
                MODALITIES.PROTEIN: protein_likelihood,
                MODALITIES.ATAC: atac_likelihood,
            },
            contrastive_loss=contrastive_loss,
            lamb=lamb,
            reconstruction_weights=reconstruction_weights,
            contrastive_weight=contrastive_weight,
            clustering_weight=clustering_weight,
            max_clusters=max(max_clusters, n_clusters or 0),
            variational=variational,
            **module_kwargs,
        )
        self._fit_input_transforms()
        self._model_summary_string = (
            f"SCMDCF model with modalities {self.module.modalities} "
            f"({', '.join(f'{m}: {n}' for m, n in n_features.items())} features), "
            f"n_latent: {n_latent}, contrastive loss: {contrastive_loss}, "
            f"n_clusters: {n_clusters if n_clusters is not None else 'Leiden'}, "
            f"likelihoods: {self.module.likelihoods}"
        )
        self.init_params_ = self._get_init_params(locals())

    def _fit_input_transforms(self) -> None:
        """Fix each encoder's input transform from the cells measured in its modality."""
        observed = self._observed()
        batches = np.asarray(self.adata_manager.get_from_registry(REGISTRY_KEYS.BATCH_KEY)).ravel()
        for i, m in enumerate(self.module.modalities):
            statistics = fit_input_transform(
                self.adata_manager.get_from_registry(COUNT_KEYS[m]),
                np.flatnonzero(observed[:, i] > 0),
                kind=TRANSFORM_KINDS[m],
                n_components=self.module.n_input_components,
                seed=scvi.settings.seed or 0,
                batches=batches,
                n_batch=self.summary_stats.n_batch,
            )
            self.module.encoders[m].transform.set_statistics(statistics)

    def _prepare_query_model(self, n_reference_batches: int) -> None:
        """Centre the query's new batches on their own feature means, as the reference's are."""
        observed = self._observed()
        batches = np.asarray(self.adata_manager.get_from_registry(REGISTRY_KEYS.BATCH_KEY)).ravel()
        for i, m in enumerate(self.module.modalities):
            transform = self.module.encoders[m].transform
            if TRANSFORM_KINDS[m] == "tfidf":
                continue
            matrix = self.adata_manager.get_from_registry(COUNT_KEYS[m])
            shift = transform.batch_shift.clone().cpu()
            measured = observed[:, i] > 0
            for b in np.unique(batches[measured]):
                if b < n_reference_batches:
                    continue
                rows = np.flatnonzero((batches == b) & measured)
                means = batch_feature_means(matrix, rows, TRANSFORM_KINDS[m], transform.target_sum)
                shift[:, int(b)] = torch.from_numpy(means) - transform.feature_mean.cpu()
            transform.set_statistics({"batch_shift": shift})

    def _observed(self) -> np.ndarray:
        table = self.adata_manager.get_from_registry(REGISTRY_KEYS.OBSERVED_KEY)
        return np.asarray(table, dtype=np.float32)

    @devices_dsp.dedent
    def train(
        self,
        max_epochs: int | None = None,
        n_epochs_pretrain: int | None = None,
        accelerator: str = "auto",
        devices: int | list[int] | str = "auto",
        train_size: float | None = None,
        validation_size: float | None = None,
        batch_size: int = 256,
        early_stopping: bool = False,
        lr: float = 2e-3,
        plan_kwargs: dict | None = None,
        datasplitter_kwargs: dict | None = None,
        **trainer_kwargs,
    ):
        """Train the model: warm-up, then the clustering phase, in one call.

        Calling ``train()`` again continues from the trained weights: the clusters are kept
        and the clustering loss is on from the call's first epoch (``n_epochs_pretrain`` has
        no effect then); ``history`` gets the new epochs numbered after the earlier ones. To
        train from scratch, build a new model.

        Parameters
        ----------
        max_epochs
            Total number of epochs. ``None`` scales them with the data as scvi-tools does:
            :func:`default_max_epochs` gives about 400,000 cell passes (200 epochs up to
            2,000 cells, 40 at 10,000, 4 from 100,000 on).
        n_epochs_pretrain
            Epochs before the DEC clustering phase begins; ``None`` uses half of
            ``max_epochs``.
        %(param_accelerator)s
        %(param_devices)s
        train_size
            Fraction of cells used for training (scvi's default, 0.9, when ``None``).
        validation_size
            Fraction of cells for validation.
        batch_size
            Minibatch size; the contrastive loss compares cells within a minibatch, so larger
            batches give it more negatives.
        early_stopping
            Stop when the validation ELBO stops improving.
        lr
            Learning rate of Adam.
        plan_kwargs
            Passed to :class:`~scvi_contrastive.train.ContrastiveFusionTrainingPlan`; values
            here override the arguments above.
        datasplitter_kwargs
            Passed to scvi's :class:`~scvi.dataloaders.DataSplitter`.
        **trainer_kwargs
            Passed to :class:`~scvi.train.Trainer`, e.g.
            ``strategy="ddp_find_unused_parameters_true"`` and ``devices=4`` for distributed
            training (the DEC centres take no gradient during pretraining, which plain
            ``"ddp"`` refuses; ``batch_size`` is then per process), ``gradient_clip_val=1.0``
            to clip the gradient norm,
            ``callbacks=[TrainingCheckpoint(folder)]`` to write a checkpoint every epoch and
            ``ckpt_path=folder / "last.ckpt"`` to resume from it (see
            :mod:`scvi_contrastive.train.callbacks`). A NaN or infinite loss stops training
            with :class:`~scvi_contrastive.train.callbacks.NonFiniteLossError` naming the term.
        """
        check_training_arguments(max_epochs, batch_size, n_epochs_pretrain)
        if self.adata.n_obs < MIN_TRAINING_CELLS:
            raise ValueError(
                f"SCMDCF needs at least {MIN_TRAINING_CELLS} cells to train, got "
                f"{self.adata.n_obs}: scvi's data splitter moves a last minibatch of fewer than "
                "3 cells out of training (BatchNorm cannot take it), which leaves none."
            )
        if self.is_trained_:
            logger.info(
                "SCMDCF is already trained: this call continues from the trained weights, with "
                "the clustering loss on from its first epoch (the clusters are kept)."
            )
        if max_epochs is None:
            max_epochs = default_max_epochs(self.adata.n_obs)
        if n_epochs_pretrain is None:
            n_epochs_pretrain = max_epochs // 2
        plan_kwargs = {
            "lr": lr,
            "n_epochs_pretrain": n_epochs_pretrain,
            "n_epochs_kl_warmup": max(1, n_epochs_pretrain // 2),
            "n_clusters": self.n_clusters,
            **(plan_kwargs or {}),
        }
        trainer_kwargs["callbacks"] = with_default_callbacks(trainer_kwargs.get("callbacks"))
        trainer_kwargs["callbacks"].append(
            ScheduledRefresh(
                self._refresh_from_training_cells,
                due=lambda trainer: trainer.lightning_module.refresh_due(trainer.current_epoch),
                due_at_end=lambda trainer: not self.module.dec.initialized,
            )
        )
        before = history_so_far(self)
        result = super().train(
            max_epochs=max_epochs,
            accelerator=accelerator,
            devices=devices,
            train_size=train_size,
            validation_size=validation_size,
            batch_size=batch_size,
            early_stopping=early_stopping,
            plan_kwargs=plan_kwargs,
            datasplitter_kwargs=datasplitter_kwargs,
            **trainer_kwargs,
        )
        number_continued_epochs(self, before)
        return result

    def _refresh_from_training_cells(self, trainer: pl.Trainer, final: bool) -> None:
        """Embed the training cells, in evaluation mode, and let the plan act on them."""
        keys = ["observed", *(f"z_{m}" for m in self.module.modalities)]
        with eval_mode(self.module):
            outputs = self._inference_outputs(
                self.adata, trainer.datamodule.train_idx, _REFRESH_BATCH_SIZE, keys
            )
        outputs = {key: torch.from_numpy(value) for key, value in outputs.items()}
        trainer.lightning_module.refresh(outputs, final=final)

    def _inference_outputs(
        self, adata: MuData | None, indices: Sequence[int] | None, batch_size: int | None, keys
    ) -> dict[str, np.ndarray]:
        adata = self._validate_anndata(adata)
        indices = check_indices(indices, adata.n_obs)
        loader = self._make_data_loader(adata=adata, indices=indices, batch_size=batch_size)
        return {
            key: value.numpy() for key, value in self.module.inference_over(loader, keys).items()
        }

    def get_latent_representation(
        self,
        adata: MuData | None = None,
        modality: str = "joint",
        indices: Sequence[int] | None = None,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """Embedding of each cell.

        The arguments are MULTIVI's, in its order.

        Parameters
        ----------
        adata
            MuData with the registered modalities; the one the model was set up with if
            ``None``.
        modality
            ``"joint"`` for the fused embedding, or ``"rna"``, ``"protein"``, ``"atac"`` for
            one encoder's embedding (``NaN`` rows for cells not measured in that modality).
        indices
            Cells to embed (all if ``None``).
        batch_size
            Minibatch size for inference.

        Returns
        -------
        ``(n_cells, n_latent)`` array.
        """
        if modality == "joint":
            return self._inference_outputs(adata, indices, batch_size, ["z"])["z"]
        if modality not in self.module.modalities:
            raise ValueError(
                f"`modality` must be 'joint' or one of {self.module.modalities}, got {modality!r}."
            )
        out = self._inference_outputs(adata, indices, batch_size, [f"z_{modality}", "observed"])
        latent = out[f"z_{modality}"].copy()
        latent[out["observed"][:, self.module.modalities.index(modality)] <= 0] = np.nan
        return latent

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
        """
        adata = self._validate_anndata(adata)
        indices = check_indices(indices, adata.n_obs)
        weights = self._inference_outputs(adata, indices, batch_size, ["fusion_weights"])
        obs_names = adata.obs_names if indices is None else adata.obs_names[np.asarray(indices)]
        return pd.DataFrame(
            weights["fusion_weights"], index=obs_names, columns=self.module.modalities
        )

    def get_cluster_assignments(
        self,
        adata: MuData | None = None,
        indices: Sequence[int] | None = None,
        batch_size: int | None = None,
        soft: bool = False,
    ) -> np.ndarray:
        """Clusters of the DEC head.

        Parameters
        ----------
        adata
            MuData; the one the model was set up with if ``None``.
        indices
            Cells (all if ``None``).
        batch_size
            Minibatch size for inference.
        soft
            Return the ``(n_cells, k)`` soft assignment instead of the hard labels.

        Returns
        -------
        Integer cluster per cell, or the soft assignment.
        """
        if not self.module.dec.initialized:
            raise RuntimeError("Clusters are initialised during `train()`; train the model first.")
        latent = self.get_latent_representation(adata, indices=indices, batch_size=batch_size)
        latent = torch.from_numpy(latent)
        q = self.module.soft_clusters(latent.to(self.device)).cpu().numpy()
        return q if soft else q.argmax(axis=1)

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
        adata
            MuData; the one the model was set up with if ``None``.
        indices
            Cells (all if ``None``).
        modality
            ``"rna"``, ``"protein"`` or ``"atac"``.
        library_size
            RNA (and Poisson ATAC) values are expected counts at this library size (1 gives
            proportions). Protein values are the expected counts of the likelihood (background
            included); Bernoulli ATAC values are accessibility probabilities.
        transform_batch
            Decode every cell as if it came from this batch category.
        batch_size
            Minibatch size for inference.

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
        adata
            MuData; the one the model was set up with if ``None``.
        indices
            Cells (all if ``None``).
        region_list
            Regions to return (all if ``None``), in this order.
        transform_batch
            Decode every cell as if it came from this batch category.
        batch_size
            Minibatch size for inference.

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

    _saved_count_modalities = staticmethod(count_modalities)

    @classmethod
    def setup_anndata(cls, adata, *args, **kwargs):
        """Not supported: paired modalities are registered from a MuData.

        Use :meth:`setup_mudata`, e.g. with ``mudata.MuData({"rna": rna, "prot": prot})``.
        """
        raise TypeError(
            "SCMDCF registers paired modalities from a MuData; use `SCMDCF.setup_mudata(mdata, "
            "..., modalities={'rna_layer': 'rna', 'protein_layer': 'prot'})`."
        )

    @classmethod
    @setup_anndata_dsp.dedent
    def setup_mudata(
        cls,
        mdata: MuData,
        rna_layer: str | None = None,
        atac_layer: str | None = None,
        protein_layer: str | None = None,
        batch_key: str | None = None,
        size_factor_key: str | None = None,
        categorical_covariate_keys: list[str] | None = None,
        continuous_covariate_keys: list[str] | None = None,
        modalities: dict[str, str] | None = None,
        **kwargs,
    ):
        """%(summary_mdata)s.

        Register any two of RNA, protein and ATAC counts (or all three) of the same cells.
        Modalities may hold different subsets of ``mdata.obs`` (cells measured in only some
        modalities).

        Adds to ``mdata``: ``obsm["_scvi_contrastive_observed"]`` (which modalities measured
        each cell) and, for each modality whose cells differ from ``mdata.obs``,
        ``obsm["_scvi_contrastive_<modality>"]`` (its counts aligned to ``mdata.obs``, zero rows
        for cells it lacks) and ``uns["_scvi_contrastive_<modality>_var_names"]``. As in every
        scvi-tools model, ``uns["_scvi_uuid"]``/``uns["_scvi_manager_uuid"]`` are set,
        ``obs["_scvi_batch"]`` is added (to the ``.obs`` that ``modalities`` maps ``batch_key``
        to; all zeros without a ``batch_key``), covariates are gathered in
        ``obsm["_scvi_extra_categorical_covs"]``/``obsm["_scvi_extra_continuous_covs"]``, and a
        dense count matrix that is not C-contiguous is made so (values unchanged). Counts,
        layers, ``var`` and existing ``obs`` columns are never changed, by setup, training or
        the getters (see ``docs/reliability.md``). Backed (``backed=True``) data are refused.

        Parameters
        ----------
        %(param_mdata)s
        rna_layer
            RNA layer of raw counts; ``None`` uses ``.X`` of the RNA modality.
        atac_layer
            ATAC layer of raw counts; ``None`` uses ``.X`` of the ATAC modality.
        protein_layer
            Protein layer of raw counts; ``None`` uses ``.X`` of the protein modality.
        %(param_batch_key)s
        size_factor_key
            Column of ``.obs`` with RNA size factors, used instead of the observed library size.
        %(param_cat_cov_keys)s
        %(param_cont_cov_keys)s
        %(param_modalities)s

        Examples
        --------
        >>> SCMDCF.setup_mudata(
        ...     mdata, rna_layer="counts", protein_layer="counts",
        ...     modalities={"rna_layer": "rna", "protein_layer": "prot"},
        ... )
        """
        setup_method_args = cls._get_setup_method_args(**locals())
        check_is_mudata(mdata, "{'rna': rna, 'prot': prot}")
        modality_of, registered = resolve_modalities(
            cls, mdata, modalities, setup_method_args, _MODALITY_ARGS, _MODALITIES_EXAMPLE
        )
        _validate_mudata(mdata, registered)
        _check_categorical_columns(
            mdata, modality_of, batch_key, list(categorical_covariate_keys or [])
        )
        register_mudata(
            cls,
            mdata,
            registered,
            [
                fields.MuDataCategoricalObsField(
                    REGISTRY_KEYS.BATCH_KEY, batch_key, mod_key=modality_of.batch_key
                ),
                fields.MuDataNumericalObsField(
                    REGISTRY_KEYS.SIZE_FACTOR_KEY,
                    size_factor_key,
                    mod_key=modality_of.size_factor_key,
                    required=False,
                ),
                fields.MuDataCategoricalJointObsField(
                    REGISTRY_KEYS.CAT_COVS_KEY,
                    categorical_covariate_keys,
                    mod_key=modality_of.categorical_covariate_keys,
                ),
                fields.MuDataNumericalJointObsField(
                    REGISTRY_KEYS.CONT_COVS_KEY,
                    continuous_covariate_keys,
                    mod_key=modality_of.continuous_covariate_keys,
                ),
            ],
            setup_method_args,
            **kwargs,
        )


def _validate_mudata(mdata: MuData, registered: dict[str, SetupModality]) -> None:
    if len(registered) < 2:
        raise ValueError(
            f"SCMDCF integrates at least two modalities; name them in `modalities`, e.g. "
            f"{_MODALITIES_EXAMPLE}."
        )
    check_in_memory(mdata, "`mdata`")
    if mdata.n_obs == 0:
        raise ValueError("`mdata` has no cells; check the filtering that produced it.")
    check_unique_obs_names(mdata)
    for modality in registered.values():
        if not mdata.mod[modality.name].obs_names.isin(mdata.obs_names).all():
            raise ValueError(
                f"Modality {modality.name!r} holds cells missing from `mdata.obs`; call "
                "`mdata.update()` after changing modalities."
            )
    check_paired_cells({m.name: mdata.mod[m.name].obs_names for m in registered.values()})


def _check_categorical_columns(
    mdata: MuData, modalities, batch_key: str | None, categorical_covariate_keys: list[str]
) -> None:
    """Clear errors for missing categorical columns or cells without a category."""
    for argument, columns in (
        ("batch_key", [batch_key] if batch_key is not None else []),
        ("categorical_covariate_keys", categorical_covariate_keys),
    ):
        mod_key = getattr(modalities, argument)
        obs = mdata.obs if mod_key is None else mdata.mod[mod_key].obs
        where = "`mdata.obs`" if mod_key is None else f"`mdata.mod[{mod_key!r}].obs`"
        check_obs_columns(obs, dict.fromkeys(columns, argument), where)
