"""What every paper artifact shares: the records it reads (by dataset and sweep), what it
returns (tables and figures to write, warnings), and how a method's setting is printed.

An artifact never writes a file itself: it returns ``TableOut`` items (saved by the entry point
as Markdown, LaTeX and CSV) and ``FigureOut`` items (a drawing function from ``ipguard.paper.plots``
that the entry point calls with the file's path)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ipguard.core.methods import PARAM_MATH, math_name, method_order, paper_name
from ipguard.core.seeding import INITS, LABELS, combo_suffix
from ipguard.paper.tables import Table
from ipguard.results.record import Record
from ipguard.results.setting import canonical, format_value
from ipguard.results.store import Point, best_point, group_points

# The four combos in the paper's order (Table 3): -TR, -TL, -RR, -RL.
COMBOS = tuple(combo_suffix(init, label) for init in INITS for label in LABELS)


@dataclass
class Results:
    """The records of each dataset, by sweep (the folder or W&B group they came from)."""

    datasets: list[str]
    by_sweep: dict[str, dict[str, list[Record]]]

    @classmethod
    def of_records(cls, records: Mapping[str, Iterable[Record]]) -> Results:
        """From each dataset's records (any order), grouped by their sweep."""
        grouped: dict[str, dict[str, list[Record]]] = {}
        for dataset, mine in records.items():
            grouped[dataset] = {}
            for record in mine:
                grouped[dataset].setdefault(record.sweep, []).append(record)
        return cls(list(records), grouped)

    def of(self, dataset: str, sweeps: Iterable[str]) -> list[Record]:
        """The records of ``sweeps`` (in that order) for one dataset."""
        mine = self.by_sweep.get(dataset, {})
        return [r for sweep in sweeps for r in mine.get(sweep, [])]


@dataclass
class TableOut:
    """A table to save as ``<stem>.md/.tex/.csv``, known as ``name`` in the report and W&B."""

    name: str
    stem: str
    table: Table


@dataclass
class FigureOut:
    """A figure drawn by ``draw(<out_dir>/<stem>.png)``, which returns the files it wrote."""

    stem: str
    draw: Callable[[Path], list[Path]]


@dataclass
class Output:
    """What an artifact produced, in the order its files are listed, and its warnings."""

    items: list[TableOut | FigureOut] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, other: Output) -> Output:
        self.items += other.items
        self.warnings += other.warnings
        return self


def best_by_method(records: Iterable[Record]) -> dict[str, Point]:
    """Each method's best setting (``store.best_point``: over every parameter and combo), in
    the paper's order of methods."""
    pool = list(records)
    methods = sorted({r.method for r in pool}, key=method_order)
    best = {m: best_point(pool, method=m) for m in methods}
    return {m: p for m, p in best.items() if p is not None}


def varied(points: Sequence[Point]) -> list[str]:
    """The parameters, besides the swept one, that take more than one value among ``points``
    (a sweep over k x lr varies lr); empty for the paper's one-parameter sweeps."""
    swept = points[0].param if points else None
    names = sorted({name for p in points for name in p.params} - {swept})
    return [n for n in names
            if len({repr(canonical(p.params.get(n))) for p in points}) > 1]


def method_varied(records: Iterable[Record], method: str) -> list[str]:
    return varied(group_points(r for r in records if r.method == method))


def param_text(param: str, mathtext: bool) -> str:
    """A parameter in a label: mathtext for names a one-letter symbol stands for (eps)."""
    return PARAM_MATH.get(param, param) if mathtext and len(param) > 1 else param


def others_text(point: Point, others: Sequence[str]) -> str:
    """``, lr=0.01``: the values of the varied parameters ``others`` at ``point``."""
    return "".join(f", {n}={format_value(point.params.get(n))}" for n in others)


def setting_text(point: Point, mathtext: bool = False, others: Sequence[str] = ()) -> str:
    """'IPGuard-TL, k=3' (the method's paper name, its combo, its swept parameter and the
    varied ``others``); ``mathtext`` for a figure (CW-$L_2$, $\\epsilon$)."""
    text = f"{math_name(point.method) if mathtext else paper_name(point.method)}{point.combo}"
    if point.param is not None:
        text += f", {param_text(point.param, mathtext)}={format_value(point.value)}"
    return text + others_text(point, others)


def point_of(record: Record) -> Point:
    """A single record as a point (its own setting)."""
    s = record.setting
    return Point(s.method, s.combo, dict(s.params), [record])


def combo_rank(combo: str) -> tuple[int, str]:
    return (COMBOS.index(combo) if combo in COMBOS else len(COMBOS), combo)
