"""Training plans and callbacks."""

from .bilateral import MNNRefresh
from .callbacks import NonFiniteLossError, NonFiniteLossGuard, TrainingCheckpoint
from .fusion import ContrastiveFusionTrainingPlan

__all__ = [
    "ContrastiveFusionTrainingPlan",
    "MNNRefresh",
    "NonFiniteLossError",
    "NonFiniteLossGuard",
    "TrainingCheckpoint",
]
