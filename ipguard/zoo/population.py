"""A population (docs/verdicts.md#population): several targets, each with its own zoo of
positives and thieves, and one shared set of negatives, split once into a validation
population (where settings and thresholds are chosen) and a test population (where they are
reported). ``python -m train.zoo population=<dataset>`` builds it; this module is its layout
on disk and the split, written once at build time so no later step can choose it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ipguard.utils.errors import ConfigError, IPGuardError, MissingZooError
from ipguard.utils.io import read_json, write_json
from ipguard.zoo.collection import Zoo, load_zoo
from ipguard.zoo.member import Member

POPULATION_FILE = "population.json"
NEGATIVES_DIR = "negatives"
FORMAT = "ipguard.population/1"
BUILD_COMMAND = "python -m train.zoo population=<dataset>"
PARTS = ("validation", "test")


def target_dir(root: str | Path, seed: int) -> Path:
    """Where the zoo of the population's target of ``seed`` lives."""
    return Path(root) / f"target-s{seed}"


@dataclass(frozen=True)
class PopulationSplit:
    """Which targets and which negatives (by member name) are in the validation population;
    the rest are in the test population."""

    validation_targets: tuple[int, ...]
    test_targets: tuple[int, ...]
    validation_negatives: tuple[str, ...]
    test_negatives: tuple[str, ...]
    owner_fraction: float = 1.0     # the owner's share of the training set (zoo.data)
    owner_seed: int = 0             # and the seed that split it
    train_images: int | None = None  # the training set it was split from (a loader's subset)

    def part_of(self, negative: str) -> str:
        if negative in self.validation_negatives:
            return "validation"
        if negative in self.test_negatives:
            return "test"
        raise IPGuardError(f"negative {negative!r} is in neither population of "
                           f"{POPULATION_FILE}: rebuild with `{BUILD_COMMAND}`")

    def targets(self, part: str) -> tuple[int, ...]:
        return self.validation_targets if part == "validation" else self.test_targets

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "owner_fraction": self.owner_fraction,
                "owner_seed": self.owner_seed, "train_images": self.train_images,
                "targets": {"validation": list(self.validation_targets),
                            "test": list(self.test_targets)},
                "negatives": {"validation": list(self.validation_negatives),
                              "test": list(self.test_negatives)}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PopulationSplit:
        if data.get("format") != FORMAT:
            raise IPGuardError(f"{POPULATION_FILE} is not a {FORMAT} file: rebuild with "
                               f"`{BUILD_COMMAND}`")
        t, n = data["targets"], data["negatives"]
        return cls(tuple(int(s) for s in t["validation"]), tuple(int(s) for s in t["test"]),
                   tuple(n["validation"]), tuple(n["test"]), float(data["owner_fraction"]),
                   int(data.get("owner_seed", 0)),
                   None if data.get("train_images") is None else int(data["train_images"]))


def split_population(targets: Sequence[int], validation_targets: int,
                     negatives: Mapping[str, Sequence[str]], validation: float, seed: int,
                     owner_fraction: float = 1.0, owner_seed: int = 0) -> PopulationSplit:
    """The first ``validation_targets`` targets, and a seeded ``validation`` share of each
    negative family (``negatives``: family -> member names; at least one of each family
    with two or more members on either side), form the validation population."""
    rng = np.random.default_rng(seed)
    val: list[str] = []
    test: list[str] = []
    for family in sorted(negatives):
        names = list(negatives[family])
        order = [names[i] for i in rng.permutation(len(names))]
        cut = round(validation * len(names))
        if len(names) >= 2:
            cut = min(max(cut, 1), len(names) - 1)
        val += order[:cut]
        test += order[cut:]
    if not val or not test:
        raise ConfigError("population.validation", validation, "both populations need "
                          "negatives: build two or more of a family (zoo.negatives)")
    return PopulationSplit(tuple(targets[:validation_targets]),
                           tuple(targets[validation_targets:]), tuple(sorted(val)),
                           tuple(sorted(test)), owner_fraction, owner_seed)


def write_split(root: str | Path, split: PopulationSplit) -> Path:
    """Write the split (atomically); an existing, different split is an error: a population's
    split is fixed once its members exist. A split written before the training set's size was
    recorded (``train_images`` None) takes the size, so such a population resumes."""
    path = Path(root) / POPULATION_FILE
    if path.is_file() and _older(read_split(root), split.train_images) != split:
        raise IPGuardError(f"{path} holds another split (other targets, negatives or shares): "
                           "build into a new zoo_dir, or delete the population to rebuild it")
    Path(root).mkdir(parents=True, exist_ok=True)
    return write_json(path, split.to_json())


def _older(split: PopulationSplit, train_images: int | None) -> PopulationSplit:
    """``split`` with ``train_images`` where it has none recorded."""
    if split.train_images is None:
        return dataclasses.replace(split, train_images=train_images)
    return split


def read_split(root: str | Path) -> PopulationSplit:
    path = Path(root) / POPULATION_FILE
    if not path.is_file():
        raise MissingZooError(f"no population at {root} ({POPULATION_FILE} missing): build "
                              f"it with `{BUILD_COMMAND}`")
    return PopulationSplit.from_json(read_json(path))


@dataclass
class Population:
    """A built population: its split, each target's zoo and the shared negatives."""

    root: Path
    split: PopulationSplit
    zoos: dict[int, Zoo]
    negatives: Zoo

    def negatives_in(self, part: str) -> list[Member]:
        """The negatives of the validation or test population, in zoo order."""
        names = set(self.split.validation_negatives if part == "validation"
                    else self.split.test_negatives)
        return [m for m in self.negatives.members if m.role == "negative" and m.name in names]


def load_population(root: str | Path) -> Population:
    """Read a built population: its split, every target's zoo and the negatives (a member of
    the split that is missing is an error naming the build command)."""
    root = Path(root)
    split = read_split(root)
    zoos = {s: load_zoo(target_dir(root, s), BUILD_COMMAND)
            for s in (*split.validation_targets, *split.test_targets)}
    negatives = load_zoo(root / NEGATIVES_DIR, BUILD_COMMAND, require_target=False)
    have = {m.name for m in negatives.members}
    missing = sorted(set(split.validation_negatives + split.test_negatives) - have)
    if missing:
        raise MissingZooError(f"{len(missing)} negatives of the population are not built "
                              f"({', '.join(missing[:3])}...): run `{BUILD_COMMAND}` again")
    return Population(root, split, zoos, negatives)
