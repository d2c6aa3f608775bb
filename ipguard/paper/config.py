"""The config schema of ``python -m ipguard.figures`` (conf/figures.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from omegaconf import MISSING

from ipguard.app.schema import DatasetConfig, LoggerConfig, PathsConfig
from ipguard.utils.errors import ConfigError
from ipguard.zoo.suspects import Selection


class Source(StrEnum):
    local = "local"                   # the results store
    wandb = "wandb"                   # W&B runs through the public API (after `wandb sync`)


class Grid(StrEnum):
    sweep = "sweep"       # the sweep file's grid, joined with what the records show
    records = "records"   # only what the records show


@dataclass
class FigureSpec:
    """A parameter figure (Figures 3-6): the paper's title, its sweep and its method."""

    title: str = MISSING
    sweep: str = MISSING
    method: str = MISSING


@dataclass
class TablesConfig:
    best_from: list[str] = field(default_factory=list)   # sweeps Table 4 / Figure 2 pick from
    matching_rates_sweep: str = "tables5-7"
    seconds_sweep: str = "table8"
    # the stealing table and figure (docs/stealing.md): these sweeps and best_from's records
    # measured on a zoo with stealing suspects or harder negatives
    stealing_from: list[str] = field(default_factory=lambda: ["stealing"])
    # every method x combo at its best setting over seeds 0-4 (sweeps/seeds.yaml)
    seeds_sweep: str = "seeds"


@dataclass
class FiguresConfig:
    paths: PathsConfig = field(default_factory=PathsConfig)
    dataset: DatasetConfig = MISSING
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    datasets: list[str] = field(default_factory=list)   # the panels (and table columns)
    source: Source = Source.local
    results_dir: str = MISSING
    zoo_dir: str = MISSING
    out_dir: str = MISSING
    wandb_path: str | None = None     # entity/project for source=wandb
    grid: Grid = Grid.sweep
    suspects: Selection = field(default_factory=Selection)
    figures: dict[str, FigureSpec] = field(default_factory=dict)
    tables: TablesConfig = field(default_factory=TablesConfig)
    # 95 % intervals in Figures 3-6 (bands), Tables 4 and 5-7 (docs/verdicts.md);
    # false: every table exactly as before them
    intervals: bool = True

    def __post_init__(self) -> None:
        if not self.datasets:
            raise ConfigError("datasets", [], "name at least one dataset, e.g. dataset=digits")
