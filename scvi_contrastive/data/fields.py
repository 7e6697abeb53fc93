"""scvi-tools data fields for count modalities of a MuData, including partially measured ones.

scvi's MuData fields index every modality by the rows of ``mdata.obs``. A MuData whose
modalities hold different subsets of the cells (as mudata allows) would be read misaligned, so
a modality whose ``obs_names`` differ from ``mdata.obs_names`` is presented to scvi's loaders
as a cells × features CSR matrix aligned to ``mdata.obs`` (zero rows for cells it lacks), stored
in ``mdata.obsm["_scvi_contrastive_<modality>"]`` by a pre-registration step. Which cells each
modality measured is stored in ``mdata.obsm["_scvi_contrastive_observed"]``.

A model whose count fields allow backed data (SCMDCF) reads a modality that holds the cells of
``mdata.obs`` in their order from its file; a partially measured modality would be copied into
memory to be aligned, so it must be in memory, in every model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from mudata import MuData
from scipy import sparse
from scvi.data.fields import LayerField, MuDataWrapper, ObsmField

from .._constants import SETUP_PREFIX
from .backed import check_readable_by_rows
from .count_checks import check_counts
from .validation import check_feature_names, check_in_memory, named_layers

OBSERVED_OBSM_KEY = f"{SETUP_PREFIX}_observed"


def aligned_obsm_key(mod_key: str) -> str:
    """Key in ``mdata.obsm`` of a partially measured modality's aligned count matrix."""
    return f"{SETUP_PREFIX}_{mod_key}"


def _layer_name(layer: str | None) -> str:
    return ".X" if layer is None else f"layer {layer!r}"


def _get_layer(adata, layer: str | None):
    if layer is None:
        return adata.X
    if layer not in adata.layers:
        raise ValueError(
            f"Layer {layer!r} not found; available layers: {sorted(named_layers(adata))}. Pass an "
            "existing layer or `None` for `.X`."
        )
    return adata.layers[layer]


class CountLayerField(LayerField):
    """A :class:`~scvi.data.fields.LayerField` that requires raw counts.

    Unlike scvi's field, which only warns on a sample of entries, every stored value is checked
    and bad data raise ``ValueError``; on transfer to new data the feature names are compared
    with the registered ones, not only their number.

    Parameters
    ----------
    registry_key
        Key the data are registered under.
    layer
        Layer holding counts, ``None`` for ``.X``.
    description
        How the user knows this modality, used in messages (e.g. ``"modality 'rna'"``).
    allow_backed
        Accept a modality backed on disk (its counts are then read from the file, in chunks
        of rows); otherwise it is refused with the fix.

    """

    def __init__(
        self, registry_key: str, layer: str | None, description: str, allow_backed: bool = False
    ):
        super().__init__(registry_key, layer, is_count_data=False)
        self.description = description
        self.allow_backed = allow_backed

    def validate_field(self, adata) -> None:
        """Validate the field."""
        if not self.allow_backed:
            check_in_memory(adata, self.description)
        matrix = _get_layer(adata, self.attr_key)
        if adata.n_vars == 0:
            raise ValueError(
                f"No features in {self.description}; check the filtering that produced it."
            )
        name = f"{_layer_name(self.attr_key)} of {self.description}"
        check_readable_by_rows(matrix, name)
        check_counts(matrix, name)

    def transfer_field(self, state_registry: dict, adata_target, **kwargs) -> dict:
        """Transfer the field after checking feature names."""
        check_feature_names(
            state_registry[self.COLUMN_NAMES_KEY], adata_target.var_names, self.description
        )
        return super().transfer_field(state_registry, adata_target, **kwargs)


class AlignedCountField(ObsmField):
    """Counts of a partially measured modality, aligned to ``mdata.obs`` in ``.obsm``.

    Parameters
    ----------
    registry_key
        Key the data are registered under.
    mod_key
        Modality holding the counts.
    layer
        Layer of that modality holding counts, ``None`` for ``.X``.

    """

    def __init__(self, registry_key: str, mod_key: str, layer: str | None):
        obsm_key = aligned_obsm_key(mod_key)
        super().__init__(registry_key, obsm_key, colnames_uns_key=f"{obsm_key}_var_names")
        self.source_mod = mod_key
        self.source_layer = layer

    def validate_field(self, adata) -> None:
        """Validate the field (the counts themselves were checked when aligned)."""
        if self.attr_key not in adata.obsm:
            raise ValueError(f"Aligned counts of modality {self.source_mod!r} were not written.")

    def transfer_field(self, state_registry: dict, adata_target, **kwargs) -> dict:
        """Transfer the field after checking feature names."""
        check_feature_names(
            state_registry[self.COLUMN_NAMES_KEY],
            adata_target.mod[self.source_mod].var_names,
            f"modality {self.source_mod!r}",
        )
        return super().transfer_field(state_registry, adata_target, **kwargs)


