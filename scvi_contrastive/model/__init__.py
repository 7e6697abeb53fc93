"""User-facing models."""

from .scmdcf import SCMDCF

__all__ = ["SCMDCF"]
