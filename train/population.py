"""Build a population (ipguard.zoo.population, docs/verdicts.md#population): the shared
negatives once, then each target's zoo (the target, its positives and its thieves) with the
target's seed, after writing the validation/test split, so no later step can choose it. Each
zoo is an ordinary zoo build (resumable, one W&B run a member)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

from ipguard.zoo.population import (
    NEGATIVES_DIR,
    PopulationSplit,
    split_population,
    target_dir,
    write_split,
)
from train.build import ZooBuilder
from train.plan import plan
from train.schema import NegativesSpec, PopulationSpec, ZooSpec

log = logging.getLogger(__name__)


def population_split(zoo: ZooSpec, population: PopulationSpec) -> PopulationSplit:
    """The split of the population ``zoo`` and ``population`` describe (pure)."""
    families: dict[str, list[str]] = {}
    for job in plan(zoo, "negatives"):
        families.setdefault(job.family, []).append(job.name)
    return split_population(population.targets, population.validation_targets, families,
                            population.validation, population.split_seed,
                            zoo.data.owner_fraction, zoo.data.split_seed)


def target_zoo(zoo: ZooSpec, seed: int) -> ZooSpec:
    """One target's zoo: the population's spec with the target's seed and no negatives (they
    are shared)."""
    return dataclasses.replace(zoo, target=dataclasses.replace(zoo.target, seed=seed),
                               negatives=NegativesSpec())


def build_population(zoo: ZooSpec, population: PopulationSpec, root: str | Path,
                     builder: Callable[[ZooSpec, Path], ZooBuilder],
                     train_images: int | None = None) -> list[str]:
    """Write the split (and ``train_images``, the size of the training set it splits, which
    the bench checks), build the negatives and every target's zoo (its positives, thieves and
    the owner's auxiliary models, where ``zoo.auxiliary`` asks for them) under ``root`` (each
    with ``builder(spec, folder)``); return the names of the members built now."""
    root = Path(root)
    split = dataclasses.replace(population_split(zoo, population), train_images=train_images)
    write_split(root, split)
    built: list[str] = []
    negatives = builder(zoo, root / NEGATIVES_DIR)
    negatives.build(member="negatives")
    built += negatives.built
    for number, seed in enumerate(population.targets, 1):
        log.info("population target %d/%d (seed %d): %s", number, len(population.targets),
                 seed, target_dir(root, seed))
        one = builder(target_zoo(zoo, seed), target_dir(root, seed))
        one.build(member="all")
        one.build(member="stealing")
        one.build(member="auxiliary")   # the owner's, for CAE; none unless zoo.auxiliary asks
        built += one.built
    return built
