"""Module of the paired contrastive fusion model (:class:`~scvi_contrastive.model.SCMDCF`)."""

from __future__ import annotations

from itertools import combinations
from typing import Literal

import torch
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from torch import nn
from torch.distributions import Normal, kl_divergence

from .._constants import COUNT_KEYS, MODALITIES, REGISTRY_KEYS
from ..data.argument_checks import check_count_argument
from ..nn.contrastive import info_nce_loss, mutual_information_loss, scale_gradient
from ..nn.dec import DECHead, clustering_loss, target_distribution
from ..nn.decoders import MultiHeadDecoder
from ..nn.encoders import TransformedEncoder
from ..nn.fusion import AttentionFusion, WeightedConcatFusion
from ..nn.input_transform import RNA_TRANSFORMS, InputTransform, n_transform_components
from ._likelihoods import LIKELIHOOD_HEADS, count_distribution, resolve_likelihoods

#: Input transform of the protein and ATAC encoders (RNA's follows ``rna_input``).
TRANSFORM_KINDS = {
    MODALITIES.PROTEIN: "clr",
    MODALITIES.ATAC: "tfidf",
}
#: scMDCF's entropy weight of the mutual-information loss, by the non-RNA modality of a pair.
DEFAULT_LAMB = {MODALITIES.PROTEIN: 0.5, MODALITIES.ATAC: 10.0}


def default_rna_input(modalities: list[str]) -> str:
    """The RNA encoder's input transform when ``rna_input`` is not given.

    Analytic Pearson residuals beside ATAC alone, log-normalised counts whenever a protein
    panel is measured (README, decision 11: the residuals raised every RNA + ATAC set whose
    ATAC carries little cell type and lowered every CITE-seq set).
    """
    if MODALITIES.ATAC in modalities and MODALITIES.PROTEIN not in modalities:
        return "pearson_residuals"
    return "log_normalize"


def modality_widths(
    modalities: list[str], n_latent: int, n_latent_rna: int | None, fusion: str
) -> dict[str, int]:
    """Each modality's embedding dimension: ``n_latent``, the RNA's ``n_latent_rna``.

    ``n_latent_rna=None`` gives the RNA ``n_latent`` too. Attention fusion mixes blocks of
    equal width, so it refuses any other.
    """
    if n_latent_rna is None:
        n_latent_rna = n_latent
    elif MODALITIES.RNA not in modalities:
        raise ValueError(
            f"`n_latent_rna` sets the RNA block's width, but the modalities are {modalities}: "
            "leave it None."
        )
    check_count_argument(n_latent_rna, "n_latent_rna", 1)
    n_latent_rna = int(n_latent_rna)
    if fusion != "concat" and n_latent_rna != n_latent:
        raise ValueError(
            f'`fusion="{fusion}"` mixes embeddings of equal width: `n_latent_rna` must equal '
            f"`n_latent` ({n_latent}) or be None, got {n_latent_rna}."
        )
    return {m: n_latent_rna if m == MODALITIES.RNA else n_latent for m in modalities}


def projection_heads(widths: dict[str, int], n_contrastive: int) -> nn.ModuleDict:
    """The contrastive projection head of each modality: one shared head at equal widths.

    A shared head maps both views of a cell with the same weights, as the published scMDCF
    does; blocks of different widths need their own.
    """
    if len(set(widths.values())) == 1:
        shared = nn.Linear(next(iter(widths.values())), n_contrastive)
        return nn.ModuleDict({m: shared for m in widths})
    return nn.ModuleDict({m: nn.Linear(w, n_contrastive) for m, w in widths.items()})


