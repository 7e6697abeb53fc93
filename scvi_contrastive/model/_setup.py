"""The one MuData registration path of both models: check, resolve ``modalities``, register.

``SCMDCF.setup_mudata`` and ``BICLUM.setup_mudata`` take their arguments in MULTIVI's order
(``rna_layer``, ``atac_layer``, ``protein_layer``, ``batch_key``, ...) and follow its rule
for ``modalities``: required, mapping each setup argument to a modality of ``mdata.mod``.
Each model adds only what is its own (SCMDCF: covariates and size factors; BICLUM: how many
cells the two modalities share); the checks, the count fields of
:mod:`scvi_contrastive.data.fields` and scvi's :class:`~scvi.data.AnnDataManager` are
called from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from mudata import MuData
from scvi.data import AnnDataManager, AnnDataManagerValidationCheck

from .._constants import COUNT_KEYS, LAYER_ARGS, REGISTRY_KEYS
from ..data.count_checks import (
    check_cells_have_counts,
    check_finite,
    check_modality_has_counts,
    registered_row_sums,
)
from ..data.fields import MuDataObservedModalitiesField, count_field
from ..data.unpaired_backed import MuDataModalityCountField, cell_positions
from ..data.validation import (
    check_layer,
    check_modalities_keys,
    check_obs_columns,
    check_unique_obs_names,
)
from ..dataloaders.modality_rows import ModalityRowsManager
from ..dataloaders.ordered_rows import OrderedRowsManager


class SetupModality(NamedTuple):
    """One modality named in ``modalities``: where its counts are and what they register as."""

    #: Key of the modality in ``mdata.mod``.
    name: str
    #: Layer of raw counts (``None``: ``.X``).
    layer: str | None
    #: Registry key of its counts.
    count_key: str


def check_is_mudata(mdata, example: str) -> None:
    """Raise ``TypeError`` unless ``mdata`` is a MuData; ``example`` shows how to build one."""
    if not isinstance(mdata, MuData):
        raise TypeError(
            f"`mdata` must be a MuData, got {type(mdata).__name__}. Build one with "
            f"`mudata.MuData({example})`."
        )


def resolve_modalities(
    model_cls,
    mdata: MuData,
    modalities: dict[str, str] | None,
    setup_method_args: dict,
    allowed: Sequence[str],
    example: str,
    note: str = "",
):
    """The ``modalities`` argument checked, as scvi's attrdict, and the modalities it names.

    Parameters
    ----------
    model_cls
        The model class whose ``setup_mudata`` is running.
    mdata
        The MuData being set up.
    modalities
        The ``modalities`` argument (required).
    setup_method_args
        ``model_cls._get_setup_method_args(**locals())`` of that ``setup_mudata``.
    allowed
        Setup arguments ``modalities`` may map.
    example
        A valid ``modalities`` for the messages.
    note
        Appended to the message about unknown keys.

    Returns
    -------
    scvi's attrdict (setup argument → modality or ``None``) and, for each modality kind
    (:data:`~scvi_contrastive._constants.MODALITIES`, in that order) given a layer argument,
    its :class:`SetupModality`.
    """
    if modalities is None:
        raise ValueError(f"`modalities` is required, e.g. {example}.")
    check_modalities_keys(modalities, allowed, note)
    modality_of = model_cls._create_modalities_attr_dict(modalities, setup_method_args)
    arguments = setup_method_args["setup_args"]
    registered = {}
    for kind, arg in LAYER_ARGS.items():
        name = getattr(modality_of, arg)
        if name is not None:
            check_layer(mdata, name, arguments[arg], arg)
            registered[kind] = SetupModality(name, arguments[arg], COUNT_KEYS[kind])
    return modality_of, registered


def check_cells(mdata: MuData, names: Sequence[str]) -> None:
    """Refuse no cells, an empty modality and repeated or stray cell names."""
    if mdata.n_obs == 0:
        raise ValueError("`mdata` has no cells; check the filtering that produced it.")
    for name in names:
        modality = mdata.mod[name]
        if modality.n_obs == 0 or modality.n_vars == 0:
            raise ValueError(
                f"Modality {name!r} has {modality.n_obs} cells and {modality.n_vars} features; "
                "check the filtering that produced it."
            )
    check_unique_obs_names(mdata)
    for name in names:
        if not mdata.mod[name].obs_names.isin(mdata.obs_names).all():
            raise ValueError(
                f"Modality {name!r} holds cells missing from `mdata.obs`; call "
                "`mdata.update()` after changing modalities."
            )


def check_categorical_columns(mdata: MuData, modality_of, columns: dict[str, list[str]]) -> None:
    """Refuse a missing categorical column, or one without a category for some cells.

    ``columns`` maps each setup argument (``"batch_key"``, ...) to the columns it names; they
    are read from the ``.obs`` of the modality ``modality_of`` maps that argument to, or from
    ``mdata.obs``.
    """
    for argument, names in columns.items():
        mod_key = getattr(modality_of, argument, None)
        obs = mdata.obs if mod_key is None else mdata.mod[mod_key].obs
        where = "`mdata.obs`" if mod_key is None else f"`mdata.mod[{mod_key!r}].obs`"
        check_obs_columns(obs, dict.fromkeys(names, argument), where)


def register_mudata(
    model_cls,
    mdata: MuData,
    registered: dict[str, SetupModality],
    fields: list,
    setup_method_args: dict,
    refuse_cells_without_counts: bool = True,
    allow_backed: bool = False,
    in_own_rows: bool = False,
    **kwargs,
) -> AnnDataManager:
    """Register ``fields``, which cells each modality holds and their counts; check the values.

    Modalities may hold different cells (mudata allows it): scvi's check that every modality
    holds every cell is off, and the count fields align each modality to ``mdata.obs``. After
    registration, a modality without any count is refused, cells without counts in every
    modality are refused (``refuse_cells_without_counts``) or warned about, and registered
    continuous covariates and size factors must be finite (size factors positive). With
    ``allow_backed``, modalities backed on disk that hold the cells of ``mdata.obs`` in their
    order are read from their file, in chunks of rows; otherwise they are refused. With
    ``in_own_rows`` (BICLUM's backed data) each modality's ``.X`` is registered in its own
    rows instead of aligned to ``mdata.obs`` (no copy in ``mdata.obsm``) and minibatches read
    their rows from the file
    (:class:`~scvi_contrastive.dataloaders.modality_rows.ModalityRowsManager`).

    Returns
    -------
    The :class:`~scvi_contrastive.dataloaders.ordered_rows.OrderedRowsManager` (an
    :class:`~scvi.data.AnnDataManager` whose minibatches keep their cells' order, backed or
    not), already registered with ``model_cls``.
    """
    names = [modality.name for modality in registered.values()]
    fields = [
        *fields,
        MuDataObservedModalitiesField(REGISTRY_KEYS.OBSERVED_KEY, names),
        *(_count_field(m, mdata, allow_backed, in_own_rows) for m in registered.values()),
    ]
    manager_cls = ModalityRowsManager if in_own_rows else OrderedRowsManager
    adata_manager = manager_cls(
        fields=fields,
        setup_method_args=setup_method_args,
        validation_checks=AnnDataManagerValidationCheck(check_fully_paired_mudata=False),
    )
    adata_manager.register_fields(mdata, **kwargs)
    totals = registered_row_sums(adata_manager, [m.count_key for m in registered.values()])
    per_cell = []
    for modality in registered.values():
        total = totals[modality.count_key]
        check_modality_has_counts(total, f"Modality {modality.name!r}")
        if in_own_rows:
            positions = cell_positions(mdata, modality.name)
            total = np.where(positions >= 0, total[positions], 0.0)
        per_cell.append(total)
    check_cells_have_counts(
        adata_manager.adata.obs_names, per_cell, refuse=refuse_cells_without_counts
    )
    _check_numerical_covariates(adata_manager)
    model_cls.register_manager(adata_manager)
    return adata_manager


def _count_field(modality: SetupModality, mdata: MuData, allow_backed: bool, in_own_rows: bool):
    if in_own_rows:
        return MuDataModalityCountField(
            modality.count_key,
            None,
            f"modality {modality.name!r}",
            True,
            mod_key=modality.name,
            mod_required=True,
        )
    return count_field(modality.count_key, mdata, modality.name, modality.layer, allow_backed)


def _check_numerical_covariates(adata_manager: AnnDataManager) -> None:
    registry = adata_manager.data_registry
    if REGISTRY_KEYS.CONT_COVS_KEY in registry:
        check_finite(
            np.asarray(adata_manager.get_from_registry(REGISTRY_KEYS.CONT_COVS_KEY), dtype=float),
            "`continuous_covariate_keys`",
        )
    if REGISTRY_KEYS.SIZE_FACTOR_KEY in registry:
        size_factors = np.asarray(adata_manager.get_from_registry(REGISTRY_KEYS.SIZE_FACTOR_KEY))
        check_finite(size_factors.astype(float), "`size_factor_key`")
        if (size_factors <= 0).any():
            raise ValueError(
                "`size_factor_key` holds zero or negative size factors; they must be positive "
                "(they enter the likelihood through their logarithm)."
            )


def count_modalities(registry: dict) -> dict[str, str | None]:
    """Registry key of each registered modality's counts → that modality's name.

    ``{REGISTRY_KEYS.X_KEY: None}`` for data registered without ``modalities`` (BICLUM's
    AnnData form).
    """
    modalities = registry["setup_args"].get("modalities")
    if modalities is None:
        return {REGISTRY_KEYS.X_KEY: None}
    return {
        COUNT_KEYS[kind]: modalities[arg]
        for kind, arg in LAYER_ARGS.items()
        if modalities.get(arg) is not None
    }
