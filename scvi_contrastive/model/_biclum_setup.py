"""Registration of BICLUM's data: two modalities of different (or some shared) cells."""

from __future__ import annotations

import logging
from typing import Literal

from anndata import AnnData
from mudata import MuData
from scvi.data import AnnDataManager
from scvi.data.fields import CategoricalObsField, MuDataCategoricalObsField
from scvi.utils import setup_anndata_dsp

from .._constants import LAYER_ARGS, MODALITIES, REGISTRY_KEYS
from ..data.count_checks import check_cells_have_counts, registered_row_sums
from ..data.fields import CountLayerField
from ..data.validation import check_in_memory, check_obs_columns, check_shared_cell_names
from ._biclum_anchors import select_features
from ._setup import (
    SetupModality,
    check_categorical_columns,
    check_cells,
    check_is_mudata,
    register_mudata,
    resolve_modalities,
)

logger = logging.getLogger(__name__)
_MODALITIES_EXAMPLE = "{'rna_layer': 'rna', 'atac_layer': 'atac'}"
#: Why BICLUM's AnnData form refuses backed data, for the message.
_IN_MEMORY = (
    "BICLUM reads backed data in the MuData form only (one modality per cell set, counts in "
    "`.X`: `BICLUM.setup_mudata(mudata.read_h5mu(path, backed=True), modalities=...)`); "
    "the concatenated AnnData needs it in memory"
)


