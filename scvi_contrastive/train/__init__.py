"""Training plans and callbacks."""

from .bilateral import MNNRefresh
from .callbacks import NonFiniteLossError, NonFiniteLossGuard, TrainingCheckpoint
from .fusion import ContrastiveFusionTrainingPlan
from .scheduled_refresh import ScheduledRefresh

__all__ = [
    "ContrastiveFusionTrainingPlan",
    "MNNRefresh",
    "NonFiniteLossError",
    "NonFiniteLossGuard",
    "ScheduledRefresh",
    "TrainingCheckpoint",
]
