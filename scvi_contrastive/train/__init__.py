"""Training plans and callbacks."""

from .bilateral import MNNRefresh
from .fusion import ContrastiveFusionTrainingPlan

__all__ = ["ContrastiveFusionTrainingPlan", "MNNRefresh"]
