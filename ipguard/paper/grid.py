"""Which points a sweep asks for (``sweeps/<name>.yaml``) and which of them have no record, so
that a figure names every missing point instead of silently drawing without it."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ipguard.app.config import SWEEPS_DIR
from ipguard.core.methods import paper_name
from ipguard.core.seeding import INITS, LABELS, combo_suffix
from ipguard.paper.base import combo_rank
from ipguard.results.record import format_value
from ipguard.results.store import Point


def expected_grid(sweep: str, param: str | None) -> tuple[list[Any], list[str], list[int]]:
    """The values of ``param``, the combos and the seeds the sweep file asks for (empty lists
    for what it does not sweep, or when there is no such file)."""
    file = SWEEPS_DIR / f"{sweep}.yaml"
    if not file.is_file():
        return [], [], []
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = OmegaConf.select(OmegaConf.load(file), "hydra.sweeper.params") or DictConfig({})
    parser = OverridesParser.create()

    def values(key: str) -> list[Any]:
        if key not in params:
            return []
        override = parser.parse_override(f"{key}={params[key]}")
        if override.is_sweep_override():
            return list(override.sweep_iterator())
        return [override.value()]

    combos = [combo_suffix(i, j) for i in values("init") for j in values("label")
              if i in INITS and j in LABELS]
    return (values(f"method.{param}") if param else []), combos, values("seed")


def missing_points(points: Sequence[Point], sweep: str | None
                   ) -> tuple[list[tuple[str, str, int]], int]:
    """(combo, value, seed) of the grid with no record, in the paper's order, and the number of
    seeds in the grid. The grid is every value, combo and seed seen in ``points``, joined with
    the sweep file's (unless ``sweep`` is None)."""
    param = points[0].param
    seen = {(p.combo, format_value(p.value), r.setting.seed) for p in points for r in p.records}
    values = {format_value(p.value) for p in points}
    combos = {p.combo for p in points}
    seeds = {s for _, _, s in seen}
    if sweep is not None:
        file_values, file_combos, file_seeds = expected_grid(sweep, param)
        values |= {format_value(v) for v in file_values}
        combos |= set(file_combos)
        seeds |= {int(s) for s in file_seeds}
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
