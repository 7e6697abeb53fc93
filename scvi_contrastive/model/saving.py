"""``save`` and ``load`` of this package's models: files that load without running code.

scvi-tools' ``load`` unpickles ``model.pt`` with ``weights_only=False``, so a crafted file runs
its payload. :class:`SafeSaveLoadMixin` reads every model file through
:func:`~scvi_contrastive.data.safe_loading.safe_model_loading` (torch's ``weights_only``
unpickler with an allow-list), and saves the training history as plain tables, so that a save
needs no pandas class to be rebuilt.
"""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

import pandas as pd
from scvi import settings

from ..data.safe_loading import UnsafeModelFileError, safe_model_loading
from ..data.saved_model_checks import check_saved_model
from ._setup import count_modalities

#: Files of the training data that ``save(save_anndata=True)`` writes beside ``model.pt``.
_DATA_FILES = ("mdata.h5mu", "adata.h5ad")
_HISTORY = "history_"


def history_as_tables(history: dict | None) -> dict | None:
    """The training history (name → DataFrame) as plain dicts (``DataFrame.to_dict("tight")``)."""
    if not isinstance(history, dict):
        return history
    return {
        name: frame.to_dict(orient="tight") if isinstance(frame, pd.DataFrame) else frame
        for name, frame in history.items()
    }


def restore_history(model):
    """Turn a loaded model's history back into DataFrames (inverse of :func:`history_as_tables`).

    Parameters
    ----------
    model
        A model just built from a save.

    Returns
    -------
    ``model``.
    """
    history = getattr(model, _HISTORY, None)
    if isinstance(history, dict):
        model.history_ = {
            name: pd.DataFrame.from_dict(table, orient="tight")
            if isinstance(table, dict)
            else table
            for name, table in history.items()
        }
    return model


class SafeSaveLoadMixin:
    """``save``/``load`` for models whose files must load without running code from them.

    ``_saved_count_modalities(registry)`` gives the registry key of each count matrix → the
    modality holding it (``None``: an AnnData), used to check the features of data given to
    ``load``; both models register their counts through :mod:`scvi_contrastive.model._setup`.
    """

    _saved_count_modalities = staticmethod(count_modalities)

    def _get_user_attributes(self):
        # What scvi-tools saves as the model's attributes; the history as plain tables.
        return [
            (name, history_as_tables(value) if name == _HISTORY else value)
            for name, value in super()._get_user_attributes()
        ]

    def save(
        self,
        dir_path: str | os.PathLike,
        prefix: str | None = None,
        overwrite: bool = False,
        save_anndata: bool = False,
        **kwargs,
    ) -> None:
        """Save the model (as :meth:`scvi.model.base.BaseModelClass.save`).

        With ``overwrite=True`` and ``save_anndata=False``, data saved in ``dir_path`` by an
        earlier save (``mdata.h5mu``/``adata.h5ad``) are removed, with a warning: they belong
        to the model saved there before, and ``load`` would otherwise pair them with this one.

        Parameters
        ----------
        dir_path
            Folder to save to.
        prefix
            Prefix of the file names.
        overwrite
            Overwrite the files of an earlier save in ``dir_path``.
        save_anndata
            Also save the data the model is set up with.
        **kwargs
            Passed to :meth:`scvi.model.base.BaseModelClass.save`.
        """
        super().save(
            str(dir_path), prefix=prefix, overwrite=overwrite, save_anndata=save_anndata, **kwargs
        )
        if save_anndata:
            return
        for name in _DATA_FILES:
            stale = Path(dir_path) / f"{prefix or ''}{name}"
            if stale.is_file():
                stale.unlink()
                warnings.warn(
                    f"Removed {str(stale)!r}: it held the data of the model saved there before, "
                    "which `load` would have paired with this model. Load this one with "
                    f"`{type(self).__name__}.load({str(dir_path)!r}, adata=...)`, or save it "
                    "with `save_anndata=True`.",
                    UserWarning,
                    stacklevel=settings.warnings_stacklevel,
                )

    @classmethod
    def load(cls, dir_path: str | os.PathLike, adata=None, **kwargs):
        """Load a model saved with :meth:`save`, without running code from its files.

        As :meth:`scvi.model.base.BaseModelClass.load` (same arguments), after checking that
        ``dir_path`` holds an intact save of this class (with its data when ``adata`` is not
        given) and that ``adata`` (if given) has the features the model was set up with, in the
        same order; each failure names what differs. ``model.pt`` is read with torch's
        ``weights_only`` unpickler and an allow-list of the types models are saved with;
        anything else raises
        :class:`~scvi_contrastive.data.safe_loading.UnsafeModelFileError` before it runs.
        """
        dir_path = str(dir_path)
        check_saved_model(cls, dir_path, adata, cls._saved_count_modalities, **kwargs)
        try:
            with safe_model_loading():
                model = super().load(dir_path, adata=adata, **kwargs)
        except pickle.UnpicklingError as error:  # a file fetched from `backup_url`
            raise UnsafeModelFileError(dir_path, error) from None
        return restore_history(model)
