"""Training MLS-Track on a Refer-KITTI tree: the run's config and the training loop."""

from mlstrack.training.config import TrainConfig, load_train_config
from mlstrack.training.trainer import StepLog, Trainer, TrainResult

__all__ = ["StepLog", "TrainConfig", "TrainResult", "Trainer", "load_train_config"]
