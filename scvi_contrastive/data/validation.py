"""Checks on the MuData a model is given: in memory, names, columns, layers, paired cells.

Each error names the input (modality, layer, column or cell names) and what to do instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scvi import settings

#: Below this share of the smaller modality's cells measured in both, SCMDCF warns that its
#: contrastive term has too few cells to align.
MIN_PAIRED_SHARE = 0.5


def named_layers(adata) -> list[str]:
    """The names of ``adata.layers``; anndata 0.13 lists ``.X`` there too, as ``None``."""
    return [name for name in adata.layers if name is not None]


def check_in_memory(adata, description: str, reason: str = "the model needs it in memory") -> None:
    """Raise ``ValueError`` if ``adata`` (an AnnData or MuData) is backed on disk.

    For data that cannot be read from their file: BICLUM's AnnData form and, when a model was
    set up in memory, a partially measured modality (copied into memory to be aligned to
    ``mdata.obs``). Both models read a backed MuData given to ``setup_mudata`` from disk.

    Parameters
    ----------
    adata
        AnnData or MuData.
    description
        How the user knows this object (e.g. ``"modality 'rna'"``).
    reason
        Why it must be in memory, for the message.

    """
    if getattr(adata, "isbacked", False):
        raise ValueError(
            f"{description} is backed on disk (read with `backed=True`); {reason}. Read it "
            "without `backed` (`mudata.read_h5mu(path)` or "
            "`anndata.read_h5ad(path)`), or load the open object with `mdata.filename = None` "
            "(MuData) or `adata = adata.to_memory()` (AnnData)."
        )


def check_unique_obs_names(mdata) -> None:
    """Raise ``ValueError`` if the cell names of ``mdata`` or of one of its modalities repeat.

    Parameters
    ----------
    mdata
        MuData.

    """
    tables = {"`mdata`": (mdata.obs_names, "mdata.obs_names_make_unique()")}
    for name, modality in mdata.mod.items():
        fix = f"mdata.mod[{name!r}].obs_names_make_unique()` then `mdata.update()"
        tables[f"modality {name!r}"] = (modality.obs_names, fix)
    for where, (names, fix) in tables.items():
        if not names.is_unique:
            repeated = list(names[names.duplicated()].unique()[:5])
            raise ValueError(
                f"The obs_names of {where} are not unique (e.g. {repeated}); cells are matched "
                f"across modalities by name. Call `{fix}` first."
            )


def check_obs_columns(obs, columns: dict[str, str], where: str = "`mdata.obs`") -> None:
    """Raise ``ValueError`` for a missing column, or a categorical column with missing values.

    Parameters
    ----------
    obs
        The ``obs`` table the columns are read from.
    columns
        Column name → the setup argument naming it (e.g. ``"batch_key"``).
    where
        How the user knows ``obs`` in messages.

    """
    for column, argument in columns.items():
        if column not in obs:
            raise ValueError(
                f"Column {column!r} not found in {where} (given as `{argument}`); columns: "
                f"{list(obs.columns)}."
            )
        missing = obs[column].isna().to_numpy()
        if missing.any():
            raise ValueError(
                f"Column {column!r} (`{argument}`) of {where} has no value for {missing.sum()} "
                f"cells (e.g. {list(obs.index[missing][:5])}). Give them a category (e.g. "
                f"`obs[{column!r}] = obs[{column!r}].astype(str).fillna('unknown')`) or remove "
                "those cells before setup."
            )


def check_modalities_keys(
    modalities: dict[str, str], allowed: Sequence[str], note: str = ""
) -> None:
    """Raise ``ValueError`` if the ``modalities`` argument of a setup has unknown keys.

    Parameters
    ----------
    modalities
        The ``modalities`` argument: setup argument → modality name.
    allowed
        Setup arguments it may name.
    note
        Appended to the message.

    """
    unknown = sorted(set(modalities) - set(allowed))
    if unknown:
        raise ValueError(
            f"Unknown key(s) {unknown} in `modalities`; allowed keys are {sorted(allowed)}, "
            f"each mapping a setup argument to the name of a modality in `mdata.mod`.{note}"
        )


def check_layer(mdata, mod_key: str, layer: str | None, argument: str) -> None:
    """Raise ``ValueError`` if a modality or the layer named by a setup argument is missing.

    Parameters
    ----------
    mdata
        MuData.
    mod_key
        Modality named in ``modalities[argument]``.
    layer
        Value of the setup argument (``None``: ``.X``).
    argument
        Name of the setup argument, e.g. ``"rna_layer"``.

    """
    if mod_key not in mdata.mod:
        raise ValueError(
            f"Modality {mod_key!r} not found in `mdata.mod` (given as `modalities[{argument!r}]`"
            f"); it has {list(mdata.mod)}. Fix the `modalities` argument."
        )
    if layer is not None and layer not in mdata.mod[mod_key].layers:
        raise ValueError(
            f"Layer {layer!r} (`{argument}`) not found in modality {mod_key!r} (layers: "
            f"{named_layers(mdata.mod[mod_key])}). Pass its raw-count layer, or None for `.X`."
        )


def check_feature_names(source: np.ndarray, target: pd.Index, where: str) -> None:
    """Raise ``ValueError`` if ``target`` feature names differ from the registered ones.

    Parameters
    ----------
    source
        Feature names registered with the model.
    target
        Feature names of the data given now.
    where
        How the user knows the data (e.g. ``"modality 'rna'"``).

    """
    source = pd.Index(np.asarray(source).astype(str))
    target = pd.Index(np.asarray(target).astype(str))
    if source.equals(target):
        return
    missing = source.difference(target, sort=False)
    extra = target.difference(source, sort=False)
    fix = (
        "e.g. `modality = modality[:, reference_var_names].copy()` (then `mdata.update()`), "
        "with `reference_var_names` the var_names the model was set up with"
    )
    if len(missing) == 0 and len(extra) == 0 and len(source) == len(target):
        moved = np.flatnonzero(source.to_numpy() != target.to_numpy())
        examples = ", ".join(
            f"{target[i]!r} at position {i} where {source[i]!r} was registered" for i in moved[:5]
        )
        raise ValueError(
            f"The features of {where} are the registered ones in a different order: "
            f"{len(moved)} of {len(source)} out of place, e.g. {examples}. Reorder them first, "
            f"{fix}."
        )
    differences = [f"{len(target)} features where {len(source)} were registered"]
    if len(missing):
        differences.append(f"{len(missing)} registered ones missing: {list(missing[:10])}")
    if len(extra):
        differences.append(f"{len(extra)} not registered: {list(extra[:10])}")
    raise ValueError(
        f"The features of {where} differ from those the model was set up with "
        f"({'; '.join(differences)}). Subset and reorder them to the registered features, "
        f"{fix}; missing features can be added as zero columns."
    )


def check_paired_cells(obs_names: dict[str, pd.Index]) -> None:
    """Refuse modalities that share no cell; warn when few cells are measured in both.

    A paired model aligns each cell's views; cells are matched across modalities by name.
    Each modality is compared with the partner it shares the most cells with, relative to the
    smaller of the two (a modality measured in a subset of the cells is fully paired).

    Parameters
    ----------
    obs_names
        Cell names of each registered modality (one without cells is left to its own check).

    """
    obs_names = {name: names for name, names in obs_names.items() if len(names)}
    for name, names in obs_names.items():
        partners = {
            other: (names.intersection(other_names).size, min(len(names), len(other_names)))
            for other, other_names in obs_names.items()
            if other != name
        }
        if not partners:
            return
        partner, (shared, smaller) = max(partners.items(), key=lambda kv: kv[1][0] / kv[1][1])
        fix = (
            "If the modalities were measured in different cells (separate experiments), align "
            "them with `BICLUM`, the unpaired model; if they are the same cells under different "
            "names, give each cell the same obs_name in every modality."
        )
        if shared == 0:
            raise ValueError(
                f"Modality {name!r} shares no cell with {sorted(partners)} (cells are matched "
                f"by obs_names): SCMDCF fuses the views of cells measured in several modalities. "
                f"{fix}"
            )
        if shared < MIN_PAIRED_SHARE * smaller:
            warnings.warn(
                f"Only {shared} of the {smaller} cells of the smaller of modalities {name!r} and "
                f"{partner!r} are measured in both: SCMDCF's contrastive term, which aligns the "
                "views of those cells, has too few to learn from, and the other cells of each "
                f"modality are embedded apart. {fix}",
                UserWarning,
                stacklevel=settings.warnings_stacklevel,
            )
            return


def check_shared_cell_names(obs_names: dict[str, pd.Index], partially_paired: bool) -> int:
    """Number of cells two unpaired modalities share by name; refuse a suspicious overlap.

    Two experiments whose cells are both indexed ``0, 1, …`` share some names by accident, and
    MuData would then merge different cells into one. Modalities may share no cell (unpaired),
    all their cells (paired), or, when ``partially_paired``, any number (e.g. one modality
    measured in a subset of the other's cells).

    Parameters
    ----------
    obs_names
        Cell names of the two modalities.
    partially_paired
        Accept any overlap.

    Returns
    -------
    The number of shared cell names.

    """
    (first, names_a), (second, names_b) = obs_names.items()
    shared = names_a.intersection(names_b).size
    if 0 < shared < max(len(names_a), len(names_b)) and not partially_paired:
        raise ValueError(
            f"Modalities {first!r} ({len(names_a)} cells) and {second!r} ({len(names_b)} cells) "
            f"share {shared} cell names (e.g. {list(names_a.intersection(names_b)[:3])}), so "
            "those would be taken as one cell measured in both. Cells of two experiments "
            "indexed alike (0, 1, …) collide this way: make the names distinct first, e.g. "
            f"`mdata.mod[{second!r}].obs_names = '{second}_' + mdata.mod[{second!r}].obs_names` "
            "then `mdata.update()` (or build the MuData from renamed modalities). If those cells "
            "really were measured in both modalities, pass `partially_paired=True`."
        )
    return shared
