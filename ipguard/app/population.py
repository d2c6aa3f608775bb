"""The bench on a population (``zoo_is_population=true``, docs/verdicts.md#population): one
fingerprint per target, extracted from the owner's part of the training set; every positive of
that target's zoo and every shared negative verified; one record per target in the store
(``<store.dir>/target-s<seed>/<key>.json``), each suspect marked ``validation`` or ``test`` by
the population's split, which the build wrote. The population table (``ipguard.paper``)
chooses settings and thresholds on the validation part and reports on the test part."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import hydra

from ipguard.app.config import plain
from ipguard.app.schema import BenchConfig
from ipguard.data import ImageData
from ipguard.data.owner import owner_split
from ipguard.results.record import Record
from ipguard.results.setting import Setting
from ipguard.results.store import ResultsStore, write_record
from ipguard.utils.errors import ConfigError
from ipguard.zoo import Zoo
from ipguard.zoo.population import Population, PopulationSplit, load_population

log = logging.getLogger(__name__)

Measure = Callable[[Zoo, Setting, Path, PopulationSplit], Record]


def population_zoo(population: Population, seed: int) -> Zoo:
    """One target's zoo with the shared negatives added: what its fingerprint is verified on."""
    zoo = population.zoos[seed]
    return Zoo(zoo.root, [*zoo.members, *population.negatives.members])


def owner_data(cfg: BenchConfig, population: PopulationSplit | None) -> ImageData:
    """The dataset the owner may use: the loader's, and on a population only the owner's part
    of its training set, split as the population was (the bench refuses a loader whose
    training set is not the one the population split)."""
    data = hydra.utils.call(cfg.dataset.loader)
    if population is None:
        return data
    expected = population.train_images
    if expected is not None and len(data.train) != expected:
        raise ConfigError("dataset.loader", plain(cfg.dataset.loader), f"the population "
                          f"was built from {expected} training images, this loader gives "
                          f"{len(data.train)}: pass the loader settings it was built with "
                          "(conf/population/<dataset>.yaml, dataset.loader)")
    owner, _ = owner_split(data, population.owner_fraction, population.owner_seed)
    return owner


def mark(record: Record, population: Population, seed: int) -> Record:
    """``record`` with each negative's part (validation or test), each positive's and the
    record's own (its target's part)."""
    split = population.split
    part = "validation" if seed in split.validation_targets else "test"
    suspects = [dataclasses.replace(s, part=split.part_of(s.name) if s.role == "negative"
                                    else part) for s in record.suspects]
    provenance = dataclasses.replace(record.provenance, population_target=seed,
                                     population_part=part)
    return dataclasses.replace(record, suspects=suspects, provenance=provenance)


def run_population(cfg: BenchConfig, setting: Setting, out_dir: Path, measure: Measure,
                   auxiliary: bool = False) -> list[tuple[Record, Path, bool]]:
    """Measure ``setting`` on every target of the population at ``cfg.zoo_dir`` (validation
    targets first); a target whose record is in the store is read, not recomputed. With
    ``auxiliary`` (a scheme that uses the owner's auxiliary models) they count in each
    target's zoo identity. Returns (record, path, skipped) per target."""
    population = load_population(cfg.zoo_dir)
    split = population.split
    out: list[tuple[Record, Path, bool]] = []
    for seed in (*split.validation_targets, *split.test_targets):
        zoo = population_zoo(population, seed)
        mine = dataclasses.replace(setting, zoo=zoo.identity(auxiliary=auxiliary))
        store = ResultsStore(Path(cfg.store.dir) / f"target-s{seed}")
        done = None if cfg.force else store.find(mine)
        if done is not None:
            log.info("target-s%d: already in the store (%s)", seed, store.path(done.key))
            out.append((done, store.path(done.key), True))
            continue
        folder = out_dir / f"target-s{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        record = mark(measure(zoo, mine, folder, split), population, seed)
        path = store.write(record)
        write_record(folder / "results.json", record)
        log.info("target-s%d: %s", seed, path)
        out.append((record, path, False))
    return out
