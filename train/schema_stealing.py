"""The zoo spec's members beyond the paper (docs/stealing.md): the thieves (distillation,
extraction through the label or probability API, the adaptive Jacobian thief, adversarial
fine-tuning) and the harder negatives; ``train.schema.ZooSpec.stealing`` holds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from omegaconf import MISSING

from ipguard.app.schema import at_least, within
from ipguard.utils.errors import ConfigError
from train.recipe import Recipe


class QuerySource(StrEnum):
    """Where a model-extraction attacker's unlabelled query inputs come from."""

    attacker = "attacker"  # the attacker's part of the training set (zoo.data): never the target's
    train = "train"        # the target's own training inputs: the owner's data, a stronger thief
    holdout = "holdout"    # a seeded fraction of the target's training inputs
    noise = "noise"        # uniform noise in [0, 1] of the input shape: no data at all


class ThiefData(StrEnum):
    """Which labelled inputs a distilling thief holds."""

    attacker = "attacker"  # the attacker's part of the training set, with its own labels
    owner = "owner"        # the target's own training set and labels: a stronger thief


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
    data: ThiefData = ThiefData.attacker
    students: dict[str, StudentSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ConfigError("temperature", self.temperature, "a temperature must be > 0")
        within("alpha", self.alpha, 0.0, 1.0,
               "the weight of the soft targets lies in [0, 1] (1: no true labels)")


@dataclass
class ExtractionSpec:
    """Model extraction through the target's API: ``budgets`` queries (0: the whole pool)
    drawn from ``source``, answered by the label or the probability API (``apis``), and each
    of ``students`` trained on the answers (one member per API, student and budget).
    ``holdout`` is the fraction of the training inputs for source=holdout; ``pool`` the
    number of noise inputs for source=noise."""

    source: QuerySource = QuerySource.attacker
    budgets: list[int] = field(default_factory=list)
    apis: list[API] = field(default_factory=lambda: [API.label, API.prob])
    holdout: float = 0.5
    pool: int = 10000
    students: dict[str, StudentSpec] = field(default_factory=dict)

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
class JacobianSpec:
    """An adaptive thief (Papernot et al., AsiaCCS 2017, Jacobian-based dataset augmentation):
    ``seed_queries`` inputs of the attacker's data labelled through the label API; each round
    trains the substitute on every answer so far (``round_epochs``) and asks about
    x + ``step`` * sign(d substitute's logit of x's answer / dx) for every x so far, doubling
    the set, so the queries go where the substitute's boundary is. One member per student
    and per number of ``rounds`` (budget seed_queries * 2^rounds, counted across calls)."""

    seed_queries: int = 100
    rounds: list[int] = field(default_factory=list)
    step: float = 0.1
    round_epochs: int = 10
    students: dict[str, StudentSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        at_least("seed_queries", self.seed_queries, 1, "the attacker's first queries, >= 1")
        for r in self.rounds:
            at_least("rounds", r, 0, "augmentation rounds, integers >= 0")
        if len(set(self.rounds)) != len(self.rounds):
            raise ConfigError("rounds", list(self.rounds), "list each number of rounds once")
        if not 0.0 < self.step <= 1.0:
            raise ConfigError("step", self.step, "the augmentation step in pixels lies in "
                              "(0, 1] (the paper: 0.1)")
        at_least("round_epochs", self.round_epochs, 1, "epochs per round, >= 1")


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
    jacobian: JacobianSpec | None = None
    adv_ft: AdvFinetuneSpec | None = None
    harder: HarderSpec | None = None
