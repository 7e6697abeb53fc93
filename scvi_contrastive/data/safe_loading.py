"""Read saved model files (``model.pt``) without running code from them.

``model.pt`` is a pickle, and unpickling can call any function the file names. scvi-tools
reads it with ``torch.load(..., weights_only=False)``, so a crafted file runs its payload on
``load``. Here every read goes through torch's ``weights_only`` unpickler, which builds only
tensors, plain containers and the types allow-listed below: the types scvi-tools and this
package save (numpy arrays, and the pandas tables of the training history that earlier saves
hold). A file that needs anything else is refused before any of it runs.
"""

from __future__ import annotations

import importlib
import os
import pickle
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy.dtypes
import torch

_FORCE_WEIGHTS_ONLY = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"
_FORCE_NO_WEIGHTS_ONLY = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"

#: Names, as a pickle writes them, of what saved models are built from besides tensors and
#: plain containers: numpy arrays and scalars (numpy 1 and 2 name their module differently),
#: and the pandas tables of the training history in saves made before this module existed
#: (pandas 3 names its classes from the top-level module and stores text as string arrays).
_SAVED_NAMES = (
    "builtins.dict",
    "builtins.slice",
    "builtins.bytes",
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray._reconstruct",
    "numpy._core.multiarray.scalar",
    "pandas.core.frame.DataFrame",
    "pandas.core.indexes.base.Index",
    "pandas.core.indexes.base._new_Index",
    "pandas.core.indexes.range.RangeIndex",
    "pandas.core.internals.managers.BlockManager",
    "pandas._libs.internals._unpickle_block",
    "pandas.DataFrame",
    "pandas.Index",
    "pandas.RangeIndex",
    "pandas.StringDtype",
    "pandas.arrays.StringArray",
    "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked",
)


def _dict_ignoring_default(default_factory) -> dict:
    """What a saved ``defaultdict`` becomes: a plain dict (its factory is not called).

    scvi-tools saves the registry's field table as a ``defaultdict(dict)``; torch's unpickler
    fills only plain dicts, and the registry is only read after loading.
    """
    return {}


def _resolve(name: str):
    """The object a dotted name refers to, or ``None`` where this numpy/pandas has none."""
    module, _, attribute = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError):
        return None


#: Every global a saved model may name, as ``(object, name in the file)``, plus numpy's dtype
#: classes (the type of each unpickled dtype, never named in the file).
SAVED_GLOBALS: list = [
    *((obj, name) for name in _SAVED_NAMES if (obj := _resolve(name)) is not None),
    (_dict_ignoring_default, "collections.defaultdict"),
    *(getattr(numpy.dtypes, name) for name in numpy.dtypes.__all__),
]

# Parts of torch's refusal that say what the file asked for.
_REFUSAL = re.compile(r"([^\n]*GLOBAL [^\n]*|Can only [^\n]*|Trying to call [^\n]*)")


class UnsafeModelFileError(ValueError):
    """A model file names something that loading would have to run; nothing of it ran."""

    def __init__(self, path: str | os.PathLike, error: Exception):
        found = _REFUSAL.search(str(error))
        reason = found.group(1) if found else str(error).strip().splitlines()[-1]
        super().__init__(
            f"{str(path)!r} was not loaded: it asks to run or build something that saved models "
            f"never contain ({reason}). Nothing from the file was executed. Models saved by "
            "scvi-contrastive hold only tensors, arrays, tables and plain values, so this file "
            "was altered or written by another program. Load model folders only from sources "
            "you trust, and save the model again from its original."
        )


@contextmanager
def safe_model_loading() -> Iterator[None]:
    """Within the block, every ``torch.load`` (scvi-tools' too) reads ``weights_only``.

    Sets ``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` (torch's own switch, which overrides the
    ``weights_only=False`` scvi-tools passes) and allow-lists :data:`SAVED_GLOBALS`; both are
    restored on exit, so blocks may nest. A refused file raises ``pickle.UnpicklingError``.
    """
    already = torch.serialization.get_safe_globals()
    added = [item for item in SAVED_GLOBALS if item not in already]
    switches = (_FORCE_WEIGHTS_ONLY, _FORCE_NO_WEIGHTS_ONLY)
    previous = {name: os.environ.get(name) for name in switches}
    os.environ.pop(_FORCE_NO_WEIGHTS_ONLY, None)
    os.environ[_FORCE_WEIGHTS_ONLY] = "1"
    try:
        with torch.serialization.safe_globals(added):
            yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def read_model_file(path: str | os.PathLike, map_location: str = "cpu") -> dict:
    """Content of a saved ``model.pt``, read without running code from it.

    Parameters
    ----------
    path
        The ``model.pt`` file.
    map_location
        Device the tensors are read onto.

    Returns
    -------
    The saved dictionary (state dict, feature names, attributes with the registry).

    Raises
    ------
    UnsafeModelFileError
        If the file needs anything beyond the allow-listed types.
    """
    try:
        with safe_model_loading():
            return torch.load(Path(path), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeModelFileError(path, error) from None
