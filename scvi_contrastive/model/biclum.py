"""BiCLUM: bilateral contrastive alignment of unpaired single-cell modalities."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from anndata import AnnData
from mudata import MuData
from scvi import settings
from scvi.data import AnnDataManager
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin
from scvi.utils._docstrings import devices_dsp

from scvi_contrastive._constants import REGISTRY_KEYS
from scvi_contrastive.data.argument_checks import check_training_arguments
from scvi_contrastive.data.unpaired_backed import cell_positions
from scvi_contrastive.dataloaders import UnpairedDataSplitter
from scvi_contrastive.dataloaders.modality_rows import ModalityRowsManager
from scvi_contrastive.model._biclum_anchors import (
    SKETCH_CELLS,
    NormalizedRows,
    initial_embeddings,
    log_normalized_columns,
    mnn_rows,
    select_features,
    shared_feature_pairs,
    start_weights,
)
from scvi_contrastive.model._biclum_getters import BilateralGettersMixin
from scvi_contrastive.model._biclum_setup import BilateralSetupMixin
from scvi_contrastive.model._setup import count_modalities
from scvi_contrastive.model.label_transfer import LabelTransferMixin
from scvi_contrastive.model.query import BilateralQueryMixin
from scvi_contrastive.model.saving import SafeSaveLoadMixin
from scvi_contrastive.module.bilateral import BilateralAlignmentModule
from scvi_contrastive.tools.joint_pca import JointPCA, column_moments
from scvi_contrastive.tools.metacells import metacell_sketch
from scvi_contrastive.tools.neighbor_smoothing import smooth_along_neighbors
from scvi_contrastive.train.bilateral import MNNRefresh
from scvi_contrastive.train.callbacks import with_default_callbacks
from scvi_contrastive.train.plan import SyncedTrainingPlan
from scvi_contrastive.train.threads import preserve_torch_threads

logger = logging.getLogger(__name__)


class BICLUM(
    BilateralGettersMixin,
    BilateralSetupMixin,
    LabelTransferMixin,
    BilateralQueryMixin,
    SafeSaveLoadMixin,
    UnsupervisedTrainingMixin,
    BaseModelClass,
):
    """Bilateral contrastive alignment of two modalities measured in different cells.

    After BiCLUM (Yin et al., PLoS Comput Biol 2026). RNA cells and ATAC (gene activity) or
    protein cells are embedded in one latent space by per-modality cell encoders, trained with

    - reconstruction through per-modality feature embeddings (``x ~ z @ Z_m.T``), negative
      binomial on counts or squared error on standardised log-normalised values;
    - a cell-level NT-Xent loss pulling together cross-modal mutual nearest neighbours, found
      first in a joint PCA of the shared features (with none shared: a Gromov-Wasserstein match
      of the two data sets' shapes; with :meth:`train`'s ``neighbors_obsm``, a modality's
      cells smoothed along their own-space neighbours first) and then, every few epochs, also
      in the model's own latent space;
    - a feature-level NT-Xent loss pulling together the two embeddings of each shared gene.

    Feature embeddings are computed from a fixed-size metacell sketch of each modality, not
    from one input per cell, so memory does not grow with the number of cells.

    Where both encoders read only shared features (ATAC as gene activity), each cell encoder
    is a linear map of the standardised features plus the MLP, started at the joint PCA the
    first pairs come from (the MLP's output layer at zero): training begins with every cell at
    its joint PCA coordinates, the naive alignment, and moves them as far as the losses ask
    (``pca_start``).

    Parameters
    ----------
    adata
        MuData registered with :meth:`setup_mudata` or AnnData registered with
        :meth:`setup_anndata`.
    n_latent
        Dimension of the shared latent space.
    n_hidden, n_layers, dropout_rate
        Shape of the cell and feature encoders (BiCLUM: 256, 2, 0.2). One hidden layer by
        default: on every real unpaired set measured it aligned the modalities (FOSCTTM) and
        transferred labels better than two (README, *Unpaired at realistic size*).
    likelihood
        ``"nb"`` (negative binomial on the counts) or ``"mse"`` (squared error on standardised
        log-normalised values, as in the paper). Both read raw counts.
    n_metacells
        Size of each modality's sketch for the feature encoder (clipped to its cell count).
    n_pcs
        Components of the joint PCA the first pairs are found in.
    mnn_k
        Neighbourhood size of the mutual nearest neighbour search.
    anchor_keep
        Share of the mutual nearest neighbour pairs kept as positives, those whose two cells
        share the most neighbours (Seurat's anchor score,
        :func:`~scvi_contrastive.tools.anchors.shared_neighbor_scores`); 1 (default) keeps all. On
        SNARE-seq cortex (2,500 cells) keeping half raised the share of pairs of one cell type
        from 0.53 to 0.63 (README, *Unpaired at realistic size*).
    sketch_cells
        Most cells per modality the joint PCA is fitted on and the positive pairs are searched
        among (at construction and at every refresh): a modality with more is represented by
        a random sketch of this many cells
        (:func:`~scvi_contrastive.tools.sketch.random_sketch`), which keeps setup linear in the
        cells (10^6 cells: see README, *Scaling*). Every cell is still embedded and summarised
        in the metacells. ``None``: all cells, the exact search costing the product of the two
        modalities' sizes (pynndescent's approximate search above
        :data:`~scvi_contrastive.tools.anchors.EXACT_SEARCH_MAX_CELLS` cells). Modalities no
        larger are used whole.
    pca_start
        Start the cell encoders at the joint PCA where both read only shared features
        (:func:`~scvi_contrastive.model._biclum_anchors.start_weights`); ``False``: from random
        weights, as BiCLUM. Ignored with other features (RNA against a protein panel, or none
        shared). On all SNARE-seq cortex cells the start lowered FOSCTTM from 0.162 to 0.140 and
        raised label transfer from 0.546 to 0.582 (README, *Unpaired at realistic size*).
    **module_kwargs
        Keyword arguments of :class:`~scvi_contrastive.module.bilateral.BilateralAlignmentModule`
        (``cell_temperature``, ``feature_temperature``, ``cell_weight``, ``feature_weight``,
        ``neighbor_weight`` and ``neighbor_temperature`` of :meth:`train`'s ``neighbors_obsm``).

    Examples
    --------
    >>> activity = gene_activity(atac, genes=rna)
    >>> activity.obsm["X_lsi"] = peak_lsi(atac)  # the peaks' own view, for training
    >>> mdata = MuData({"rna": rna, "atac": activity})
    >>> BICLUM.setup_mudata(mdata, modalities={"rna_layer": "rna", "atac_layer": "atac"})
    >>> model = BICLUM(mdata)
    >>> model.train(neighbors_obsm={"atac": "X_lsi"})
    >>> mdata.obsm["X_biclum"] = model.get_latent_representation()
    """

    _module_cls = BilateralAlignmentModule
    _data_splitter_cls = UnpairedDataSplitter
    _training_plan_cls = SyncedTrainingPlan

    @preserve_torch_threads()
    def __init__(
        self,
        adata: AnnData | MuData,
        n_latent: int = 32,
        n_hidden: int = 256,
        n_layers: int = 1,
        dropout_rate: float = 0.2,
        likelihood: Literal["nb", "mse"] = "nb",
        n_metacells: int = 128,
        n_pcs: int = 30,
        mnn_k: int = 20,
        anchor_keep: float = 1.0,
        sketch_cells: int | None = SKETCH_CELLS,
        pca_start: bool = True,
        **module_kwargs,
    ):
        super().__init__(adata)
        if not 0.0 < anchor_keep <= 1.0:
            raise ValueError(f"`anchor_keep` must be in (0, 1], got {anchor_keep}.")
        if sketch_cells is not None and sketch_cells < 1:
            raise ValueError(f"`sketch_cells` must be at least 1 or None, got {sketch_cells}.")
        self.mnn_k = mnn_k
        self.anchor_keep = anchor_keep
        self.sketch_cells = sketch_cells
        self.n_pcs = n_pcs
        # A query model's start pairs come from the reference's latent space instead
        # (:meth:`_prepare_query_model`); the trailing underscore saves it with the model, so
        # that a query saved before training still starts there once loaded.
        self.start_in_latent_ = False
        names, _ = self._layout()
        rows = self._modality_rows(self.adata_manager)
        columns = self._feature_columns()
        normalized = self._normalized_modalities(rows)
        moments = {name: column_moments(x) for name, x in normalized.items()}
        pairs = shared_feature_pairs(self._features())
        embeddings, pca = self._joint_pca(normalized, pairs)
        sketches = {
            name: metacell_sketch(
                normalized[name],
                embeddings[name],
                min(n_metacells, len(rows[name])),
                *moments[name],
                random_state=settings.seed or 0,
            )
            for name in names
        }
        # The joint PCA is a whole embedding of an encoder's input only when the encoder reads
        # nothing but shared features (not so for RNA against a protein panel).
        start = (
            pca_start
            and pca is not None
            and all(
                len(shared) == len(columns[name])
                for name, shared in zip(names, pairs, strict=True)
            )
        )
        self.module = self._module_cls(
            names,
            sketches,
            input_columns=columns,
            feature_pairs=pairs,
            n_batch=self.summary_stats.n_batch,
            n_latent=n_latent,
            n_hidden=n_hidden,
            n_layers=n_layers,
            dropout_rate=dropout_rate,
            likelihood=likelihood,
            linear_path=start,
            **module_kwargs,
        )
        for name in names:
            self.module.set_feature_scaling(name, *moments[name])
        if start:
            self.module.start_cell_encoders(start_weights(pca, pairs, names, n_latent))
        self.initial_mnn_pairs_ = self._mnn_rows(embeddings, rows)
        self.mnn_pairs_ = self.initial_mnn_pairs_
        self._model_summary_string = (
            f"BICLUM model: modalities {names}, {self.module.feature_pairs.shape[1]} shared "
            f"features, n_latent {n_latent}, likelihood {likelihood!r}, "
            f"{self.mnn_pairs_.shape[1]} initial MNN pairs"
        )
        self.init_params_ = self._get_init_params(locals())

    # ------------------------------------------------------------------ layout
    @property
    def _is_mudata(self) -> bool:
        return isinstance(self.adata, MuData)

    def _layout(self) -> tuple[list[str], dict[str, str]]:
        """The two modality names (RNA first) and the registry key of each one's counts."""
        if self._is_mudata:
            count_keys = {name: key for key, name in count_modalities(self.registry_).items()}
            return list(count_keys), count_keys
        state = self.adata_manager.get_state_registry(REGISTRY_KEYS.MODALITY_KEY)
        names = [str(name) for name in state.categorical_mapping]
        return names, dict.fromkeys(names, REGISTRY_KEYS.X_KEY)

    def _modality_rows(self, adata_manager: AnnDataManager) -> dict[str, np.ndarray]:
        """Rows of the registered data held by each modality."""
        names, _ = self._layout()
        if self._is_mudata:
            observed = adata_manager.get_from_registry(REGISTRY_KEYS.OBSERVED_KEY)
            return {name: np.flatnonzero(np.asarray(observed[name])) for name in names}
        codes = np.asarray(adata_manager.get_from_registry(REGISTRY_KEYS.MODALITY_KEY)).ravel()
        return {name: np.flatnonzero(codes == code) for code, name in enumerate(names)}

    def _normalized(self, count_key: str, columns: np.ndarray, rows: np.ndarray):
        """Log-normalised ``columns`` of the cells ``rows`` (``mdata.obs`` rows) of one modality.

        In memory: the matrix. Counts registered in their modality's own rows (a backed
        MuData): a :class:`~scvi_contrastive.model._biclum_anchors.NormalizedRows` that reads
        and normalises them a chunk of cells at a time, with the same values.
        """
        counts = self.adata_manager.get_from_registry(count_key)
        if isinstance(self.adata_manager, ModalityRowsManager):
            modality = self.adata_manager.modality_count_keys()[count_key]
            return NormalizedRows(counts, cell_positions(self.adata, modality)[rows], columns)
        return log_normalized_columns(counts, columns, rows)

    def _normalized_modalities(self, rows: dict[str, np.ndarray]) -> dict:
        """Per modality, its cells ``rows`` log-normalised on the features the model uses."""
        _, count_keys = self._layout()
        columns = self._feature_columns()
        return {
            name: self._normalized(key, columns[name], rows[name])
            for name, key in count_keys.items()
        }

    def _joint_pca(
        self, normalized: dict, pairs: tuple[np.ndarray, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], JointPCA | None]:
        """Joint PCA coordinates of every cell, and the PCA (:func:`initial_embeddings`).

        ``pairs`` are the shared features' columns (:func:`shared_feature_pairs`).
        """
        return initial_embeddings(
            normalized, pairs, self.n_pcs, self.sketch_cells, random_state=settings.seed or 0
        )

    def _feature_columns(self) -> dict[str, np.ndarray]:
        """Positions, among each modality's registered features, of those the model uses."""
        _, count_keys = self._layout()
        registered = {
            name: np.asarray(self.adata_manager.get_state_registry(key).column_names).astype(str)
            for name, key in count_keys.items()
        }
        feature_space = self.registry_["setup_args"].get("feature_space", "shared")
        return select_features(registered, feature_space)

    def _features(self) -> dict[str, np.ndarray]:
        """Names of the features the model uses, per modality."""
        _, count_keys = self._layout()
        columns = self._feature_columns()
        return {
            name: np.asarray(self.adata_manager.get_state_registry(key).column_names).astype(str)[
                columns[name]
            ]
            for name, key in count_keys.items()
        }

    # ------------------------------------------------------------------ training
    @devices_dsp.dedent
    def train(
        self,
        max_epochs: int | None = None,
        accelerator: str = "auto",
        devices: int | list[int] | str = "auto",
        train_size: float | None = None,
        validation_size: float | None = None,
        batch_size: int = 128,
        mnn_refresh_every: int = 5,
        mnn_refresh_start: int | None = None,
        pair_fraction: float = 0.5,
        neighbors_obsm: dict[str, str] | None = None,
        datasplitter_kwargs: dict | None = None,
        plan_kwargs: dict | None = None,
        **trainer_kwargs,
    ):
        """Train the model with scvi-tools' :class:`~scvi.train.TrainingPlan`.

        For distributed data parallel training pass a DDP strategy and ``devices``, e.g.
        ``strategy="ddp", devices=4``: ``batch_size`` is then per process, and each process
        takes its own share of every minibatch draw (see
        :class:`~scvi_contrastive.dataloaders.UnpairedDataSplitter`).

        Parameters
        ----------
        max_epochs
            Number of passes over the larger modality. Default: 50 up to 20,000 cells, then
            fewer (down to 10 at 100,000): longer training slowly over-fits the pairs.
        %(param_accelerator)s
        %(param_devices)s
        train_size
            Share of cells trained on; default 1.0 (alignment is transductive).
        validation_size
            Share of cells held out for the validation loss.
        batch_size
            Cells *per modality* in each minibatch; at most the smaller modality's cell count
            (a larger value is lowered to it, as its cells would repeat within a minibatch).
        mnn_refresh_every
            Recompute the positive pairs on the latent space every this many epochs (0: never,
            keep the pairs of the joint PCA).
        mnn_refresh_start
            First epoch of a refresh (default ``mnn_refresh_every``).
        pair_fraction
            Share of each modality's minibatch taken by members of positive pairs.
        neighbors_obsm
            ``{modality: key}``: a representation of that modality's cells in their own
            features, in ``mdata[modality].obsm[key]`` (AnnData form: ``adata.obsm[key]``), whose
            neighbourhoods the embedding is trained to keep. For ATAC in gene space, the peaks'
            LSI with its components weighted by their singular values and without the first
            (which follows sequencing depth), as
            :func:`~scvi_contrastive.data.peak_lsi.peak_lsi` computes it: the peaks separate
            cell types better than their gene activity (README, *The peaks' neighbourhoods in
            training*). Cells are compared by cosine similarity of these values as given
            (standardising the components, as ``mu.atac.tl.lsi`` does by default, gave noisy
            components the say of the leading ones and aligned less well). The loss is
            :func:`~scvi_contrastive.nn.contrastive.neighborhood_loss` with the module's
            ``neighbor_weight`` (1.0) and ``neighbor_temperature`` (0.1). Before the first
            training the start pairs are also searched with each such modality's cells
            smoothed along these neighbourhoods (their start coordinates moved halfway to
            their 15 nearest neighbours' mean, as ``smooth_obsm`` moves the embedding; the
            joint PCA is computed once more for it). Only training reads it: the getters, and
            new data given to them, do not need it.
        datasplitter_kwargs
            Extra arguments of :class:`~scvi_contrastive.dataloaders.UnpairedDataSplitter`.
        plan_kwargs
            Arguments of :class:`~scvi.train.TrainingPlan` (``lr``, ``weight_decay``, ...); the
            plan is :class:`~scvi_contrastive.train.plan.SyncedTrainingPlan`, which keeps the
            logged loss terms synchronisable across processes.
        **trainer_kwargs
            Arguments of :class:`~scvi.train.Trainer`, e.g. ``gradient_clip_val=1.0`` to clip
            the gradient norm, ``callbacks=[TrainingCheckpoint(folder)]`` to write a checkpoint
            every epoch and ``ckpt_path=folder / "last.ckpt"`` to resume from it (the positive
            pairs are saved with it; see :mod:`scvi_contrastive.train.callbacks`). A NaN or
            infinite loss stops training with
            :class:`~scvi_contrastive.train.callbacks.NonFiniteLossError` naming the term.
        """
        check_training_arguments(max_epochs, batch_size)
        if trainer_kwargs.get("early_stopping") and not _holds_out_cells(
            train_size, validation_size
        ):
            raise ValueError(
                "`early_stopping` watches the validation loss, and BICLUM holds out no cells by "
                "default (alignment is transductive). Hold some out, e.g. `train_size=0.9`, or "
                "leave early stopping off."
            )
        modality_rows = self._modality_rows(self.adata_manager)
        smallest = min(len(rows) for rows in modality_rows.values())
        if batch_size > smallest:
            logger.info(
                "batch_size %d is more than the smaller modality's %d cells; using %d.",
                batch_size,
                smallest,
                smallest,
            )
            batch_size = smallest
        if max_epochs is None:
            max_epochs = int(np.clip(50 * 20_000 / self.adata.n_obs, 10, 50))
        _, count_keys = self._layout()
        neighbor_spaces = self._neighbor_spaces(neighbors_obsm, modality_rows)
        if neighbor_spaces and not self.is_trained_:
            self._smooth_start_pairs(neighbor_spaces, modality_rows)
        datasplitter_kwargs = {
            "modality_rows": modality_rows,
            "count_keys": count_keys,
            "pair_source": self._current_pairs,
            "pair_fraction": pair_fraction,
            "neighbor_spaces": neighbor_spaces,
            **(datasplitter_kwargs or {}),
        }
        start = mnn_refresh_every if mnn_refresh_start is None else mnn_refresh_start
        callbacks = with_default_callbacks(
            trainer_kwargs.pop("callbacks", None),
            model_state={"mnn_pairs": (self._current_pairs, self._set_pairs)},
        )
        callbacks.append(MNNRefresh(self._refresh_mnn_pairs, every=mnn_refresh_every, start=start))
        return super().train(
            max_epochs=max_epochs,
            accelerator=accelerator,
            devices=devices,
            train_size=train_size,
            validation_size=validation_size,
            batch_size=batch_size,
            datasplitter_kwargs=datasplitter_kwargs,
            plan_kwargs=plan_kwargs,
            callbacks=callbacks,
            **trainer_kwargs,
        )

    def _neighbor_spaces(
        self, neighbors_obsm: dict[str, str] | None, rows: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """Per modality of ``neighbors_obsm``, its own space aligned to the rows of the data.

        ``rows`` are each modality's rows of the data. Rows of cells the modality lacks stay
        zero; the loader never reads them.
        """
        self._check_own_obsm(self.adata, neighbors_obsm, "neighbors_obsm")
        spaces = {}
        for name, key in (neighbors_obsm or {}).items():
            own = _numeric_own_space(self._own_space(self.adata, name, rows[name], key), name, key)
            spaces[name] = np.zeros((self.adata.n_obs, own.shape[1]), np.float32)
            spaces[name][rows[name]] = own
        return spaces

    def _smooth_start_pairs(
        self, spaces: dict[str, np.ndarray], rows: dict[str, np.ndarray]
    ) -> None:
        """Start pairs := MNN once each modality of ``spaces`` is smoothed along its own space.

        The start coordinates (the joint PCA of the shared features; for a query model the
        reference's latent space) of each such modality's cells are moved halfway towards the
        mean of their 15 nearest neighbours in ``spaces``
        (:func:`~scvi_contrastive.tools.neighbor_smoothing.smooth_along_neighbors`), and the
        mutual nearest neighbours are searched there. Gene activity summed from a few reads per
        gene places a cell less surely than its peaks place it among its neighbours, and its
        averaged neighbourhood finds partners of the right type more often.
        """
        coordinates = self._start_coordinates(rows)
        for name, space in spaces.items():
            coordinates[name] = smooth_along_neighbors(coordinates[name], space[rows[name]])
        self.initial_mnn_pairs_ = self._mnn_rows(coordinates, rows)
        self.mnn_pairs_ = self.initial_mnn_pairs_

    def _start_coordinates(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per modality, the coordinates of its cells ``rows`` the start pairs are found in."""
        if self.start_in_latent_:
            return {name: self._embed(self.adata, name, r) for name, r in rows.items()}
        pairs = shared_feature_pairs(self._features())
        coordinates, _ = self._joint_pca(self._normalized_modalities(rows), pairs)
        return coordinates

    def _current_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        return self.mnn_pairs_[0], self.mnn_pairs_[1]

    def _set_pairs(self, pairs: tuple[np.ndarray, np.ndarray]) -> None:
        self.mnn_pairs_ = np.stack(pairs)

    def _refresh_mnn_pairs(self) -> None:
        """Positive pairs := mutual nearest neighbours of the latent space ∪ the initial pairs.

        The initial pairs (from the shared features) are kept: they are an independent view of
        the correspondence, and without them the model drifts towards confirming its own
        mistakes (on the PBMC Multiome subset FOSCTTM then worsens with every refresh).
        """
        rows = self._modality_rows(self.adata_manager)
        latent = {name: self._embed(self.adata, name, r) for name, r in rows.items()}
        both = np.concatenate([self.initial_mnn_pairs_, self._mnn_rows(latent, rows)], 1)
        self.mnn_pairs_ = np.unique(both, axis=1)
        logger.info(f"Refreshed MNN pairs: {self.mnn_pairs_.shape[1]}")

    def _mnn_rows(self, embeddings: dict[str, np.ndarray], rows: dict[str, np.ndarray]):
        """Positive pairs (data rows) of two modalities' embeddings, with the model's settings."""
        return mnn_rows(
            embeddings,
            rows,
            self.mnn_k,
            self.anchor_keep,
            self.sketch_cells,
            random_state=settings.seed or 0,
        )


# ---------------------------------------------------------------------- helpers


def _numeric_own_space(values, modality: str, key: str) -> np.ndarray:
    """``values`` as a finite ``(n_cells, k)`` float array, else a ``ValueError`` naming them."""
    where = f"`neighbors_obsm` entry {key!r} of {modality!r}"
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where} must be numeric (cells x components).") from error
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"{where} must be 2-d, cells x components; got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"{where} holds NaN or infinite values; recompute it from the counts.")
    return array


def _holds_out_cells(train_size: float | None, validation_size: float | None) -> bool:
    """Whether a split (as :class:`UnpairedDataSplitter` makes it) leaves validation cells."""
    if validation_size is not None:
        return validation_size > 0
    return train_size is not None and train_size < 1
