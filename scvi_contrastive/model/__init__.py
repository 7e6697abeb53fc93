"""User-facing models."""

from .biclum import BICLUM
from .scmdcf import SCMDCF

__all__ = ["BICLUM", "SCMDCF"]
