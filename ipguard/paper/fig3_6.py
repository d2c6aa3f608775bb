"""Figures 3-6: a method's ARUC against its swept parameter (eps or k), one line per combo, a
panel per dataset; the numbers again as a table (``<name>-data``).

Each point is the mean ARUC over seeds with its 95 % interval shaded (``aruc_interval``: the
bootstrap over seeds and their points where several ran, else over the record's fingerprint
points; ``intervals=false``: the seeds' range, as in the paper). When a sweep also varied
other parameters of the method (k x lr), each (combo, value) shows the best setting over those,
and the panel and the table say so. A grid point without a record is named in a warning."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ipguard.core.methods import PARAM_MATH, math_name, paper_name
from ipguard.data import dataset_title
from ipguard.paper.base import (
    COMBOS,
    FigureOut,
    Output,
    Results,
    TableOut,
    varied,
)
from ipguard.paper.config import FigureSpec
from ipguard.paper.grid import SweepGrid, missing_points, missing_warning
from ipguard.paper.plots import SweepLine, SweepPanel, plot_aruc_sweep
from ipguard.paper.tables import Table, fmt, fmt_range
from ipguard.results.setting import canonical, format_value
from ipguard.results.store import Point, best_point, group_points
from ipguard.results.verdicts import ARUC_INTERVAL, NO_MATCHES, aruc_interval, interval_columns

BAND = "shaded: 95 % interval (bootstrap over seeds and fingerprint points)"


def sweep_figure(name: str, spec: FigureSpec, results: Results, grid: SweepGrid | None,
                 intervals: bool = True) -> Output:
    """Figure ``name`` (fig3 .. fig6) from the records of ``spec.sweep``; ``grid`` (the sweep
    file's) is checked for missing points too, not only the records' own grid;
    ``intervals`` shades 95 % intervals and prints them in the table."""
    out = Output()
    panels: list[tuple[str, SweepPanel, list[Point], list[str]]] = []
    param = None
    for ds in results.datasets:
        pool = [r for r in results.of(ds, [spec.sweep]) if r.method == spec.method]
        if not pool:
            out.warnings.append(
                f"{spec.title}: no {paper_name(spec.method)} results for {ds} in sweep "
                f"{spec.sweep}: run `python -m ipguard.bench -m sweep={spec.sweep} "
                f"dataset={ds}`")
            continue
        points = group_points(pool)
        param = param or points[0].param
        missing, seeds = missing_points(points, grid)
        if missing:
            out.warnings.append(missing_warning(spec.title, spec.method, param, ds, spec.sweep,
                                                missing, seeds > 1))
        others = varied(points)
        chosen = [best_over_others(points, combo) for combo in COMBOS]
        notes = [f"incomplete: {len(missing)} point{'s' * (len(missing) > 1)} missing"
                 if missing else "", f"best over {', '.join(others)}" if others else ""]
        panel = SweepPanel(dataset_title(ds), [_line(combo, mine, intervals) for combo, mine
                                               in zip(COMBOS, chosen, strict=True) if mine],
                           "; ".join(n for n in notes if n))
        panels.append((ds, panel, [p for mine in chosen for p in mine], others))
    if not panels or param is None:
        return out
    name_math, xlabel = math_name(spec.method), PARAM_MATH.get(param, param)
    title = f"{spec.title}: impact of {xlabel} on ARUC for {name_math}"
    drawn = [panel for _, panel, _, _ in panels]

    def draw(path: Path) -> list[Path]:
        return plot_aruc_sweep(drawn, name_math, xlabel, path, suptitle=title,
                               band=BAND if intervals else "")

    out.items.append(FigureOut(name, draw))
    out.items.append(TableOut(name, f"{name}-data", _table(spec, param, panels, intervals)))
    return out


def best_over_others(points: Sequence[Point], combo: str) -> list[Point]:
    """For one combo, the best setting (mean ARUC over seeds) at each value of the swept
    parameter, over every other parameter; sorted by value."""
    by_value: dict[str, list[Point]] = {}
    for p in points:
        if p.combo == combo:
            by_value.setdefault(repr(canonical(p.value)), []).append(p)
    best = [best_point(r for p in group for r in p.records) for group in by_value.values()]
    return sorted((p for p in best if p is not None), key=lambda p: p.value)


def _line(combo: str, points: Sequence[Point], intervals: bool) -> SweepLine:
    """A combo's line; the band is each point's 95 % interval (``intervals``; the point itself
    where it has none) or the seeds' range."""
    if intervals:
        bands = [aruc_interval(p.records)[0] or (p.aruc, p.aruc) for p in points]
    else:
        bands = [(min(r.aruc for r in p.records), max(r.aruc for r in p.records))
                 for p in points]
    return SweepLine(combo, [float(p.value) for p in points], [p.aruc for p in points],
                     [lo for lo, _ in bands], [hi for _, hi in bands])


def _table(spec: FigureSpec, param: str,
           panels: Sequence[tuple[str, SweepPanel, list[Point], list[str]]],
           intervals: bool) -> Table:
    rows, data = [], []
    method = paper_name(spec.method)
    missing = False
    for ds, panel, points, others in panels:
        for p in points:
            row = [panel.title, f"{method}{p.combo}", format_value(float(p.value)), fmt(p.aruc)]
            item = {"dataset": ds, "method": spec.method, "combo": p.combo,
                    "param": param, "value": float(p.value), "aruc": p.aruc,
                    "aruc_min": min(r.aruc for r in p.records),
                    "aruc_max": max(r.aruc for r in p.records),
                    **{n: p.params.get(n) for n in others}}
            if intervals:
                found, over = aruc_interval(p.records)
                missing |= found is None
                row.append(fmt_range(found) if found else "–")
                item |= interval_columns(found, over)
            rows.append(row)
            data.append(item)
    others = sorted({n for *_, mine in panels for n in mine})
    notes = [f"Each point is the best setting over {', '.join(others)} at that {param} and "
             "combo (mean ARUC over seeds); the CSV gives the values chosen."] if others else []
    if intervals:
        notes.append(f"95 % interval: {ARUC_INTERVAL}"
                     + (f"; –: {NO_MATCHES}." if missing else "."))
    return Table(f"{spec.title}: ARUC against {param} ({method})",
                 ["Dataset", "Method", param, "ARUC", *(["95 % interval"] * intervals)], rows,
                 data, notes)