class BilateralSetupMixin:
    """``setup_mudata`` and ``setup_anndata`` of :class:`~scvi_contrastive.model.BICLUM`."""

    @classmethod
    @setup_anndata_dsp.dedent
    def setup_mudata(
        cls,
        mdata: MuData,
        rna_layer: str | None = None,
        atac_layer: str | None = None,
        protein_layer: str | None = None,
        batch_key: str | None = None,
        labels_key: str | None = None,
        modalities: dict[str, str] | None = None,
        feature_space: Literal["shared", "separate"] = "shared",
        partially_paired: bool = False,
        **kwargs,
    ) -> None:
        """%(summary_mdata)s.

        The two modalities may hold **different cells** (``MuData({"rna": rna, "atac": ga})``;
        ``mdata.obs`` is then the union of both sets), the same cells (paired data: each cell
        is used once per modality, and :meth:`get_latent_representation` averages its two
        embeddings unless ``modality`` is given) or, with ``partially_paired=True``, a mix.
        Cells are matched by ``obs_names``: setup logs how many it takes as measured in both,
        and refuses modalities that share only some names without ``partially_paired`` (two
        experiments indexed alike, ``0, 1, …``, which MuData would merge into one set of
        cells). Choose highly variable genes on RNA
        beforehand (e.g. ``sc.pp.highly_variable_genes``) and subset both modalities to them.

        Counts must be raw (non-negative integers; gene activity summed from peak counts is).
        Setup adds to ``mdata``, through the ``preregister`` hook of scvi's MuData fields (so a
        new MuData given to a getter is prepared the same way; see
        :mod:`scvi_contrastive.data.fields`): ``mdata.obsm["_scvi_contrastive_observed"]``
        (which cells each modality holds) and, for each modality ``m`` that does not hold every
        cell of ``mdata.obs`` in order, ``mdata.obsm["_scvi_contrastive_<m>"]`` (its counts as a
        CSR matrix aligned to ``mdata.obs``, zero rows where ``m`` lacks the cell) with the
        feature names in ``mdata.uns["_scvi_contrastive_<m>_var_names"]``. As in every
        scvi-tools model, ``mdata.obs["_scvi_batch"]`` (all zeros without a ``batch_key``) and
        ``mdata.uns["_scvi_uuid"]``/``mdata.uns["_scvi_manager_uuid"]`` are added. Counts,
        layers, ``var`` and existing ``obs`` columns are never changed, by setup, training or
        the getters (see ``docs/reliability.md``). A backed MuData
        (``mudata.read_h5mu(path, backed=True)``) is read from its file: each modality's
        counts must then be in ``.X`` (as CSR or dense), are registered in the modality's own
        rows (no ``mdata.obsm`` copy) and read a chunk of rows, or a minibatch, at a time.

        Parameters
        ----------
        %(param_mdata)s
        rna_layer
            RNA counts layer (``None``: ``.X``).
        atac_layer
            Layer of the ATAC modality, already in gene space (gene activity; ``None``: ``.X``).
        protein_layer
            Layer of the protein modality (``None``: ``.X``).
        %(param_batch_key)s
            Must be a column of ``mdata.obs`` defined for every cell.
        labels_key
            Column of ``mdata.obs`` with cell labels (may be missing for the cells of one
            modality). Not used in training; the default of :meth:`transfer_labels`.
        %(param_modalities)s
            Keys: ``"rna_layer"`` and one of ``"atac_layer"``, ``"protein_layer"``; values:
            modality names in ``mdata.mod``; required, as in MULTIVI and SCMDCF.
        feature_space
            ``"shared"``: both modalities restricted to the features they share by name (an
            error if there are none). ``"separate"``: each modality keeps all its features;
            features with the same name (if any) are paired by the feature-level loss; with no
            shared names that loss is off and the first cell pairs come from matching the
            shape of the two data sets (see
            :func:`~scvi_contrastive.tools.optimal_transport.structural_embedding`).
        partially_paired
            Accept modalities that share only some cell names (cells measured in both plus
            cells measured in one).
        """
        setup_method_args = cls._get_setup_method_args(**locals())
        check_is_mudata(mdata, "{'rna': rna, 'atac': gene_activity}")
        _, registered = resolve_modalities(
            cls,
            mdata,
            modalities,
            setup_method_args,
            list(LAYER_ARGS.values()),
            _MODALITIES_EXAMPLE,
            " (batch_key and labels_key are read from mdata.obs.)",
        )
        names = _check_two_modalities(registered)
        check_cells(mdata, names)
        shared = check_shared_cell_names(
            {name: mdata.mod[name].obs_names for name in names}, partially_paired
        )
        logger.info(
            "BICLUM: %d cells measured in both modalities (%s: %d cells, %s: %d cells).",
            shared,
            names[0],
            mdata.mod[names[0]].n_obs,
            names[1],
            mdata.mod[names[1]].n_obs,
        )
        check_categorical_columns(mdata, None, {"batch_key": [batch_key] if batch_key else []})
        if labels_key is not None and labels_key not in mdata.obs:
            raise ValueError(f"Column {labels_key!r} not found in `mdata.obs` (`labels_key`).")
        select_features({name: mdata.mod[name].var_names for name in names}, feature_space)
        backed = any(mdata.mod[name].isbacked for name in names)
        if backed:
            _check_counts_in_x(registered)
        register_mudata(
            cls,
            mdata,
            registered,
            [MuDataCategoricalObsField(REGISTRY_KEYS.BATCH_KEY, batch_key, mod_key=None)],
            setup_method_args,
            # Unpaired ATAC gene activity often has a few empty cells; they train without
            # trouble.
            refuse_cells_without_counts=False,
            # Backed, each modality is read from its own rows: an aligned copy in
            # `mdata.obsm` would be the whole matrix in memory.
            in_own_rows=backed,
            **kwargs,
        )

    @classmethod
    @setup_anndata_dsp.dedent
    def setup_anndata(
        cls,
        adata: AnnData,
        modality_key: str,
        layer: str | None = None,
        batch_key: str | None = None,
        labels_key: str | None = None,
        **kwargs,
    ) -> None:
        """%(summary)s.

        The concatenated form: one AnnData whose rows are cells of either modality over one
        shared feature space (e.g. RNA cells and ATAC gene-activity cells stacked with
        ``anndata.concat``), ``adata.obs[modality_key]`` naming each row's modality (two
        categories). A cell measured in both modalities appears as two rows.

        Adds ``adata.obs["_scvi_modality"]``, ``adata.obs["_scvi_batch"]`` (all zeros without a
        ``batch_key``) and ``adata.uns["_scvi_uuid"]``/``adata.uns["_scvi_manager_uuid"]``, as
        scvi-tools does; counts, layers, ``var`` and existing ``obs`` columns are not changed.

        Parameters
        ----------
        %(param_adata)s
        modality_key
            Column of ``adata.obs`` naming each row's modality.
        %(param_layer)s
        %(param_batch_key)s
        labels_key
            Column of ``adata.obs`` with cell labels (may be missing for one modality); the
            default of :meth:`transfer_labels`, not used in training.
        """
        setup_method_args = cls._get_setup_method_args(**locals())
        check_in_memory(adata, "`adata`", _IN_MEMORY)
        if adata.n_obs == 0:
            raise ValueError("`adata` has no cells; check the filtering that produced it.")
        if not adata.obs_names.is_unique:
            raise ValueError(
                "`adata.obs_names` are not unique; call `adata.obs_names_make_unique()` first "
                "(`anndata.concat(..., index_unique='-')` keeps them unique when stacking)."
            )
        check_obs_columns(
            adata.obs,
            {modality_key: "modality_key"} | ({batch_key: "batch_key"} if batch_key else {}),
            "`adata.obs`",
        )
        if labels_key is not None and labels_key not in adata.obs:
            raise ValueError(f"Column {labels_key!r} not found in `adata.obs` (`labels_key`).")
        n_modalities = adata.obs[modality_key].nunique()
        if n_modalities != 2 or adata.obs[modality_key].isna().any():
            raise ValueError(
                f"`adata.obs[{modality_key!r}]` must name one of exactly two modalities for "
                f"every row, found {n_modalities} distinct values."
            )
        anndata_fields = [
            CountLayerField(REGISTRY_KEYS.X_KEY, layer, "the AnnData"),
            CategoricalObsField(REGISTRY_KEYS.MODALITY_KEY, modality_key),
            CategoricalObsField(REGISTRY_KEYS.BATCH_KEY, batch_key),
        ]
        adata_manager = AnnDataManager(fields=anndata_fields, setup_method_args=setup_method_args)
        adata_manager.register_fields(adata, **kwargs)
        totals = registered_row_sums(adata_manager, [REGISTRY_KEYS.X_KEY])
        check_cells_have_counts(adata_manager.adata.obs_names, list(totals.values()), refuse=False)
        cls.register_manager(adata_manager)


