"""Training plan of :class:`~scvi_contrastive.model.SCMDCF`: two phases in one ``train()``."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import torch
from scvi.module import Classifier
from scvi.train import AdversarialTrainingPlan, TrainingPlan

from ..module.fusion import ContrastiveFusionModule
from ..nn.fusion import WeightedConcatFusion, cluster_fit_weights
from ..tools.clustering import initial_centers, leiden_clusters
from .plan import SyncedTrainingPlan

logger = logging.getLogger(__name__)


#: Weight of the adversarial batch classifier's fooling term (see the plan's docstring).
DEFAULT_ADVERSARIAL_SCALE = 1.0


class ContrastiveFusionTrainingPlan(SyncedTrainingPlan, AdversarialTrainingPlan):
    """scvi's :class:`~scvi.train.TrainingPlan` with scMDCF's pretrain → clustering schedule.

    For the first ``n_epochs_pretrain`` epochs the module learns from reconstruction and
    contrastive losses. At the start of the next epoch the training cells are embedded, the DEC
    centres are initialised from them (by Leiden or k-means), and from then on the DEC loss
    joins the objective. With the weighted concatenation fusion, the modality weights are
    re-estimated from the embedded cells during the warm-up. If training stops before the
    clustering phase, the centres are initialised at the end so that cluster assignments are
    always available. The plan decides when (:meth:`refresh_due`) and what
    (:meth:`refresh`); the model embeds the cells, through a
    :class:`~scvi_contrastive.train.ScheduledRefresh` callback that ``SCMDCF.train`` adds.
    Every rank of a distributed run embeds all training cells (not only its shard) with the
    same seed, and rank 0's weights and centres are broadcast so that all ranks use the same.

    With ``adversarial_classifier=True`` it trains as scvi's
    :class:`~scvi.train.AdversarialTrainingPlan` (totalVI's): a small classifier learns to
    tell each cell's batch from its joint embedding, and the module is trained to fool it, so
    that cells of one type from different batches mix locally. Otherwise it optimises exactly
    as :class:`~scvi.train.TrainingPlan` does.

    Parameters
    ----------
    module
        The module to train.
    n_epochs_pretrain
        Epochs before the clustering phase.
    n_clusters
        Number of clusters, or ``None`` to take it from Leiden on the embedding.
    cluster_init
        How the centres are initialised, see
        :func:`~scvi_contrastive.tools.clustering.initial_centers`.
    cluster_resolution
        Leiden resolution used when ``n_clusters`` is ``None``; ``None`` picks the resolution
        whose clusters have the highest silhouette.
    cluster_seed
        Seed of the clustering initialisation.
    clustering_loss_weights
        Loss weights switched on with the clustering phase, e.g. scMDCF's
        ``{"reconstruction_weights": {"rna": 0.1, "protein": 10}, "contrastive_weight": 5}``.
    n_weight_refreshes
        How often during the warm-up the modality weights of a
        :class:`~scvi_contrastive.nn.fusion.WeightedConcatFusion` are re-estimated (Leiden on
        the joint embedding, then :func:`~scvi_contrastive.nn.fusion.cluster_fit_weights`);
        they are estimated once more, and then kept, when the clustering phase begins.
    adversarial_classifier
        Train the adversarial batch classifier (needs a module with more than one batch).
    scale_adversarial_loss
        Weight of the fooling term. A constant: scvi's ``"auto"`` (one minus the KL weight)
        would fade within the first quarter of SCMDCF's training, where its KL warm-up ends.
    gradient_clip_val
        Clip the gradient norm to this value with the adversarial classifier (whose manual
        optimisation Lightning's ``Trainer(gradient_clip_val=...)`` cannot clip);
        ``SCMDCF.train`` moves the Trainer argument here.
    gradient_clip_algorithm
        ``"norm"`` or ``"value"``, as Lightning's argument of that name.
    **kwargs
        Passed to :class:`~scvi.train.TrainingPlan` (``lr``, ``weight_decay``, ...).
    """

    def __init__(
        self,
        module: ContrastiveFusionModule,
        *,
        n_epochs_pretrain: int = 100,
        n_clusters: int | None = None,
        cluster_init: Literal["leiden", "kmeans"] = "leiden",
        cluster_resolution: float | None = None,
        cluster_seed: int = 0,
        clustering_loss_weights: dict | None = None,
        n_weight_refreshes: int = 4,
        adversarial_classifier: bool = False,
        scale_adversarial_loss: float = DEFAULT_ADVERSARIAL_SCALE,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: Literal["norm", "value"] = "norm",
        **kwargs,
    ):
        if adversarial_classifier and module.n_batch < 2:
            raise ValueError(
                "`adversarial_classifier=True` needs more than one batch; the model has "
                f"{module.n_batch}. Register a `batch_key` in `setup_mudata` or train without it."
            )
        super().__init__(
            module,
            adversarial_classifier=False,
            scale_adversarial_loss=scale_adversarial_loss,
            **kwargs,
        )
        if adversarial_classifier:
            # scvi's own classifier, read from the joint embedding (n_latent per modality).
            self.n_output_classifier = module.n_batch
            self.adversarial_classifier = Classifier(
                n_input=module.n_joint,
                n_hidden=32,
                n_labels=module.n_batch,
                n_layers=2,
                logits=True,
            )
        self.automatic_optimization = not adversarial_classifier
        self.manual_clip = (gradient_clip_val, gradient_clip_algorithm)
        self.n_epochs_pretrain = n_epochs_pretrain
        self.n_clusters = n_clusters
        self.cluster_init = cluster_init
        self.cluster_resolution = cluster_resolution
        self.cluster_seed = cluster_seed
        self.clustering_loss_weights = dict(clustering_loss_weights or {})
        self.n_weight_refreshes = n_weight_refreshes

    def training_step(self, batch, batch_idx):
        """The adversarial step of scvi with the classifier, its plain step without."""
        if self.automatic_optimization:
            return TrainingPlan.training_step(self, batch, batch_idx)
        return super().training_step(batch, batch_idx)

    def configure_optimizers(self):
        """Two optimisers (module, classifier) with the classifier, else scvi's one."""
        if self.automatic_optimization:
            return TrainingPlan.configure_optimizers(self)
        return super().configure_optimizers()

    def on_train_epoch_end(self) -> None:
        """Step a learning-rate scheduler as the active mode of optimisation needs."""
        if self.automatic_optimization:
            return TrainingPlan.on_train_epoch_end(self)
        return super().on_train_epoch_end()

    def on_validation_epoch_end(self) -> None:
        """Step a learning-rate scheduler as the active mode of optimisation needs."""
        if self.automatic_optimization:
            return TrainingPlan.on_validation_epoch_end(self)
        return super().on_validation_epoch_end()

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip the gradients of each optimiser's parameters, if asked to."""
        value, algorithm = self.manual_clip
        if value is not None:
            self.clip_gradients(
                optimizer, gradient_clip_val=value, gradient_clip_algorithm=algorithm
            )

    def on_train_epoch_start(self) -> None:
        """Switch the clustering phase's loss weights on once the DEC centres exist."""
        super().on_train_epoch_start()
        if self.module.dec.initialized:
            self.loss_kwargs.update(self.clustering_loss_weights)

    def refresh_due(self, epoch: int) -> bool:
        """Whether the training cells are embedded at the start of ``epoch``.

        They are when the clustering phase begins, and during the warm-up when the modality
        weights are re-estimated.
        """
        if self.module.dec.initialized:
            return False
        if epoch >= self.n_epochs_pretrain:
            return True
        if not isinstance(self.module.fusion, WeightedConcatFusion):
            return False
        return epoch % max(1, self.n_epochs_pretrain // self.n_weight_refreshes) == 0

    def refresh(self, outputs: dict[str, torch.Tensor], final: bool = False) -> None:
        """Act on the embedded training cells: start the clustering phase, or reweigh.

        Parameters
        ----------
        outputs
            ``observed`` and ``z_<modality>`` of the module's inference on the training cells.
        final
            Training has ended: initialise the clusters whatever the epoch.
        """
        if final or self.current_epoch >= self.n_epochs_pretrain:
            self._initialize_clusters(outputs)
        else:
            self._set_view_weights(outputs)

    @torch.inference_mode()
    def _joint(self, outputs: dict[str, torch.Tensor]) -> np.ndarray:
        """Joint embedding of the embedded cells under the current fusion."""
        device = self.module.device
        embeddings = [outputs[f"z_{m}"].to(device) for m in self.module.modalities]
        joint, _ = self.module.fusion(embeddings, outputs["observed"].to(device))
        return joint.cpu().numpy()

    def _set_view_weights(self, outputs: dict[str, torch.Tensor]) -> None:
        """Weigh the modalities by how well each fits the clusters of the joint embedding."""
        complete = (outputs["observed"] > 0).all(dim=1)
        clusters = leiden_clusters(self._joint(outputs)[complete.numpy()], seed=self.cluster_seed)
        embeddings = [outputs[f"z_{m}"][complete] for m in self.module.modalities]
        weights, scales = cluster_fit_weights(embeddings, torch.from_numpy(clusters))
        weights = self.trainer.strategy.broadcast(weights, src=0)
        scales = self.trainer.strategy.broadcast(scales, src=0)
        self.module.fusion.set_weights(weights, scales)
        logger.info(
            "Modality weights: %s.",
            ", ".join(
                f"{m} {w:.2f}"
                for m, w in zip(self.module.modalities, weights.tolist(), strict=True)
            ),
        )

    def _initialize_clusters(self, outputs: dict[str, torch.Tensor]) -> None:
        if isinstance(self.module.fusion, WeightedConcatFusion):
            self._set_view_weights(outputs)
        centers = initial_centers(
            self._joint(outputs),
            self.n_clusters,
            method=self.cluster_init,
            resolution=self.cluster_resolution,
            seed=self.cluster_seed,
        )
        self.module.dec.set_centers(torch.as_tensor(self._rank_zero_centers(centers)))
        logger.info(
            "DEC initialised with %d clusters at epoch %d.", len(centers), self.current_epoch
        )

    def _rank_zero_centers(self, centers: np.ndarray) -> np.ndarray:
        """Rank 0's centres on every rank (a no-op in a single process).

        Every rank clustered the same cells with the same seed, but from its own copy of the
        BatchNorm running statistics, which DDP does not keep identical: each rank updates them
        from its own minibatches. The embeddings, and so possibly the clusters, can differ
        slightly, and the DEC loss needs one set of centres.
        """
        shared = self.trainer.strategy.broadcast(centers, src=0)
        if shared.shape != centers.shape:
            logger.info(
                "Rank %d found %d DEC clusters, rank 0 %d; using rank 0's.",
                self.global_rank,
                len(centers),
                len(shared),
            )
        elif not np.array_equal(shared, centers):
            logger.info(
                "DEC centres of rank %d differ from rank 0's by up to %.2g; using rank 0's.",
                self.global_rank,
                np.abs(shared - centers).max(),
            )
        return shared
