"""The registry of the paper's artifacts (``ipguard.paper.ARTIFACTS``): each entry builds its
tables and figures from ``Inputs``, in the order the entry point writes and lists them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ipguard.paper.base import Output, Results
from ipguard.paper.config import FigureSpec, Grid, TablesConfig
from ipguard.paper.fig2 import ru_figure
from ipguard.paper.fig3_6 import sweep_figure
from ipguard.paper.grid import SweepGrid
from ipguard.paper.population_table import population_table
from ipguard.paper.schemes_population import schemes_population_table
from ipguard.paper.schemes_table import schemes_table
from ipguard.paper.seeds_table import seeds_table
from ipguard.paper.stealing_table import stealing_table
from ipguard.paper.table4 import best_aruc_table
from ipguard.paper.table8 import seconds_table
from ipguard.paper.tables1_2 import zoo_tables
from ipguard.paper.tables5_7 import matching_rates_table
from ipguard.paper.verdicts_table import verdicts_table
from ipguard.zoo import Zoo
from ipguard.zoo.suspects import Selection


@dataclass
class Inputs:
    """What the artifacts draw from: the records, the zoos (for Tables 1-2; ``zoo_errors``
    says why a dataset has none), the sweep files' grids and the options of
    ``conf/figures.yaml`` they use. The entry point (``ipguard.app.figures``) fills it."""

    results: Results
    figures: dict[str, FigureSpec] = field(default_factory=dict)
    tables: TablesConfig = field(default_factory=TablesConfig)
    grid: Grid = Grid.sweep
    selection: Selection = field(default_factory=Selection)
    zoos: Mapping[str, Zoo] = field(default_factory=dict)
    zoo_errors: Mapping[str, str] = field(default_factory=dict)
    intervals: bool = True
    sweep_grids: Mapping[str, SweepGrid] = field(default_factory=dict)   # by sweep name



@dataclass(frozen=True)
class Artifact:
    """One entry of the registry: a name (for logs and readers) and how it is built."""

    name: str
    build: Callable[[Inputs], Output]


def _figures_3_6(i: Inputs) -> Output:
    out = Output()
    for name, spec in i.figures.items():
        grid = i.sweep_grids.get(spec.sweep) if i.grid == Grid.sweep else None
        out.add(sweep_figure(name, spec, i.results, grid, i.intervals))
    return out


def per_dataset(build: Callable[[Inputs, str], Output]) -> Callable[[Inputs], Output]:
    """An artifact built once per dataset of the results, in their order."""
    def each(i: Inputs) -> Output:
        out = Output()
        for ds in i.results.datasets:
            out.add(build(i, ds))
        return out
    return each


ARTIFACTS: tuple[Artifact, ...] = (
    Artifact("figures3-6", _figures_3_6),
    Artifact("figure2", per_dataset(
        lambda i, ds: ru_figure(ds, i.results.of(ds, i.tables.best_from)))),
    Artifact("table4", lambda i: best_aruc_table(i.results, i.tables.best_from, i.intervals)),
    Artifact("tables5-7", per_dataset(
        lambda i, ds: matching_rates_table(ds, i.results, i.tables.best_from,
                                           i.tables.matching_rates_sweep, i.intervals))),
    Artifact("table8", lambda i: seconds_table(i.results, i.tables.best_from,
                                               i.tables.seconds_sweep)),
    Artifact("tables1-2", lambda i: zoo_tables(i.zoos, i.zoo_errors, i.selection)),
    Artifact("verdicts", per_dataset(
        lambda i, ds: verdicts_table(ds, i.results.of(ds, i.tables.best_from)))),
    Artifact("seeds", per_dataset(
        lambda i, ds: seeds_table(ds, i.results.of(ds, [i.tables.seeds_sweep]), i.intervals))),
    Artifact("stealing", per_dataset(
        lambda i, ds: stealing_table(ds, i.results.of(ds, [*i.tables.stealing_from,
                                                           *i.tables.best_from])))),
    Artifact("population", per_dataset(
        lambda i, ds: population_table(ds, i.results.of(ds, [i.tables.population_sweep])))),
    Artifact("schemes", per_dataset(
        lambda i, ds: schemes_table(ds, i.results.of(ds, [i.tables.schemes_sweep])))),
    Artifact("schemes-population", per_dataset(
        lambda i, ds: schemes_population_table(
            ds, i.results.of(ds, [i.tables.schemes_population_sweep])))),
)


def sweeps_needed(figures: Mapping[str, FigureSpec], tables: TablesConfig) -> list[str]:
    """Every sweep some artifact reads."""
    return sorted({s.sweep for s in figures.values()} | set(tables.best_from)
                  | {tables.matching_rates_sweep, tables.seconds_sweep}
                  | set(tables.stealing_from) | {tables.seeds_sweep, tables.population_sweep,
                                                     tables.schemes_sweep,
                                                     tables.schemes_population_sweep})


__all__ = ["ARTIFACTS", "Artifact", "Inputs", "sweeps_needed"]
