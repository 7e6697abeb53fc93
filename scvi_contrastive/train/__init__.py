"""Training plans."""

from .fusion import ContrastiveFusionTrainingPlan

__all__ = ["ContrastiveFusionTrainingPlan"]
