"""The config schema of ``python -m train.zoo``: the zoo spec (conf/zoo/<dataset>.yaml), its
training recipes, and the entry point's own settings. Types and choices are checked while
Hydra composes; ranges in ``__post_init__`` (see ipguard.schema)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from omegaconf import MISSING

from ipguard.errors import ConfigError
from ipguard.schema import DatasetConfig, LoggerConfig, PathsConfig, at_least, within
from ipguard.suspects import FINETUNE


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


@dataclass
class TargetSpec:
    arch: str = MISSING
    seed: int = 0
    model: Any = MISSING            # a constructor (_target_ in ipguard.models or torchvision)
    recipe: Recipe | None = None    # null: a pretrained model, loaded not trained

    def __post_init__(self) -> None:
        at_least("seed", self.seed, 0, "a seed is an integer >= 0")


@dataclass
class PruneSpec:
    """Pruning levels step, 2*step, ... up to ``largest``, each retrained by ``recipe``."""

    step: float = MISSING
    largest: float = MISSING
    recipe: Recipe = MISSING

    def __post_init__(self) -> None:
        for name in ("step", "largest"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ConfigError(name, value, "a pruning level lies in (0, 1)")


@dataclass
class PositivesSpec:
    max_accuracy_loss: float = 0.03   # the paper's 3 % rule
    finetune: dict[str, Recipe] = field(default_factory=dict)   # ftll, ftal, rtll, rtal
    wp: PruneSpec | None = None
    fp: PruneSpec | None = None

    def __post_init__(self) -> None:
        within("max_accuracy_loss", self.max_accuracy_loss, 0.0, 1.0,
               "an accuracy loss lies in [0, 1] (the paper's 3 % rule: 0.03)")
        for kind in self.finetune:
            if kind not in FINETUNE:
                raise ConfigError("finetune", kind, f"the paper's kinds are {list(FINETUNE)}")


@dataclass
class SeededSpec:
    """A family of independent members, one a seed: ``first_seed .. first_seed + count - 1``."""

    count: int = 0
    first_seed: int = 0

    def __post_init__(self) -> None:
        at_least("count", self.count, 0, "a member count is an integer >= 0")
        at_least("first_seed", self.first_seed, 0, "a seed is an integer >= 0")

    def seeds(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.count))


@dataclass
class SameArchSpec(SeededSpec):
    """The target's architecture and recipe, other seeds."""

    first_seed: int = 1
    recipe: Recipe | None = None      # null: the target's recipe


@dataclass
class FamilySpec(SeededSpec):
    """Independent models of another architecture."""

    arch: str = MISSING
    model: Any = MISSING
    recipe: Recipe | None = None      # null: pretrained


@dataclass
class ForestSpec(SeededSpec):
    """Random forests (scikit-learn's defaults) on flattened pixels."""

    n_estimators: int = 20

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least("n_estimators", self.n_estimators, 1, "a forest needs >= 1 tree")


@dataclass
class NegativesSpec:
    same_arch: SameArchSpec = field(default_factory=SameArchSpec)
    archs: dict[str, FamilySpec] = field(default_factory=dict)
    forest: ForestSpec = field(default_factory=ForestSpec)


@dataclass
class ZooSpec:
    """A dataset's zoo (conf/zoo/<dataset>.yaml): the target, its post-processed versions
    (positives) and independent models (negatives)."""

    target: TargetSpec = MISSING
    positives: PositivesSpec = field(default_factory=PositivesSpec)
    negatives: NegativesSpec = field(default_factory=NegativesSpec)


@dataclass
class TrainConfig:
    """``python -m train.zoo`` (conf/train.yaml)."""

    paths: PathsConfig = field(default_factory=PathsConfig)
    dataset: DatasetConfig = MISSING
    zoo: ZooSpec = MISSING
    trainer: dict[str, Any] = field(default_factory=dict)   # lightning.Trainer keyword arguments
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    member: str = "all"               # a kind, a family, or a group (all, positives, ...)
    seed: int | None = None           # one seed of a seeded family (one job per member)
    device: str = "cpu"
    threads: int | None = None
    zoo_dir: str = MISSING
    checkpoint_every_n_epochs: int = 1   # 0: no resumable checkpoints

    def __post_init__(self) -> None:
        at_least("seed", self.seed, 0, "null (every seed) or one seed, an integer >= 0")
        at_least("threads", self.threads, 1,
                 "null (SLURM_CPUS_PER_TASK or all) or an integer >= 1")
        at_least("checkpoint_every_n_epochs", self.checkpoint_every_n_epochs, 0,
                 "epochs between resumable checkpoints, >= 1 (0: none)")
