"""How one zoo member trains (a recipe of conf/zoo/<dataset>.yaml): epochs, optimiser, learning
rates, schedule, batch size. Part of the train.zoo config schema (train.schema), and what
train.module, train.fit and train.group read."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from omegaconf import MISSING

from ipguard.app.schema import at_least
from ipguard.utils.errors import ConfigError


class Optimizer(StrEnum):
    adam = "adam"
    sgd = "sgd"     # Nesterov momentum 0.9


class Schedule(StrEnum):
    cosine = "cosine"
    constant = "constant"


@dataclass
class Recipe:
    """How one member trains."""

    epochs: int = MISSING
    lr: float = MISSING
    optimizer: Optimizer = Optimizer.adam
    weight_decay: float = 0.0
    batch_size: int = 64
    schedule: Schedule = Schedule.cosine
    head_lr: float | None = None   # the last layer's rate when it differs (RTAL's new head)

    def __post_init__(self) -> None:
        at_least("epochs", self.epochs, 1, "train for at least 1 epoch")
        if self.lr <= 0:
            raise ConfigError("lr", self.lr, "the learning rate must be > 0")
        if self.head_lr is not None and self.head_lr <= 0:
            raise ConfigError("head_lr", self.head_lr, "the learning rate must be > 0")
        at_least("weight_decay", self.weight_decay, 0.0, "must be >= 0")
        at_least("batch_size", self.batch_size, 1, "must be an integer >= 1")