class ContrastiveFusionModule(BaseModuleClass):
    """Per-modality encoders, contrastive alignment, fusion, count decoders and DEC.

    Parameters
    ----------
    n_features
        Number of features of each modality present, keyed by ``"rna"``, ``"protein"``,
        ``"atac"`` (at least two).
    n_batch
        Number of batches; batch is injected into the decoders, and each batch's RNA and
        protein inputs are centred on its own feature means before the encoders' projection.
    n_cats_per_cov
        Category counts of extra categorical covariates (decoders).
    n_continuous_cov
        Number of continuous covariates (decoders).
    n_latent
        Dimension of each modality's embedding (the RNA's may differ: ``n_latent_rna``). With
        the default ``fusion="concat"`` the joint embedding has the modality embeddings side
        by side; with ``"attention"``, ``n_latent`` dimensions.
    n_hidden
        Width of hidden layers.
    n_layers
        Hidden layers of each encoder's non-linear correction; 0 (the default) makes each
        encoder linear on its PCA / LSI components, which kept the cell types best on every
        set the defaults were chosen on (README). Decoders have ``max(n_layers - 1, 1)``.
    dropout_rate
        Dropout in the encoders.
    likelihoods
        Count likelihood per modality: RNA ``"nb"``/``"zinb"``, protein ``"nb_mixture"`` (a
        totalVI-style background/foreground mixture) or ``"nb"``, ATAC ``"bernoulli"`` (on
        binarised counts) or ``"poisson"``.
    contrastive_loss
        ``"info_nce"`` (NT-Xent) or ``"mutual_information"`` (scMDCF's entropy-regularised
        form).
    n_contrastive
        Output dimension of the projection head the contrastive loss sees (one head shared
        by the modalities when their embeddings are equally wide, else one per modality).
    lamb
        Entropy weight of the mutual-information loss; ``None`` uses scMDCF's values, 0.5 for
        pairs with protein and 10 for pairs with ATAC.
    temperature
        Temperature of the InfoNCE loss.
    reconstruction_weights
        Weight of each modality's reconstruction term. Each term is the negative
        log-likelihood averaged over the modality's features, so a 14-antibody panel and a
        1,000-gene panel start on equal footing.
    contrastive_weight
        Weight of the contrastive loss.
    clustering_weight
        Weight of the DEC loss once clusters are initialised (the training plan schedules it).
    max_clusters
        Room for cluster centres in the DEC head.
    variational
        Encode each modality as a Gaussian posterior regularised towards ``N(0, I)`` (KL weight
        warmed up by the training plan), as scvi-tools models do; otherwise deterministic
        encoders as in scMDCF. The KL term is divided by the total number of features, the
        same scale as the per-feature reconstruction terms.
    n_input_components
        Components of the fixed PCA (RNA, protein) or LSI (ATAC) each encoder reads; ``None``
        feeds all normalised features (not possible for ATAC).
    rna_input
        Normalisation of the RNA counts before that PCA: ``"log_normalize"`` (log-normalised,
        standardised genes, as scanpy's standard PCA) or ``"pearson_residuals"`` (analytic
        Pearson residuals, which model sequencing depth instead of dividing it out; see
        :class:`~scvi_contrastive.nn.InputTransform`). ``None`` chooses by the modalities
        (:func:`default_rna_input`): the residuals for RNA + ATAC, log-normalised counts
        when a protein panel is measured. In the README's benchmark the residuals raised
        Leiden ARI on the RNA + ATAC sets whose ATAC carries little cell type (BMMC Multiome
        0.35 → 0.44, SNARE-seq cortex 0.28 → 0.31) and lowered it on every CITE-seq set.
    fusion
        ``"concat"``: the modality embeddings side by side, weighted by
        :class:`~scvi_contrastive.nn.fusion.WeightedConcatFusion` (weights set by the training
        plan); ``"attention"``: scMDCF's learned attention over the embeddings.
    contrastive_within_batch
        Draw the contrastive loss's negatives only from the anchor's batch.
    clustering_shapes_embedding
        Let the DEC loss move the embedding (as in DEC and scMDCF). Off by default: the DEC
        loss then trains only the centres, so the clustering head cannot merge cell types in
        the joint embedding. With the number of clusters chosen by silhouette (often 2–5 on
        data with 15–40 types), a shaping head pulled SNARE-seq cortex into 2 blobs (README).
    asymmetric_alignment
        Scale each modality's contrastive gradient by the other's share of the fusion
        weights, so the more reliable modality is moved less (``fusion="concat"`` only).
    asymmetric_reconstruction
        Scale the gradient each modality's reconstruction sends into another modality's block
        of the joint embedding by ``min(1, w_own / w_other)``, so a modality with a small
        fusion weight does not reshape a more reliable modality's embedding
        (``fusion="concat"`` only).
    n_latent_rna
        Dimension of the RNA embedding (``fusion="concat"`` only); ``None`` is ``n_latent``.
        A wider RNA block keeps more of the genes' independent directions than the protein
        or ATAC blocks need. In the README's benchmark (fourteenth round) 32 with
        ``n_latent=16`` raised SNARE-seq cortex and the 10x Multiome subset and kept CBMC's
        partition in every seed, but lowered BMMC Multiome, so it is not the default.
    """

    def __init__(
        self,
        n_features: dict[str, int],
        n_batch: int = 0,
        n_cats_per_cov: list[int] | None = None,
        n_continuous_cov: int = 0,
        n_latent: int = 16,
        n_hidden: int = 256,
        n_layers: int = 0,
        dropout_rate: float = 0.1,
        likelihoods: dict[str, str] | None = None,
        contrastive_loss: Literal["mutual_information", "info_nce"] = "info_nce",
        n_contrastive: int = 16,
        lamb: float | None = None,
        temperature: float = 0.1,
        reconstruction_weights: dict[str, float] | None = None,
        contrastive_weight: float = 1.0,
        clustering_weight: float = 1.0,
        max_clusters: int = 50,
        variational: bool = True,
        n_input_components: int | None = 50,
        rna_input: Literal["log_normalize", "pearson_residuals"] | None = None,
        fusion: Literal["attention", "concat"] = "concat",
        contrastive_within_batch: bool = True,
        clustering_shapes_embedding: bool = False,
        asymmetric_alignment: bool = True,
        asymmetric_reconstruction: bool = True,
        n_latent_rna: int | None = None,
    ):
        super().__init__()
        self.modalities = [m for m in COUNT_KEYS if n_features.get(m, 0) > 0]
        if len(self.modalities) < 2:
            raise ValueError(f"At least two modalities are needed, got {self.modalities}.")
        if contrastive_loss not in ("mutual_information", "info_nce"):
            raise ValueError(
                "`contrastive_loss` must be 'mutual_information' or 'info_nce', got "
                f"{contrastive_loss!r}."
            )
        if rna_input is None:
            rna_input = default_rna_input(self.modalities)
        if rna_input not in RNA_TRANSFORMS:
            raise ValueError(f"`rna_input` must be one of {RNA_TRANSFORMS}, got {rna_input!r}.")
        self.n_features = {m: n_features[m] for m in self.modalities}
        self.n_batch = n_batch
        self.likelihoods = resolve_likelihoods(self.modalities, likelihoods)
        self.contrastive_loss = contrastive_loss
        self.lamb = lamb
        self.temperature = temperature
        self.reconstruction_weights = {
            m: (reconstruction_weights or {}).get(m, 1.0) for m in self.modalities
        }
        self.contrastive_weight = contrastive_weight
        self.clustering_weight = clustering_weight
        self.variational = variational
        self.n_input_components = n_input_components
        self.contrastive_within_batch = contrastive_within_batch
        self.clustering_shapes_embedding = clustering_shapes_embedding
        self.asymmetric_alignment = asymmetric_alignment
        self.asymmetric_reconstruction = asymmetric_reconstruction

        #: Dimension of each modality's embedding.
        self.n_latents = modality_widths(self.modalities, n_latent, n_latent_rna, fusion)
        kinds = {**TRANSFORM_KINDS, MODALITIES.RNA: rna_input}
        cat_list = [n_batch, *(n_cats_per_cov or [])]
        self.encoders = nn.ModuleDict(
            {
                m: TransformedEncoder(
                    InputTransform(
                        n,
                        n_transform_components(n, kinds[m], n_input_components),
                        kinds[m],
                        n_batch=n_batch,
                    ),
                    self.n_latents[m],
                    n_hidden=n_hidden,
                    n_layers=n_layers,
                    dropout_rate=dropout_rate,
                    variational=variational,
                )
                for m, n in self.n_features.items()
            }
        )
        if fusion == "concat":
            self.fusion = WeightedConcatFusion(
                [self.n_latents[m] for m in self.modalities], len(self.modalities)
            )
            n_joint = self.fusion.n_output
        else:
            self.fusion = AttentionFusion(n_latent, len(self.modalities))
            n_joint = n_latent
        #: Dimension of the joint embedding (the modality embeddings' with ``"concat"``).
        self.n_joint = n_joint
        self.projections = projection_heads(self.n_latents, n_contrastive)
        self.decoders = nn.ModuleDict(
            {
                m: MultiHeadDecoder(
                    n_joint,
                    n,
                    LIKELIHOOD_HEADS[self.likelihoods[m]],
                    n_cat_list=cat_list,
                    n_cont=n_continuous_cov,
                    n_hidden=n_hidden,
                    n_layers=max(n_layers - 1, 1),
                )
                for m, n in self.n_features.items()
            }
        )
        self.log_dispersion = nn.ParameterDict(
            {
                m: nn.Parameter(torch.zeros(n))
                for m, n in self.n_features.items()
                if self.likelihoods[m] in ("nb", "zinb", "nb_mixture")
            }
        )
        self.dec = DECHead(n_joint, max_clusters=max_clusters)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Saves from before `n_latent_rna` name their one shared head `projection`.
        for name in ("weight", "bias"):
            shared = state_dict.pop(f"{prefix}projection.{name}", None)
            if shared is not None:
                for m in self.modalities:
                    state_dict[f"{prefix}projections.{m}.{name}"] = shared
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _get_inference_input(self, tensors: dict[str, torch.Tensor], **kwargs) -> dict:
        return {
            "counts": {m: tensors[COUNT_KEYS[m]] for m in self.modalities},
            "observed": tensors[REGISTRY_KEYS.OBSERVED_KEY],
            "batch_index": tensors[REGISTRY_KEYS.BATCH_KEY],
        }

    def _get_generative_input(
        self, tensors: dict[str, torch.Tensor], inference_outputs: dict, **kwargs
    ) -> dict:
        cat_covs = tensors.get(REGISTRY_KEYS.CAT_COVS_KEY)
        size_factor = tensors.get(REGISTRY_KEYS.SIZE_FACTOR_KEY)
        return {
            "z": inference_outputs["z"],
            "library": inference_outputs["library"],
            "size_factor": size_factor,
            "batch_index": tensors[REGISTRY_KEYS.BATCH_KEY],
            "cat_covs": cat_covs,
            "cont_covs": tensors.get(REGISTRY_KEYS.CONT_COVS_KEY),
        }

    @auto_move_data
    def inference(
        self,
        counts: dict[str, torch.Tensor],
        observed: torch.Tensor,
        batch_index: torch.Tensor | None = None,
    ) -> dict:
        """Embed each modality and fuse the embeddings.

        ``batch_index`` centres each cell's input on its batch's feature means (see
        :class:`~scvi_contrastive.nn.InputTransform`); without it the global means are used.

        Returns a dict with ``z`` (joint embedding), ``z_<modality>`` (per-modality
        embeddings; posterior samples in training mode, posterior means otherwise, when
        variational), ``qz_<modality>`` (posteriors, when variational), ``fusion_weights`` and
        ``library`` (observed log library per modality).
        """
        outputs = {}
        embeddings = {}
        for m in self.modalities:
            encoded = self.encoders[m](counts[m], batch_index)
            if isinstance(encoded, Normal):
                outputs[f"qz_{m}"] = encoded
                encoded = encoded.rsample() if self.training else encoded.loc
            embeddings[m] = encoded
        joint, weights = self.fusion([embeddings[m] for m in self.modalities], observed)
        outputs.update({f"z_{m}": z for m, z in embeddings.items()})
        outputs.update(
            z=joint,
            fusion_weights=weights,
            observed=observed,
            library={m: counts[m].sum(dim=1, keepdim=True).clamp_min(1.0).log() for m in counts},
        )
        return outputs

    @auto_move_data
    def generative(
        self,
        z: torch.Tensor,
        library: dict[str, torch.Tensor],
        batch_index: torch.Tensor,
        size_factor: torch.Tensor | None = None,
        cat_covs: torch.Tensor | None = None,
        cont_covs: torch.Tensor | None = None,
    ) -> dict:
        """Likelihood of each modality's counts given the joint embedding.

        Returns a dict with one ``torch.distributions.Distribution`` per modality, keyed
        ``p_<modality>``.
        """
        cat_list = [batch_index] + (
            list(torch.split(cat_covs, 1, dim=1)) if cat_covs is not None else []
        )
        library = dict(library)
        if size_factor is not None and MODALITIES.RNA in library:
            library[MODALITIES.RNA] = size_factor.log()
        return {
            f"p_{m}": self._distribution(
                m, self.decoders[m](z_m, *cat_list, cont=cont_covs), library[m]
            )
            for m, z_m in zip(self.modalities, self._decoder_inputs(z), strict=True)
        }

    def _decoder_inputs(self, z: torch.Tensor) -> list[torch.Tensor]:
        """The joint embedding as each modality's decoder reads it, in module order.

        Unchanged in the forward pass. With ``asymmetric_reconstruction`` and the weighted
        concatenation, the gradient that a modality's reconstruction sends into another
        modality's block is scaled by ``min(1, w_modality / w_other)``: a modality with a
        small fusion weight (e.g. 25,000 sparse peaks beside RNA) still trains its decoder
        and its own encoder, but does not reshape the block of a more reliable modality.
        """
        weights = getattr(self.fusion, "weights", None)
        if weights is None or not self.asymmetric_reconstruction:
            return [z] * len(self.modalities)
        # One read of the weights per step, not one per decoder and block.
        weights = weights.tolist()
        blocks = z.split(self.fusion.widths, dim=1)
        return [
            torch.cat(
                [
                    scale_gradient(block, min(1.0, own / max(w, 1e-12)))
                    for block, w in zip(blocks, weights, strict=True)
                ],
                dim=1,
            )
            for own in weights
        ]

    def _distribution(self, modality: str, out: dict, log_library: torch.Tensor):
        return count_distribution(
            self.likelihoods[modality],
            modality == MODALITIES.PROTEIN,
            out,
            log_library,
            self.log_dispersion[modality] if modality in self.log_dispersion else None,
        )

    def loss(
        self,
        tensors: dict[str, torch.Tensor],
        inference_outputs: dict,
        generative_outputs: dict,
        kl_weight: float = 1.0,
        clustering_weight: float | None = None,
        contrastive_weight: float | None = None,
        reconstruction_weights: dict[str, float] | None = None,
    ) -> LossOutput:
        """Weighted reconstruction, contrastive and (once active) DEC losses.

        Parameters
        ----------
        tensors
            Minibatch.
        inference_outputs
            Output of :meth:`inference`.
        generative_outputs
            Output of :meth:`generative`.
        kl_weight
            Weight of the KL term of variational encoders (warmed up by the training plan).
        clustering_weight, contrastive_weight, reconstruction_weights
            Override the module's weights for this step (the training plan schedules them).
        """
        observed = inference_outputs["observed"]
        rec_weights = {**self.reconstruction_weights, **(reconstruction_weights or {})}
        nll = {}
        objective = torch.zeros(observed.shape[0], device=observed.device)
        for i, m in enumerate(self.modalities):
            x = tensors[COUNT_KEYS[m]]
            if self.likelihoods[m] == "bernoulli":
                x = (x > 0).to(x.dtype)
            nll[m] = -generative_outputs[f"p_{m}"].log_prob(x).sum(dim=-1) * observed[:, i]
            objective = objective + rec_weights[m] * nll[m] / self.n_features[m]

        kl = self._kl(inference_outputs)
        if kl:
            objective = objective + kl_weight * sum(kl.values()) / sum(self.n_features.values())

        contrastive = self._contrastive(inference_outputs, tensors[REGISTRY_KEYS.BATCH_KEY])
        w_con = self.contrastive_weight if contrastive_weight is None else contrastive_weight
        total = objective.mean() + w_con * sum(contrastive.values())

        extra = {f"reconstruction_{m}": v.mean().detach() for m, v in nll.items()}
        extra.update({f"contrastive_{k}": v.detach() for k, v in contrastive.items()})
        if self.dec.initialized:
            z = inference_outputs["z"]
            q = self.dec(z if self.clustering_shapes_embedding else z.detach())
            dec = clustering_loss(q, target_distribution(q).detach()).mean()
            w_clu = self.clustering_weight if clustering_weight is None else clustering_weight
            total = total + w_clu * dec
            extra["clustering"] = dec.detach()
        return LossOutput(
            loss=total,
            reconstruction_loss=nll,
            kl_local=kl or torch.zeros_like(objective),
            extra_metrics=extra,
        )

    def _kl(self, inference_outputs: dict) -> dict[str, torch.Tensor]:
        observed = inference_outputs["observed"]
        kl = {}
        for i, m in enumerate(self.modalities):
            posterior = inference_outputs.get(f"qz_{m}")
            if posterior is not None:
                prior = Normal(torch.zeros_like(posterior.loc), torch.ones_like(posterior.scale))
                kl[m] = kl_divergence(posterior, prior).sum(dim=-1) * observed[:, i]
        return kl

    def _contrastive(
        self, inference_outputs: dict, batch_index: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        observed = inference_outputs["observed"]
        losses = {}
        for (i, a), (j, b) in combinations(enumerate(self.modalities), 2):
            both = (observed[:, i] > 0) & (observed[:, j] > 0)
            if both.sum() < 2:
                continue
            scale_a, scale_b = self._alignment_gradient_scales(i, j)
            h_a = self.projections[a](scale_gradient(inference_outputs[f"z_{a}"][both], scale_a))
            h_b = self.projections[b](scale_gradient(inference_outputs[f"z_{b}"][both], scale_b))
            if self.contrastive_loss == "info_nce":
                groups = batch_index.reshape(-1)[both] if self.contrastive_within_batch else None
                loss = info_nce_loss(h_a, h_b, self.temperature, groups)
            else:
                loss = mutual_information_loss(
                    torch.softmax(h_a, dim=1), torch.softmax(h_b, dim=1), self._pair_lamb(a, b)
                )
            losses[f"{a}_{b}"] = loss
        return losses

    def _alignment_gradient_scales(self, i: int, j: int) -> tuple[float, float]:
        """How strongly the alignment of modalities ``i`` and ``j`` moves each embedding.

        The more reliable modality of the pair (the larger fusion weight) is moved less, in
        proportion to the weights: a clean view teaches a noisy one and is not pulled towards
        its noise. Equal weights move both fully.
        """
        weights = getattr(self.fusion, "weights", None)
        if weights is None or not self.asymmetric_alignment:
            return 1.0, 1.0
        w_i, w_j = float(weights[i]), float(weights[j])
        top = max(w_i, w_j, 1e-12)
        return w_j / top, w_i / top

    def _pair_lamb(self, a: str, b: str) -> float:
        if self.lamb is not None:
            return self.lamb
        return max(DEFAULT_LAMB.get(a, 0.0), DEFAULT_LAMB.get(b, 0.0))

    @torch.inference_mode()
    def soft_clusters(self, z: torch.Tensor) -> torch.Tensor:
        """DEC soft assignment of joint embeddings ``z`` to the cluster centres."""
        return self.dec(z)
