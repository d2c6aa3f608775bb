"""The config schema of ``python -m train.zoo``: the zoo spec (conf/zoo/<dataset>.yaml), its
training recipes, and the entry point's own settings. Types and choices are checked while
Hydra composes; ranges in ``__post_init__`` (see ipguard.app.schema)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from omegaconf import MISSING

from ipguard.app.schema import DatasetConfig, LoggerConfig, PathsConfig, at_least, within
from ipguard.utils.errors import ConfigError
from ipguard.zoo.suspects import FINETUNE
from train.recipe import Recipe


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


class QuerySource(StrEnum):
    """Where a model-extraction attacker's unlabelled query inputs come from."""

    train = "train"       # the target's training inputs: the common upper bound
    holdout = "holdout"   # a seeded fraction of the training inputs, reserved for the attacker
    noise = "noise"       # uniform noise in [0, 1] of the input shape: no data at all


class API(StrEnum):
    label = "label"   # predict(): the label-only API Verify uses
    prob = "prob"     # the probability vector of every query


@dataclass
class StudentSpec:
    """A stolen copy's network: the target's architecture (``model`` null) or another one."""

    recipe: Recipe = MISSING
    arch: str | None = None           # null: the target's
    model: Any = None                 # null: the target's constructor


@dataclass
class DistillSpec:
    """Knowledge distillation (Hinton et al. 2015): each student learns the target's outputs
    softened at ``temperature`` on the training inputs, with loss
    alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, true label)."""

    temperature: float = 4.0
    alpha: float = 0.9
    students: dict[str, StudentSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ConfigError("temperature", self.temperature, "a temperature must be > 0")
        within("alpha", self.alpha, 0.0, 1.0,
               "the weight of the soft targets lies in [0, 1] (1: no true labels)")


@dataclass
class ExtractionSpec:
    """Model extraction through the target's API: ``budgets`` queries (0: the whole pool)
    drawn from ``source``, answered by the label or the probability API (``apis``), and a
    student trained on the answers. ``holdout`` is the fraction of the training inputs
    reserved for source=holdout; ``pool`` the number of noise inputs for source=noise."""

    source: QuerySource = QuerySource.train
    budgets: list[int] = field(default_factory=list)
    apis: list[API] = field(default_factory=lambda: [API.label, API.prob])
    holdout: float = 0.5
    pool: int = 10000
    student: StudentSpec = MISSING

    def __post_init__(self) -> None:
        for budget in self.budgets:
            at_least("budgets", budget, 0, "a query budget is an integer >= 1 (0: the whole "
                     "query pool)")
        if len(set(self.budgets)) != len(self.budgets):
            raise ConfigError("budgets", list(self.budgets), "list each budget once")
        if not 0.0 < self.holdout < 1.0:
            raise ConfigError("holdout", self.holdout, "a fraction of the training inputs "
                              "lies in (0, 1)")
        at_least("pool", self.pool, 1, "the number of noise queries is an integer >= 1")


@dataclass
class AdvFinetuneSpec:
    """Adversarial fine-tuning of the target (Madry et al. 2018): PGD under L-inf ``epsilon``
    (pixels in [0, 1]), ``steps`` steps of ``step_size`` (null: 2.5 * epsilon / steps) from
    a random start, one member per epsilon."""

    epsilons: list[float] = field(default_factory=list)
    steps: int = 7
    step_size: float | None = None
    recipe: Recipe = MISSING

    def __post_init__(self) -> None:
        for eps in self.epsilons:
            if not 0.0 < eps <= 1.0:
                raise ConfigError("epsilons", eps, "an L-inf radius in pixel space lies in "
                                  "(0, 1]")
        at_least("steps", self.steps, 1, "PGD takes at least 1 step")
        if self.step_size is not None and self.step_size <= 0:
            raise ConfigError("step_size", self.step_size, "must be > 0 (null: 2.5 eps/steps)")


@dataclass
class HarderSpec:
    """Independent models as close to the target as an honest competitor's: the target's
    architecture and recipe (or ``recipe``) on part of its training data. ``split_seed``
    splits the training set into halves A and B once; ``halves`` trains one model on each;
    each fraction f of ``overlaps`` trains one on |A| examples of which a fraction f come
    from A (overlap f with the half-A model's data) and the rest from B."""

    split_seed: int = 0
    halves: bool = True
    overlaps: list[float] = field(default_factory=list)
    recipe: Recipe | None = None      # null: the target's recipe

    def __post_init__(self) -> None:
        at_least("split_seed", self.split_seed, 0, "a seed is an integer >= 0")
        for f in self.overlaps:
            within("overlaps", f, 0.0, 1.0, "an overlap fraction lies in [0, 1]")


@dataclass
class StealingSpec:
    """Beyond the paper (docs/stealing.md): built only when selected
    (``member=stealing`` or one family); a null family is not planned."""

    distill: DistillSpec | None = None
    extraction: ExtractionSpec | None = None
    adv_ft: AdvFinetuneSpec | None = None
    harder: HarderSpec | None = None


@dataclass
class ZooSpec:
    """A dataset's zoo (conf/zoo/<dataset>.yaml): the target, its post-processed versions
    (positives) and independent models (negatives); and, built only when selected, the
    stealing suspects and harder negatives (``stealing``)."""

    target: TargetSpec = MISSING
    positives: PositivesSpec = field(default_factory=PositivesSpec)
    negatives: NegativesSpec = field(default_factory=NegativesSpec)
    stealing: StealingSpec = field(default_factory=StealingSpec)


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
