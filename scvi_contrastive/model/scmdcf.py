"""Paired contrastive fusion of multi-omics cells, after scMDCF (Genome Medicine 2026)."""

from __future__ import annotations

import logging
from typing import Literal

import lightning.pytorch as pl
import numpy as np
import scvi
import torch
from lightning.pytorch import LightningDataModule
from mudata import MuData
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin
from scvi.utils._docstrings import devices_dsp

from .._constants import COUNT_KEYS, MODALITIES, REGISTRY_KEYS
from ..data.argument_checks import check_training_arguments
from ..module.fusion import ContrastiveFusionModule
from ..tools.clustering import MAX_CLUSTER_CELLS
from ..tools.sketch import random_sketch
from ..train.callbacks import with_default_callbacks
from ..train.eval_mode import eval_mode
from ..train.fusion import ContrastiveFusionTrainingPlan
from ..train.history import history_so_far, number_continued_epochs
from ..train.scheduled_refresh import ScheduledRefresh
from ._input_transforms import (
    centre_new_batches,
    fit_encoder_transforms,
    fit_encoder_transforms_from_datamodule,
    registered_feature_counts,
)
from ._scmdcf_getters import FusionGettersMixin
from ._scmdcf_setup import FusionSetupMixin
from .decoding import DecodingMixin
from .query import QueryMappingMixin
from .saving import SafeSaveLoadMixin

logger = logging.getLogger(__name__)

#: Upper bound of the default number of epochs (half warm-up, half clustering).
DEFAULT_MAX_EPOCHS = 200
#: Cell passes of the default training: epochs = this / cells, within [MIN_EPOCHS, 200].
DEFAULT_CELL_PASSES = 100_000
#: Fewest epochs of a default training (from 25,000 cells on).
MIN_EPOCHS = 4
#: Fewest cells SCMDCF trains on (see ``train``).
MIN_TRAINING_CELLS = 3
#: Minibatch size of the training cells' embedding for the plan's refreshes.
_REFRESH_BATCH_SIZE = 1024


def default_max_epochs(n_cells: int) -> int:
    """Epochs of a default training on ``n_cells`` cells.

    A fixed budget of cell passes (:data:`DEFAULT_CELL_PASSES`): small sets get up to
    :data:`DEFAULT_MAX_EPOCHS` epochs (a few hundred cells need them to converge); from 500
    cells on the number of gradient steps, and so the training time, stays the same, until
    the floor of :data:`MIN_EPOCHS` epochs makes it grow again from 25,000 cells on. Longer
    training moves the embedding further from its PCA / LSI start, which lost cell types on
    real sets with thousands of genes (the README's protocol, decision 9).
    """
    epochs = round(DEFAULT_CELL_PASSES / max(n_cells, 1))
    return int(np.clip(epochs, MIN_EPOCHS, DEFAULT_MAX_EPOCHS))


