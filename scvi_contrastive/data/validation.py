"""Checks on user inputs (matrices, MuData layout, arguments) that fail early and say the fix.

Each error names the input (argument, modality, layer or file) and what to do instead.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scvi import settings

_CHUNK_ROWS = 10_000
#: Below this share of the smaller modality's cells measured in both, SCMDCF warns that its
#: contrastive term has too few cells to align.
MIN_PAIRED_SHARE = 0.5


def _value_chunks(matrix):
    """Yield the stored values of ``matrix`` chunk by chunk, never densifying all of it."""
    if sparse.issparse(matrix):
        yield np.asarray(matrix.data)
        return
    if hasattr(matrix, "to_memory"):  # anndata backed/lazy arrays
        matrix = matrix.to_memory()
    for start in range(0, matrix.shape[0], _CHUNK_ROWS):
        yield np.asarray(matrix[start : start + _CHUNK_ROWS])


_COUNTS_FIX = (
    "Pass the layer holding raw counts (e.g. `rna_layer='counts'`), not normalised or "
    "log-transformed data."
)


def check_finite(matrix, name: str) -> None:
    """Raise ``ValueError`` if ``matrix`` holds NaN or infinite values.

    Parameters
    ----------
    matrix
        Dense or sparse matrix.
    name
        How the user knows this matrix (e.g. ``"layer 'counts' of modality 'rna'"``).

    """
    for values in _value_chunks(matrix):
        if not np.issubdtype(values.dtype, np.number) and values.dtype != bool:
            raise TypeError(f"{name} has dtype {values.dtype}; a numeric matrix is required.")
        if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
            raise ValueError(
                f"{name} contains NaN or infinite values. Replace or remove them (e.g. "
                "`np.nan_to_num`, or drop the affected cells) before setup."
            )


def check_counts(matrix, name: str, fix: str = _COUNTS_FIX) -> None:
    """Raise ``ValueError`` unless ``matrix`` holds finite, non-negative integer counts.

    Parameters
    ----------
    matrix
        Dense or sparse matrix.
    name
        How the user knows this matrix (e.g. ``"layer 'counts' of modality 'rna'"``).
    fix
        What the user should do instead, appended to the message.

    """
    if matrix.dtype == np.float16:
        raise TypeError(
            f"{name} has dtype float16, which scipy's sparse matrices and the models' count "
            "checks cannot take. Store the counts as integers or float32 first, e.g. "
            "`layer = layer.astype(np.float32)`."
        )
    check_finite(matrix, name)
    for values in _value_chunks(matrix):
        if (values < 0).any():
            raise ValueError(
                f"{name} contains negative values (min {values.min()}), but raw counts are "
                f"required. {fix}"
            )
        if np.issubdtype(values.dtype, np.floating) and (np.mod(values, 1) != 0).any():
            example = values[np.mod(values, 1) != 0].flat[0]
            raise ValueError(
                f"{name} contains non-integer values (e.g. {example}), but raw counts are "
                f"required. {fix}"
            )


def row_sums(matrix) -> np.ndarray:
    """Per-row sums of a dense or sparse matrix as a flat float array, chunk by chunk."""
    if sparse.issparse(matrix):
        return np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()
    if hasattr(matrix, "to_memory"):
        matrix = matrix.to_memory()
    return np.concatenate(
        [
            np.asarray(matrix[start : start + _CHUNK_ROWS], dtype=np.float64).sum(axis=1)
            for start in range(0, matrix.shape[0], _CHUNK_ROWS)
        ]
    )


def check_in_memory(adata, description: str) -> None:
    """Raise ``ValueError`` if ``adata`` (an AnnData or MuData) is backed on disk.

    Backed data are refused rather than half supported: the count checks and the aligned
    matrices of partially measured modalities read whole matrices, and a backed sparse matrix
    reaches them as an HDF5 dataset they cannot read.

    Parameters
    ----------
    adata
        AnnData or MuData.
    description
        How the user knows this object (e.g. ``"modality 'rna'"``).

    """
    if getattr(adata, "isbacked", False):
        raise ValueError(
            f"{description} is backed on disk (read with `backed=True`); the models need it in "
            "memory. Read it without `backed` (`mudata.read_h5mu(path)` or "
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


def registered_row_sums(adata_manager, registry_keys: list[str]) -> dict[str, np.ndarray]:
    """Per-cell totals of each registered count matrix, read once for every count check."""
    return {key: row_sums(adata_manager.get_from_registry(key)) for key in registry_keys}


def check_cells_have_counts(
    obs_names: pd.Index, totals: list[np.ndarray], refuse: bool = True
) -> None:
    """Refuse (or warn about) cells without counts in any of the registered count matrices.

    Such cells carry no information for the models.

    Parameters
    ----------
    obs_names
        Names of the registered cells.
    totals
        Per-cell totals of each count matrix (:func:`registered_row_sums`), aligned to
        ``obs_names``.
    refuse
        Raise ``ValueError``; otherwise warn (for a model that embeds such cells from their
        all-zero input without numerical trouble).

    """
    totals = np.sum(totals, axis=0)
    empty = np.flatnonzero(totals == 0)
    if not empty.size:
        return
    names = list(obs_names[empty[:5]])
    message = f"{empty.size} cells have no counts in any registered modality (e.g. {names})."
    fix = "Remove them before setup, e.g. `mdata = mdata[total_counts > 0].copy()`."
    if refuse:
        raise ValueError(f"{message} {fix}")
    warnings.warn(
        f"{message} They are embedded from an all-zero input, which says nothing about them. "
        f"{fix}",
        UserWarning,
        stacklevel=settings.warnings_stacklevel,
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
            f"{list(mdata.mod[mod_key].layers)}). Pass its raw-count layer, or None for `.X`."
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


def check_indices(indices, n_obs: int) -> np.ndarray | None:
    """Cell positions for a getter's ``indices``: integers in ``[0, n_obs)`` or a boolean mask.

    Parameters
    ----------
    indices
        ``None`` (all cells), integer positions, or a boolean mask over the cells.
    n_obs
        Number of cells of the data the getter reads.

    Returns
    -------
    ``None`` for all cells, else the positions as an integer array.

    """
    if indices is None:
        return None
    positions = np.asarray(indices)
    if positions.dtype == bool:
        if positions.shape != (n_obs,):
            raise ValueError(
                f"`indices` is a boolean mask of shape {positions.shape}, but the data have "
                f"{n_obs} cells; give one value per cell, or integer positions."
            )
        positions = np.flatnonzero(positions)
    elif positions.size and not np.issubdtype(positions.dtype, np.integer):
        raise TypeError(
            f"`indices` must be integer positions or a boolean mask, got dtype {positions.dtype}; "
            "for cell names use `mdata.obs_names.get_indexer(names)`."
        )
    positions = positions.astype(np.int64).ravel()
    if positions.size == 0:
        raise ValueError("`indices` selects no cells; pass at least one, or None for all cells.")
    outside = positions[(positions < 0) | (positions >= n_obs)]
    if outside.size:
        raise ValueError(
            f"`indices` holds {outside.size} positions outside 0..{n_obs - 1} (e.g. "
            f"{outside[:5].tolist()}); the data have {n_obs} cells."
        )
    return positions


def check_count_argument(value, name: str, minimum: int, why: str = "") -> None:
    """Raise ``TypeError`` unless ``value`` is an integer, ``ValueError`` if below ``minimum``.

    Parameters
    ----------
    value
        Value of the argument.
    name
        Name of the argument (e.g. ``"max_epochs"``).
    minimum
        Smallest value allowed.
    why
        Why smaller values are refused, appended to the message.

    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"`{name}` must be at least {minimum}, got {value}.{why}")


