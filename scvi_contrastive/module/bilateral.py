"""Bilateral (cell- and feature-level) contrastive alignment of two sets of different cells."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from scvi.distributions import NegativeBinomial
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from torch import nn

from scvi_contrastive._constants import REGISTRY_KEYS
from scvi_contrastive.nn.contrastive import info_nce_loss, neighborhood_loss
from scvi_contrastive.nn.encoders import CountEncoder
from scvi_contrastive.nn.feature_embedding import FeatureEncoder

#: Minibatches with fewer positive pairs than this skip the cell-level loss (NT-Xent needs
#: negatives).
MIN_PAIRS = 2


class BilateralAlignmentModule(BaseModuleClass):
    """Encoders, feature embeddings and decoders of BiCLUM for two modalities.

    Each modality ``m`` has a cell encoder (counts → ``z`` on the unit sphere), a feature
    encoder (metacell sketch → one embedding per feature, ``Z_m``) and a decoder that
    reconstructs the cell from the inner product of the two:
    ``logits = softplus(scale_m) * z @ Z_m.T + bias_m``. Two contrastive losses align the
    modalities: NT-Xent between the two cells of each cross-modal positive (mutual nearest
    neighbour) pair, and NT-Xent between the two embeddings of each feature present in both
    modalities. A modality whose minibatch also holds its cells' own representation (under
    ``REGISTRY_KEYS.NEIGHBOR_SPACE_KEY``, e.g. the peaks' LSI next to gene activity) adds a
    third term that keeps its cells' neighbourhoods of that representation in ``z``
    (:func:`~scvi_contrastive.nn.contrastive.neighborhood_loss`).

    Minibatches are ``{modality: {"X": counts, "batch": ..., "mnn_pair": flag}}`` with both
    modalities present (see :class:`~scvi_contrastive.dataloaders.UnpairedDataLoader`).

    Parameters
    ----------
    modality_names
        The two modality names, as they key the minibatch.
    sketches
        Per modality, the ``(n_metacells, n_features)`` sketch its feature encoder reads.
    input_columns
        Per modality, the columns of its minibatch counts that are the model's features (e.g.
        the genes shared with the other modality); ``None``: all columns.
    feature_pairs
        Two equal-length index arrays: feature ``feature_pairs[0][i]`` of the first modality is
        the same feature as ``feature_pairs[1][i]`` of the second. ``None`` or empty switches the
        feature-level loss off (modalities with no features in common).
    n_batch
        Number of batches (0 or 1: no batch covariate).
    n_latent
        Dimension of the shared cell and feature space.
    n_hidden, n_layers, dropout_rate
        Shape of the cell and feature encoders.
    likelihood
        ``"nb"``: negative binomial on counts with the observed library size; ``"mse"``: squared
        error on standardised log-normalised values, as in the BiCLUM paper.
    cell_temperature, feature_temperature
        NT-Xent temperatures of the two contrastive losses.
    cell_weight, feature_weight
        Weights of the two contrastive losses (reconstruction has weight 1 per modality).
    max_feature_pairs
        Feature pairs per step in the feature-level loss (a random subset when there are more),
        which keeps its cost fixed for large gene panels.
    linear_path
        Give each cell encoder a linear map of its standardised features beside the MLP, for
        :meth:`start_cell_encoders` to start the embedding from.
    neighbor_weight
        Weight of the neighbourhood term, per modality that has it.
    neighbor_temperature
        Softmax temperature of the similarities in the cells' own representation (those in
        ``z`` use ``cell_temperature``).
    """

    def __init__(
        self,
        modality_names: Sequence[str],
        sketches: dict[str, np.ndarray],
        input_columns: dict[str, np.ndarray] | None = None,
        feature_pairs: tuple[np.ndarray, np.ndarray] | None = None,
        n_batch: int = 0,
        n_latent: int = 32,
        n_hidden: int = 256,
        n_layers: int = 1,
        dropout_rate: float = 0.2,
        likelihood: Literal["nb", "mse"] = "nb",
        cell_temperature: float = 0.5,
        feature_temperature: float = 0.5,
        cell_weight: float = 1.0,
        feature_weight: float = 1.0,
        max_feature_pairs: int = 1024,
        linear_path: bool = False,
        neighbor_weight: float = 1.0,
        neighbor_temperature: float = 0.1,
    ):
        super().__init__()
        if len(modality_names) != 2:
            raise ValueError(f"Two modalities are required, got {list(modality_names)}.")
        if likelihood not in ("nb", "mse"):
            raise ValueError(f"`likelihood` must be 'nb' or 'mse', got {likelihood!r}.")
        self.modality_names = list(modality_names)
        self.n_latent = n_latent
        self.likelihood = likelihood
        self.n_batch = n_batch
        self.cell_temperature = cell_temperature
        self.feature_temperature = feature_temperature
        self.cell_weight = cell_weight
        self.feature_weight = feature_weight
        self.max_feature_pairs = max_feature_pairs
        self.neighbor_weight = neighbor_weight
        self.neighbor_temperature = neighbor_temperature
        # LeakyReLU(0.2) as in BiCLUM's encoders.
        activation = partial(nn.LeakyReLU, 0.2)
        n_cat_list = [n_batch] if n_batch > 1 else None
        self.cell_encoders = nn.ModuleDict()
        self.feature_encoders = nn.ModuleDict()
        self.log_scale = nn.ParameterDict()
        self.bias = nn.ParameterDict()
        self.log_theta = nn.ParameterDict()
        for name in self.modality_names:
            sketch = sketches[name]
            n_features = sketch.shape[1]
            self.cell_encoders[name] = CountEncoder(
                n_features,
                n_latent,
                n_hidden=n_hidden,
                n_layers=n_layers,
                dropout_rate=dropout_rate,
                n_cat_list=n_cat_list,
                activation_fn=activation,
                linear_path=linear_path,
            )
            self.feature_encoders[name] = FeatureEncoder(
                sketch, n_latent, n_hidden, n_layers, dropout_rate, activation
            )
            self.log_scale[name] = nn.Parameter(torch.zeros(1))
            self.bias[name] = nn.Parameter(torch.zeros(max(n_batch, 1), n_features))
            self.log_theta[name] = nn.Parameter(torch.zeros(n_features))
            columns = np.arange(n_features) if input_columns is None else input_columns[name]
            if len(columns) != n_features:
                raise ValueError(
                    f"Modality {name!r}: {len(columns)} input columns for a sketch of "
                    f"{n_features} features."
                )
            self.register_buffer(f"columns_{name}", torch.as_tensor(columns, dtype=torch.long))
        pairs = feature_pairs if feature_pairs is not None else (np.array([]), np.array([]))
        self.register_buffer("feature_pairs", torch.as_tensor(np.stack(pairs), dtype=torch.long))

    @property
    def has_feature_pairs(self) -> bool:
        """Whether the feature-level loss is on (the modalities share features)."""
        return self.feature_pairs.shape[1] > 0

    def set_feature_scaling(self, name: str, mean: np.ndarray, std: np.ndarray) -> None:
        """Fix the per-feature standardisation of one modality's cell encoder."""
        self.cell_encoders[name].set_feature_scaling(torch.as_tensor(mean), torch.as_tensor(std))

    def start_cell_encoders(self, weights: dict[str, np.ndarray]) -> None:
        """Start each modality's cell embedding at a linear map of its standardised features.

        Parameters
        ----------
        weights
            Per modality, its ``(n_latent, n_features)`` map (see
            :meth:`~scvi_contrastive.nn.encoders.CountEncoder.start_at`).
        """
        for name, weight in weights.items():
            self.cell_encoders[name].start_at(weight)

    def counts(self, tensors: dict, name: str) -> torch.Tensor:
        """The model's feature columns of modality ``name``'s counts in a minibatch."""
        x = tensors[name][REGISTRY_KEYS.X_KEY]
        # Inference outside Lightning (getters, the MNN refresh) hands over CPU minibatches
        # while the column buffer lives with the module, on the GPU when it trains there.
        return x[:, getattr(self, f"columns_{name}").to(x.device)]

    def _get_inference_input(self, tensors: dict, **kwargs) -> dict:
        names = [name for name in self.modality_names if name in tensors]
        return {
            "x": {name: self.counts(tensors, name) for name in names},
            "batch_index": {name: tensors[name].get(REGISTRY_KEYS.BATCH_KEY) for name in names},
        }

    def _get_generative_input(self, tensors: dict, inference_outputs: dict, **kwargs) -> dict:
        return {"z": inference_outputs["z"], "batch_index": inference_outputs["batch_index"]}

    def _batch_args(self, batch_index: torch.Tensor | None) -> list[torch.Tensor]:
        return [batch_index] if self.n_batch > 1 and batch_index is not None else []

    @auto_move_data
    def inference(self, x: dict, batch_index: dict) -> dict:
        """Cell embeddings of every modality present in ``x``."""
        # On the unit sphere: the contrastive losses and the MNN search are cosine-based, so
        # Euclidean neighbourhoods of the returned embedding agree with what was trained.
        z = {
            name: F.normalize(self.cell_encoders[name](x_m, *self._batch_args(batch_index[name])))
            for name, x_m in x.items()
        }
        return {"z": z, "batch_index": batch_index}

    def feature_embeddings(self) -> dict[str, torch.Tensor]:
        """``(n_features, n_latent)`` embedding of every feature, per modality."""
        return {name: self.feature_encoders[name]() for name in self.modality_names}

    @auto_move_data
    def generative(self, z: dict, batch_index: dict) -> dict:
        """Decoder logits ``softplus(scale) * z @ Z.T + bias`` for every modality in ``z``."""
        features = self.feature_embeddings()
        logits = {}
        for name, z_m in z.items():
            batch = batch_index[name]
            rows = batch.long().view(-1) if batch is not None and self.n_batch > 1 else 0
            bias = self.bias[name][rows]
            logits[name] = F.softplus(self.log_scale[name]) * (z_m @ features[name].T) + bias
        return {"logits": logits, "features": features}

    def _reconstruction(self, name: str, counts: torch.Tensor, logits: torch.Tensor):
        """Per-cell reconstruction loss, averaged over features (so modalities weigh equally)."""
        if self.likelihood == "mse":
            target = self.cell_encoders[name].normalize(counts)
            return (logits - target).pow(2).mean(dim=-1)
        library = counts.sum(dim=-1, keepdim=True)
        mu = library * torch.softmax(logits, dim=-1)
        theta = self.log_theta[name].exp()
        return -NegativeBinomial(mu=mu, theta=theta).log_prob(counts).mean(dim=-1)

    def cell_contrastive_loss(self, tensors: dict, z: dict) -> torch.Tensor:
        """NT-Xent over the cross-modal positive pairs flagged in the minibatch."""
        first, second = self.modality_names
        mask_a = tensors[first][REGISTRY_KEYS.PAIR_KEY].view(-1) > 0
        mask_b = tensors[second][REGISTRY_KEYS.PAIR_KEY].view(-1) > 0
        if int(mask_a.sum()) < MIN_PAIRS or int(mask_a.sum()) != int(mask_b.sum()):
            return z[first].sum() * 0.0
        return info_nce_loss(z[first][mask_a], z[second][mask_b], self.cell_temperature)

    def feature_contrastive_loss(self, features: dict) -> torch.Tensor:
        """NT-Xent between the two embeddings of each shared feature (a random subset)."""
        first, second = self.modality_names
        if not self.has_feature_pairs:
            return features[first].sum() * 0.0
        pairs = self.feature_pairs
        if pairs.shape[1] > self.max_feature_pairs:
            keep = torch.randperm(pairs.shape[1], device=pairs.device)[: self.max_feature_pairs]
            pairs = pairs[:, keep]
        return info_nce_loss(
            features[first][pairs[0]], features[second][pairs[1]], self.feature_temperature
        )

    def neighborhood_losses(self, tensors: dict, z: dict) -> dict[str, torch.Tensor]:
        """Per modality whose minibatch holds its own representation, the neighbourhood term."""
        key = REGISTRY_KEYS.NEIGHBOR_SPACE_KEY
        return {
            name: neighborhood_loss(
                z[name], tensors[name][key], self.cell_temperature, self.neighbor_temperature
            )
            for name in self.modality_names
            if key in tensors.get(name, {})
        }

    def loss(self, tensors: dict, inference_outputs: dict, generative_outputs: dict) -> LossOutput:
        """Reconstruction of both modalities plus the cell- and feature-level contrastive terms.

        Every term is reported on its own in ``extra_metrics`` (``reconstruction_<modality>``,
        ``cell_contrastive``, ``feature_contrastive`` and, where trained,
        ``neighborhood_<modality>``), so ``model.history`` shows each.
        """
        z = inference_outputs["z"]
        logits = generative_outputs["logits"]
        reconstruction = {
            name: self._reconstruction(name, self.counts(tensors, name), logits[name])
            for name in self.modality_names
        }
        cell = self.cell_contrastive_loss(tensors, z)
        feature = self.feature_contrastive_loss(generative_outputs["features"])
        total = sum(rec.mean() for rec in reconstruction.values())
        total = total + self.cell_weight * cell + self.feature_weight * feature
        neighborhood = self.neighborhood_losses(tensors, z)
        total = total + self.neighbor_weight * sum(neighborhood.values())
        extra = {f"reconstruction_{name}": rec.mean() for name, rec in reconstruction.items()}
        extra.update({"cell_contrastive": cell, "feature_contrastive": feature})
        extra.update({f"neighborhood_{name}": term for name, term in neighborhood.items()})
        return LossOutput(
            loss=total,
            # Summed per modality (the two minibatch halves may differ in size); the ELBO-style
            # metric the training plan logs divides by ``n_obs_minibatch``.
            reconstruction_loss={name: rec.sum() for name, rec in reconstruction.items()},
            n_obs_minibatch=sum(rec.shape[0] for rec in reconstruction.values()),
            extra_metrics={key: value.detach() for key, value in extra.items()},
        )

    def sample(self, *args, **kwargs):
        """Not supported: BiCLUM is not a generative model of cells."""
        raise NotImplementedError("BilateralAlignmentModule does not define a sampling procedure.")
