"""Checks that a saved model folder is intact, of the right class, and fits the data given.

Each error names the file or the features at fault and what to do instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from .safe_loading import read_model_file
from .validation import check_feature_names

#: Keys of a saved scvi-tools registry: the saving class, a field's feature names.
_MODEL_NAME_KEY = "model_name"
_COLUMN_NAMES_KEY = "column_names"


def read_saved_registry(
    model_cls: type,
    dir_path: str | os.PathLike,
    prefix: str | None = None,
    allowed_classes: Sequence[str] = (),
) -> dict:
    """Registry of a saved model, after checking that the folder holds an intact save of it.

    scvi-tools' own errors for these cases point elsewhere (a missing file is reported as a
    legacy format, a cut file as an OS error, another class without naming it). The file is
    read without running code from it (:func:`~scvi_contrastive.data.safe_loading.read_model_file`,
    which raises :class:`~scvi_contrastive.data.safe_loading.UnsafeModelFileError` otherwise).

    Parameters
    ----------
    model_cls
        Class whose ``load`` was called.
    dir_path
        Folder given to ``load``.
    prefix
        Prefix of the saved file names.
    allowed_classes
        Names of other classes whose saves ``model_cls`` may load.

    Returns
    -------
    The saved registry.

    """
    folder = Path(dir_path)
    model_file = folder / f"{prefix or ''}model.pt"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Model folder {str(folder)!r} does not exist. Pass the folder given to "
            "`model.save(...)`."
        )
    if not model_file.is_file():
        raise FileNotFoundError(
            f"Model folder {str(folder)!r} holds no {model_file.name!r} (it has "
            f"{sorted(p.name for p in folder.iterdir())}). Pass the folder given to "
            "`model.save(...)`, and its `prefix` if one was used."
        )
    try:
        registry = read_model_file(model_file)["attr_dict"]["registry_"]
    except (OSError, RuntimeError, EOFError, KeyError, TypeError) as error:
        raise ValueError(
            f"{str(model_file)!r} ({model_file.stat().st_size} bytes) cannot be read: it is "
            f"truncated or corrupt ({type(error).__name__}: {error}). Copy or save the model "
            "again."
        ) from error
    saved_class = registry.get(_MODEL_NAME_KEY)
    if saved_class not in (model_cls.__name__, *allowed_classes):
        raise ValueError(
            f"{str(folder)!r} holds a {saved_class} model, not a {model_cls.__name__} one. "
            f"Load it with the class that saved it: `{saved_class}.load(...)`."
        )
    return registry


def check_saved_model(
    model_cls: type,
    dir_path: str | os.PathLike,
    adata,
    count_modalities: Callable[[dict], dict[str, str | None]],
    prefix: str | None = None,
    backup_url: str | None = None,
    allowed_classes_names_list: Sequence[str] | None = None,
    **load_kwargs,
) -> None:
    """Checks of a model's ``load`` arguments before scvi-tools reads the save.

    Parameters
    ----------
    model_cls
        Class whose ``load`` was called.
    dir_path, adata, prefix, backup_url, allowed_classes_names_list, **load_kwargs
        Arguments of ``load``.
    count_modalities
        Maps a saved registry to ``{registry key of counts: modality}`` (``None``: the
        AnnData itself).

    """
    if backup_url is not None and not (Path(dir_path) / f"{prefix or ''}model.pt").exists():
        return  # scvi-tools downloads the save first, then reads it (safely, see `load`)
    registry = read_saved_registry(model_cls, dir_path, prefix, allowed_classes_names_list or ())
    if adata is None:
        data_file = Path(dir_path) / f"{prefix or ''}{_saved_data_name(registry)}"
        if not data_file.is_file():
            raise FileNotFoundError(
                f"Model folder {str(dir_path)!r} holds no saved data ({data_file.name!r}): the "
                "model was saved with `save_anndata=False`. Pass the data it was trained on: "
                f"`{model_cls.__name__}.load({str(dir_path)!r}, adata=mdata)`."
            )
    elif adata is not False:
        check_saved_features(registry, adata, count_modalities(registry))


def _saved_data_name(registry: dict) -> str:
    """File name of the data saved beside a model (``save_anndata=True``)."""
    return "mdata.h5mu" if registry.get("setup_method_name") == "setup_mudata" else "adata.h5ad"


def check_saved_features(registry: dict, adata, count_modalities: dict[str, str | None]) -> None:
    """Raise ``ValueError`` unless data given to ``load`` have the saved model's features.

    Parameters
    ----------
    registry
        Registry of the saved model.
    adata
        AnnData or MuData given to ``load``.
    count_modalities
        Registry key of each count matrix → modality holding it (``None``: ``adata`` itself).

    """
    for registry_key, mod_key in count_modalities.items():
        state = registry["field_registries"][registry_key]["state_registry"]
        if mod_key is None:
            target, where = adata, "the AnnData"
        else:
            check_modalities_present(adata, [mod_key], "the data given to `load`")
            target, where = adata.mod[mod_key], f"modality {mod_key!r}"
        check_feature_names(state[_COLUMN_NAMES_KEY], target.var_names, where)


def check_modalities_present(adata, modalities: Sequence[str], where: str) -> None:
    """Raise ``ValueError`` unless the MuData ``adata`` holds every one of ``modalities``.

    Parameters
    ----------
    adata
        MuData (or an AnnData, which holds none).
    modalities
        Modality names the model was set up with.
    where
        How the user knows ``adata`` (e.g. ``"the data given to `load`"``).

    """
    held = list(getattr(adata, "mod", {}))
    missing = [name for name in modalities if name not in held]
    if missing:
        raise ValueError(
            f"Modality {missing[0]!r}, which the model was set up with, is not in {where} "
            f"(modalities: {held}). Give a MuData with the modalities {list(modalities)}, with "
            "the cells a modality did not measure left out of that modality."
        )