class SCMDCF(
    FusionGettersMixin,
    FusionSetupMixin,
    DecodingMixin,
    QueryMappingMixin,
    SafeSaveLoadMixin,
    UnsupervisedTrainingMixin,
    BaseModelClass,
):
    """Contrastive fusion of paired multi-omics cells (CITE-seq, Multiome, RNA+ATAC+protein).

    After scMDCF (Cheng et al., Genome Medicine 2026): one encoder per modality, a
    cross-modality contrastive loss aligning each cell's views, a fusion of the views into one
    joint embedding, count likelihoods for reconstruction from the joint embedding (batch and
    covariates injected into the decoders, as in scvi-tools), and a DEC clustering head
    trained in the same ``train()`` call after a warm-up.

    Where the defaults depart from the published method, and why (measured on real data, see
    the README's benchmark and its protocol):

    - Each encoder reads its modality through a fixed PCA (RNA: log-normalised, scaled, or
      analytic Pearson residuals; protein: CLR) or LSI (ATAC: TF-IDF) fitted on the training
      cells (``n_input_components``), then a linear map plus a non-linear correction that
      starts at zero. Deep encoders on thousands of raw features lost the cell-type
      structure on a few hundred cells. The RNA input follows the modalities (module
      argument ``rna_input``, :func:`~scvi_contrastive.module.fusion.default_rna_input`):
      Pearson residuals beside ATAC alone, log-normalised counts whenever a protein panel is
      measured, as the residuals did better on every RNA + ATAC set whose peaks carry little
      cell type and worse on every CITE-seq set in the README's benchmark (decision 11).
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
        MuData registered with :meth:`setup_mudata`; ``None`` with ``datamodule``.
    n_latent
        Dimension of each modality's embedding. The joint embedding has ``n_latent`` per
        modality with the default ``fusion="concat"`` (``n_latent`` with ``"attention"``).
        The module argument ``n_latent_rna`` gives the RNA block its own width (the README's
        fourteenth round: 32 helped on some sets and lowered BMMC Multiome).
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
    registry
        scvi-tools' registry of the data when ``adata`` is ``None`` (default:
        ``datamodule.registry``).
    datamodule
        ``EXPERIMENTAL`` Instead of ``adata``: a datamodule such as
        :class:`~scvi_contrastive.dataloaders.PairedMappedDataModule` (scvi-tools'
        custom-datamodule path). The input transforms are fitted on its training cells;
        train with ``train(datamodule=...)`` and embed with
        ``get_latent_representation(dataloader=datamodule.inference_dataloader())``.
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
        adata: MuData | None = None,
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
        *,
        registry: dict | None = None,
        datamodule: LightningDataModule | None = None,
        **module_kwargs,
    ):
        if adata is None and datamodule is None:
            raise ValueError("SCMDCF needs the cells: pass `adata` or `datamodule`.")
        if adata is None and registry is None:
            registry = datamodule.registry
        super().__init__(adata, registry)
        self._datamodule = datamodule if adata is None else None
        if n_clusters is not None and n_clusters < 2:
            raise ValueError(f"`n_clusters` must be at least 2 or None, got {n_clusters}.")
        self.n_clusters = n_clusters
        if self._datamodule is not None:
            n_features, n_cats_per_cov = registered_feature_counts(self.registry), None
        else:
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
        self.init_params_["non_kwargs"].pop("datamodule", None)

    def _fit_input_transforms(self) -> None:
        """Fix each encoder's input transform from the cells measured in its modality."""
        if self._datamodule is not None:
            fit_encoder_transforms_from_datamodule(
                self._datamodule, self.module, self.summary_stats.n_batch, scvi.settings.seed or 0
            )
            return
        fit_encoder_transforms(
            self.adata_manager, self.module, self.summary_stats.n_batch, scvi.settings.seed or 0
        )

    def _prepare_query_model(self, n_reference_batches: int) -> None:
        """Centre the query's new batches on their own feature means, as the reference's are."""
        centre_new_batches(self.adata_manager, self.module, n_reference_batches)

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
        adversarial_classifier: bool | None = None,
        plan_kwargs: dict | None = None,
        datasplitter_kwargs: dict | None = None,
        datamodule: LightningDataModule | None = None,
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
            :func:`default_max_epochs` gives about 100,000 cell passes (200 epochs up to
            500 cells, 10 at 10,000, 4 from 25,000 on).
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
        adversarial_classifier
            Train the joint embedding against scvi's adversarial batch classifier, as totalVI
            can, so that cells of the same type from different batches mix locally (the
            per-batch centring of the inputs removes only each batch's mean shift). ``None``:
            on when the model has more than one batch, except for a model from
            :meth:`load_query_data`, whose training fits the new batches' parameters and
            leaves the encoders as they are (pass ``True`` with ``unfrozen=True`` to use it
            there). On the two BMMC sets it raised scib-metrics' batch correction and kept
            the cell types (README, decision 10).
        plan_kwargs
            Passed to :class:`~scvi_contrastive.train.ContrastiveFusionTrainingPlan`; values
            here override the arguments above.
        datasplitter_kwargs
            Passed to scvi's :class:`~scvi.dataloaders.DataSplitter`.
        datamodule
            ``EXPERIMENTAL`` The datamodule to train from, for a model built with one
            (``train_size``, ``validation_size``, ``batch_size`` and ``datasplitter_kwargs`` are
            then the datamodule's own).
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
        if (datamodule is None) == (self.adata is None):
            raise ValueError(
                "Train a model built with `adata` without `datamodule`, and one built with a "
                "datamodule with `datamodule=`."
            )
        n_cells = datamodule.n_obs if datamodule is not None else self.adata.n_obs
        if n_cells < MIN_TRAINING_CELLS:
            raise ValueError(
                f"SCMDCF needs at least {MIN_TRAINING_CELLS} cells to train, got "
                f"{n_cells}: scvi's data splitter moves a last minibatch of fewer than "
                "3 cells out of training (BatchNorm cannot take it), which leaves none."
            )
        if self.is_trained_:
            logger.info(
                "SCMDCF is already trained: this call continues from the trained weights, with "
                "the clustering loss on from its first epoch (the clusters are kept)."
            )
        if max_epochs is None:
            max_epochs = default_max_epochs(n_cells)
        if n_epochs_pretrain is None:
            n_epochs_pretrain = max_epochs // 2
        if adversarial_classifier is None:
            adversarial_classifier = self.module.n_batch > 1 and not self.query_mapped_
        plan_kwargs = {
            "lr": lr,
            "n_epochs_pretrain": n_epochs_pretrain,
            "n_epochs_kl_warmup": max(1, n_epochs_pretrain // 2),
            "n_clusters": self.n_clusters,
            "adversarial_classifier": adversarial_classifier,
            **(plan_kwargs or {}),
        }
        if plan_kwargs["adversarial_classifier"]:
            # Lightning clips only automatic optimisation; the adversarial plan clips itself.
            for key in ("gradient_clip_val", "gradient_clip_algorithm"):
                if key in trainer_kwargs:
                    plan_kwargs[key] = trainer_kwargs.pop(key)
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
            datamodule=datamodule,
            **trainer_kwargs,
        )
        number_continued_epochs(self, before)
        return result

    def _refresh_from_training_cells(self, trainer: pl.Trainer, final: bool) -> None:
        """Embed the training cells, in evaluation mode, and let the plan act on them."""
        keys = ["observed", *(f"z_{m}" for m in self.module.modalities)]
        # A random sketch of the training cells, as the plan clusters at most that many: the
        # refreshes then cost the same at any number of cells (all of them up to 20,000).
        train_idx = np.asarray(trainer.datamodule.train_idx)
        sketch = random_sketch(
            len(train_idx), MAX_CLUSTER_CELLS, trainer.lightning_module.cluster_seed
        )
        train_idx = train_idx[sketch]
        loader = None
        if self.adata is None:
            loader = trainer.datamodule.inference_dataloader(train_idx, _REFRESH_BATCH_SIZE)
        with eval_mode(self.module):
            outputs = self._inference_outputs(
                self.adata, train_idx, _REFRESH_BATCH_SIZE, keys, dataloader=loader
            )
        outputs = {key: torch.from_numpy(value) for key, value in outputs.items()}
        trainer.lightning_module.refresh(outputs, final=final)
