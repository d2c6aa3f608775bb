"""Which points of a sweep's grid have no record, so that a figure names every missing point
instead of silently drawing without it."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ipguard.core.methods import paper_name
from ipguard.paper.base import combo_rank
from ipguard.results.setting import format_value
from ipguard.results.store import Point


@dataclass(frozen=True)
class SweepGrid:
    """The points a sweep file asks for: the values of each parameter it sweeps, its combos
    (``-TL`` ...) and its seeds (empty where it does not sweep them). The application reads it
    from ``sweeps/<name>.yaml`` (``ipguard.app.sweeps.sweep_grid``)."""

    values: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    combos: Sequence[str] = ()
    seeds: Sequence[int] = ()


def missing_points(points: Sequence[Point], grid: SweepGrid | None
                   ) -> tuple[list[tuple[str, str, int]], int]:
    """(combo, value, seed) of the grid with no record, in the paper's order, and the number of
    seeds in the grid. The grid is every value, combo and seed seen in ``points``, joined with
    the sweep file's ``grid`` (unless it is None)."""
    param = points[0].param
    seen = {(p.combo, format_value(p.value), r.setting.seed) for p in points for r in p.records}
    values = {format_value(p.value) for p in points}
    combos = {p.combo for p in points}
    seeds = {s for _, _, s in seen}
    if grid is not None:
        values |= {format_value(v) for v in grid.values.get(param or "", ())}
        combos |= set(grid.combos)
        seeds |= {int(s) for s in grid.seeds}
    missing = sorted(set(itertools.product(combos, values, seeds)) - seen,
                     key=lambda t: (combo_rank(t[0])[0], _number(t[1]), t[2]))
    return missing, len(seeds)


def missing_warning(title: str, method: str, param: str | None, dataset: str, sweep: str,
                    missing: Sequence[tuple[str, str, int]], several_seeds: bool) -> str:
    """One warning naming every missing point, with the command that computes them."""
    parts = []
    for combo in sorted({c for c, _, _ in missing}, key=combo_rank):
        mine = [(v, s) for c, v, s in missing if c == combo]
        shown = ", ".join(v + (f" (seed {s})" if several_seeds else "") for v, s in mine)
        parts.append(f"{paper_name(method)}{combo} {param}={shown}")
    return (f"{title} on {dataset}: {len(missing)} sweep point(s) missing, drawn without "
            f"them: {'; '.join(parts)}. Rerun `python -m ipguard.bench -m sweep={sweep} "
            f"dataset={dataset}` (finished points are skipped)")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0