def _check_counts_in_x(registered: dict[str, SetupModality]) -> None:
    """Refuse counts in a layer of a backed MuData: only ``.X`` stays on disk."""
    for kind, modality in registered.items():
        if modality.layer is not None:
            raise ValueError(
                "`mdata` is backed on disk (read with `backed=True`), but the counts of "
                f"modality {modality.name!r} are in layer {modality.layer!r}: in anndata's "
                "backed mode only `.X` stays on disk, layers are read whole into memory when "
                "the file is opened. Write the counts into `.X` (in memory: "
                f"`mdata.mod[{modality.name!r}].X = "
                f"mdata.mod[{modality.name!r}].layers[{modality.layer!r}]`, then "
                f"`mdata.write(path)`) and pass `{LAYER_ARGS[kind]}=None`, or load the data "
                "into memory (`mdata.filename = None`, or read the file without `backed`)."
            )


def _check_two_modalities(registered: dict[str, SetupModality]) -> list[str]:
    """The two modality names (RNA first), or a ``ValueError`` naming the fix."""
    names = [modality.name for modality in registered.values()]
    if MODALITIES.RNA not in registered or len(registered) != 2:
        raise ValueError(
            "`modalities` must map 'rna_layer' and exactly one of 'atac_layer', 'protein_layer' "
            f"to modality names, e.g. {_MODALITIES_EXAMPLE}."
        )
    if len(set(names)) != 2:
        raise ValueError("`modalities` must name two different modalities.")
    return names