def _write_aligned_counts(wrapper, mdata: MuData) -> None:
    field: AlignedCountField = wrapper.adata_field
    modality = mdata.mod[field.source_mod]
    check_in_memory(
        modality,
        f"modality {field.source_mod!r}",
        "its cells differ from those of `mdata.obs` (or their order), so its counts are copied "
        "into memory aligned to `mdata.obs`",
    )
    if modality.n_obs == 0 or modality.n_vars == 0:
        raise ValueError(
            f"Modality {field.source_mod!r} has {modality.n_obs} cells and {modality.n_vars} "
            "features; every registered modality needs both."
        )
    counts = _get_layer(modality, field.source_layer)
    check_counts(counts, f"{_layer_name(field.source_layer)} of modality {field.source_mod!r}")
    rows = modality.obs_names.get_indexer(mdata.obs_names)
    # Cells the modality lacks point at an appended all-zero row.
    padded = sparse.vstack([sparse.csr_matrix(counts), sparse.csr_matrix((1, modality.n_vars))])
    rows = np.where(rows < 0, modality.n_obs, rows)
    mdata.obsm[field.attr_key] = padded.tocsr()[rows].astype(np.float32)
    mdata.uns[field.colnames_uns_key] = np.asarray(modality.var_names).astype(str)


def _require_aligned(wrapper, mdata: MuData) -> None:
    if not is_aligned(mdata, wrapper.mod_key):
        raise ValueError(
            f"Modality {wrapper.mod_key!r} was registered measuring every cell of the MuData, "
            "but here its cells differ from `mdata.obs` (or are in another order). Give a "
            "MuData whose modality holds the cells of `mdata.obs` in the same order."
        )


MuDataCountLayerField = MuDataWrapper(CountLayerField, preregister_fn=_require_aligned)
MuDataAlignedCountField = MuDataWrapper(AlignedCountField, preregister_fn=_write_aligned_counts)


class ObservedModalitiesField(ObsmField):
    """Which modalities measured each cell: a cells × modalities 0/1 table in ``.obsm``.

    Parameters
    ----------
    registry_key
        Key the table is registered under.
    mod_keys
        Modality keys in the order of the table's columns.

    """

    def __init__(self, registry_key: str, mod_keys: list[str]):
        super().__init__(registry_key, OBSERVED_OBSM_KEY)
        self.mod_keys = list(mod_keys)


def _write_observed(wrapper, mdata: MuData) -> None:
    field: ObservedModalitiesField = wrapper.adata_field
    observed = {
        mod_key: mdata.obs_names.isin(mdata.mod[mod_key].obs_names).astype(np.float32)
        for mod_key in field.mod_keys
    }
    mdata.obsm[OBSERVED_OBSM_KEY] = pd.DataFrame(observed, index=mdata.obs_names)


MuDataObservedModalitiesField = MuDataWrapper(
    ObservedModalitiesField, preregister_fn=_write_observed
)


def is_aligned(mdata: MuData, mod_key: str) -> bool:
    """Whether modality ``mod_key`` holds exactly ``mdata.obs`` in the same order."""
    return mdata.mod[mod_key].obs_names.equals(mdata.obs_names)


def count_field(
    registry_key: str, mdata: MuData, mod_key: str, layer: str | None, allow_backed: bool = False
):
    """Build the field presenting a modality's counts to scvi's loaders, aligned to ``mdata.obs``.

    Parameters
    ----------
    registry_key
        Key the counts are registered under.
    mdata
        The MuData being set up.
    mod_key
        Modality holding the counts.
    layer
        Layer holding counts, ``None`` for ``.X``.
    allow_backed
        Accept the modality backed on disk when it holds the cells of ``mdata.obs`` in their
        order (a partially measured modality must be in memory).

    """
    if mod_key not in mdata.mod:
        raise ValueError(
            f"Modality {mod_key!r} not found in the MuData; it has {list(mdata.mod)}. Fix the "
            "`modalities` argument."
        )
    if is_aligned(mdata, mod_key):
        return MuDataCountLayerField(
            registry_key,
            layer,
            f"modality {mod_key!r}",
            allow_backed,
            mod_key=mod_key,
            mod_required=True,
        )
    return MuDataAlignedCountField(registry_key, mod_key, layer)
