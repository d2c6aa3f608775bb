"""The config schema of ``python -m train.zoo``: the zoo spec (conf/zoo/<dataset>.yaml), its
training recipes, and the entry point's own settings. Types and choices are checked while
Hydra composes; ranges in ``__post_init__`` (see ipguard.app.schema)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from ipguard.app.schema import DatasetConfig, LoggerConfig, PathsConfig, at_least, within
from ipguard.utils.errors import ConfigError
from ipguard.zoo.suspects import FINETUNE
from train.recipe import Recipe
from train.schema_auxiliary import AuxiliarySpec
from train.schema_stealing import (
    API,
    AdvFinetuneSpec,
    DistillSpec,
    ExtractionSpec,
    HarderSpec,
    JacobianSpec,
    QuerySource,
    StealingSpec,
    StudentSpec,
    ThiefData,
)

__all__ = ["API", "AdvFinetuneSpec", "AuxiliarySpec", "DistillSpec", "ExtractionSpec", "HarderSpec",
           "JacobianSpec", "QuerySource", "StealingSpec", "StudentSpec", "ThiefData"]


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
class DataSpec:
    """Whose training data is whose. The owner (the target, its positives, the negatives)
    trains on a seeded ``owner_fraction`` of the training set; the rest is the attacker's,
    inputs of the same distribution the target never saw (the standard threat model of
    model stealing: SAC, CAE, QuRD). 1.0: the paper's zoo, every training input the owner's,
    so its thieves can only use the owner's data (source=train, distill data=owner)."""

    owner_fraction: float = 1.0
    split_seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.owner_fraction <= 1.0:
            raise ConfigError("owner_fraction", self.owner_fraction, "the owner's share of "
                              "the training set lies in (0, 1] (1: the paper's zoo)")
        at_least("split_seed", self.split_seed, 0, "a seed is an integer >= 0")


@dataclass
class ZooSpec:
    """A dataset's zoo (conf/zoo/<dataset>.yaml): the target, its post-processed versions
    (positives) and independent models (negatives); and, built only when selected, the
    stealing suspects and harder negatives (``stealing``) and the owner's auxiliary models
    (``auxiliary``: never suspects)."""

    target: TargetSpec = MISSING
    data: DataSpec = field(default_factory=DataSpec)
    positives: PositivesSpec = field(default_factory=PositivesSpec)
    negatives: NegativesSpec = field(default_factory=NegativesSpec)
    stealing: StealingSpec = field(default_factory=StealingSpec)
    auxiliary: AuxiliarySpec = field(default_factory=AuxiliarySpec)


@dataclass
class PopulationSpec:
    """Many targets on one zoo spec, with enough negatives for an FPR to be measured
    (docs/verdicts.md#population): each seed of ``targets`` gets its own zoo (the target, its
    positives and thieves) under ``<zoo_dir>/target-s<seed>``; the negatives are built once
    under ``<zoo_dir>/negatives``. ``population.json`` assigns the first
    ``validation_targets`` targets and a seeded ``validation`` share of each negative family
    to the validation population, where settings and thresholds are chosen; the rest is the
    test population, where they are reported."""

    targets: list[int] = field(default_factory=list)
    validation_targets: int = 1
    validation: float = 0.5
    split_seed: int = 0

    def __post_init__(self) -> None:
        if len(self.targets) < 2 or len(set(self.targets)) != len(self.targets):
            raise ConfigError("population.targets", list(self.targets), "at least two "
                              "distinct target seeds (validation and test)")
        for seed in self.targets:
            at_least("population.targets", seed, 0, "a seed is an integer >= 0")
        if not 1 <= self.validation_targets < len(self.targets):
            raise ConfigError("population.validation_targets", self.validation_targets,
                              f"between 1 and {len(self.targets) - 1}: both populations "
                              "need a target")
        if not 0.0 < self.validation < 1.0:
            raise ConfigError("population.validation", self.validation, "the validation "
                              "share of each negative family lies in (0, 1)")


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
    checkpoint_min_seconds: float = 10.0   # and not sooner than this after the last one
    group_size: int = 1   # > 1: train up to this many members of a seeded family at once
    population: PopulationSpec | None = None   # population=<dataset>: many targets, split
    # a network below 1.5x chance accuracy is retrained with the next seed (train.builders.
    # network); off for smoke runs (debug=smoke) and always off with trainer.fast_dev_run
    retrain_at_chance: bool = True

    def __post_init__(self) -> None:
        at_least("seed", self.seed, 0, "null (every seed) or one seed, an integer >= 0")
        at_least("checkpoint_min_seconds", self.checkpoint_min_seconds, 0.0,
                 "seconds between two resumable checkpoints at least, >= 0")
        at_least("group_size", self.group_size, 1,
                 "members trained at once (train.group), an integer >= 1 (1: one at a time)")
        at_least("threads", self.threads, 1,
                 "null (SLURM_CPUS_PER_TASK or all) or an integer >= 1")
        at_least("checkpoint_every_n_epochs", self.checkpoint_every_n_epochs, 0,
                 "epochs between resumable checkpoints, >= 1 (0: none)")


def register() -> None:
    """Store :class:`TrainConfig` in Hydra's ConfigStore as ``train_schema`` (conf/train.yaml
    extends it), beside the schemas ``ipguard.app.config.register`` stores."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