def check_training_arguments(
    max_epochs: int | None, batch_size: int, n_epochs_pretrain: int | None = None
) -> None:
    """Refuse epoch counts and minibatch sizes training cannot run with.

    Parameters
    ----------
    max_epochs
        ``None`` (the model's default) or at least 1.
    batch_size
        At least 2.
    n_epochs_pretrain
        ``None`` or at least 0.

    """
    if max_epochs is not None:
        check_count_argument(max_epochs, "max_epochs", 1)
    check_count_argument(
        batch_size,
        "batch_size",
        2,
        " BatchNorm layers and the contrastive losses compare cells within a minibatch.",
    )
    if n_epochs_pretrain is not None:
        check_count_argument(n_epochs_pretrain, "n_epochs_pretrain", 0)


def check_modality_has_counts(totals: np.ndarray, description: str) -> None:
    """Raise ``ValueError`` if a registered count matrix is zero in every cell.

    Parameters
    ----------
    totals
        Per-cell totals of the count matrix (:func:`registered_row_sums`).
    description
        How the user knows it (e.g. ``"Modality 'prot'"``).

    """
    if not totals.any():
        raise ValueError(
            f"{description} has no counts in any cell: it carries no information, yet the "
            "fusion would give it a share of every cell's embedding. Check that the right "
            "layer was registered, or leave the modality out of `modalities`."
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
