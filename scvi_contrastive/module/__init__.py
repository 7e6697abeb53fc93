"""Modules (tensors in, losses out) of the models."""

from .fusion import ContrastiveFusionModule

__all__ = ["ContrastiveFusionModule"]
