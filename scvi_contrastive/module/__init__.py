"""Modules (tensors in, losses out) of the models."""

from .bilateral import BilateralAlignmentModule
from .fusion import ContrastiveFusionModule

__all__ = ["BilateralAlignmentModule", "ContrastiveFusionModule"]
