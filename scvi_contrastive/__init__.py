"""Contrastive multi-omics integration models for scvi-tools."""

from importlib.metadata import PackageNotFoundError, version

from . import data, model

try:
    __version__ = version("scvi-contrastive")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__", "data", "model"]
