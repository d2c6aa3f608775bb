"""The options the paper's artifacts take (a parameter figure's spec, the sweeps the tables
read, where a figure's grid comes from); the figures config (``ipguard.app.schema``) holds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from omegaconf import MISSING


class Grid(StrEnum):
    sweep = "sweep"       # the sweep file's grid, joined with what the records show
    records = "records"   # only what the records show


@dataclass
class FigureSpec:
    """A parameter figure (Figures 3-6): the paper's title, its sweep and its method. The
    composed config has one per sweep file that draws a figure (ipguard.app.sweeps)."""

    title: str = MISSING
    sweep: str = MISSING
    method: str = MISSING


@dataclass
class TablesConfig:
    # the sweeps Table 4 / Figure 2 pick each method's best from: when composed, every sweep
    # file that measures a single method (ipguard.app.sweeps)
    best_from: list[str] = field(default_factory=list)
    matching_rates_sweep: str = "tables5-7"
    seconds_sweep: str = "table8"
    # the stealing table and figure (docs/stealing.md): these sweeps and best_from's records
    # measured on a zoo with stealing suspects or harder negatives
    stealing_from: list[str] = field(default_factory=lambda: ["stealing"])
    # every method x combo at its best setting over seeds 0-4 (sweeps/seeds.yaml)
    seeds_sweep: str = "seeds"
    # a population's verdicts (sweeps/population.yaml, docs/verdicts.md#population)
    population_sweep: str = "population"
    # the field's schemes and the paper's methods on one zoo (sweeps/schemes.yaml, docs/schemes.md)
    schemes_sweep: str = "schemes"
    # the same on a population, thresholds from its validation part (sweeps/schemes-population)
    schemes_population_sweep: str = "schemes-population"
