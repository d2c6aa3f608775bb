"""Tables 5-7: the matching rates of each method at its best setting, a row per positive and a
[min, max] row per family of negatives (one table per dataset)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ipguard.data import dataset_title
from ipguard.methods import paper_name
from ipguard.paper.base import (
    Output,
    Results,
    TableOut,
    best_by_method,
    method_varied,
    point_of,
    setting_text,
)
from ipguard.record import Record, SuspectResult
from ipguard.suspects import family_rank, family_row, suspect_label
from ipguard.tables import Table, fmt, fmt_range, merge_rows

log = logging.getLogger(__name__)


def matching_rates_table(dataset: str, results: Results, best_from: Sequence[str],
                         sweep: str) -> Output:
    """``table5-7-<dataset>``: each method's record in ``sweep`` (the rerun at its best
    setting, lowest seed) where it ran, else the best record of the ``best_from`` sweeps."""
    pool = results.of(dataset, best_from)
    rerun = results.of(dataset, [sweep])
    chosen: dict[str, Record] = {}
    for method, point in best_by_method(pool).items():
        mine = [r for r in rerun if r.method == method]
        chosen[method] = min(mine, key=lambda r: r.setting.seed) if mine else point.first
    if not chosen:
        return Output()
    if not rerun:
        log.info("Tables 5-7 on %s: no %s sweep, using the best records of the parameter "
                 "sweeps", dataset, sweep)
    out = Output()
    keys: list[tuple[str, str]] = []
    cells: dict[tuple[str, ...], dict[str, str]] = {}
    data = []
    for method, record in chosen.items():
        if not record.suspects:
            out.warnings.append(f"Tables 5-7 on {dataset}: the {paper_name(method)} record "
                                "has no per-suspect matching rates")
            continue
        column = paper_name(method)
        for s in record.suspects:
            if s.role != "positive":
                continue
            key = ("Positive", suspect_label(s.kind, s.hyper)
                   + ("" if s.in_default_selection else " *"))
            if key not in keys:
                keys.append(key)
            cells.setdefault(key, {})[column] = fmt(s.matching_rate)
            data.append(_rate_row(dataset, record, "positive", key[1], [s]))
        for family, members in _families(record.suspects):
            key = ("Negative", family)
            if key not in keys:
                keys.append(key)
            cells.setdefault(key, {})[column] = fmt_range([m.matching_rate for m in members])
            data.append(_rate_row(dataset, record, "negative", family, members))
    columns = [paper_name(m) for m in chosen]
    settings = "; ".join(setting_text(point_of(r), others=method_varied(pool, m))
                         for m, r in chosen.items())
    notes = [f"Each method at its best setting: {settings}."]
    if any(k[1].endswith("*") for k in keys):
        notes.append("Rows marked * are pruned beyond the headline selection (not in ARUC).")
    table = Table(f"Tables 5-7: matching rates of the compared methods for positive and "
                  f"negative suspect classifiers on {dataset_title(dataset)}",
                  ["Suspect", "Classifier", *columns], merge_rows(keys, cells, columns), data,
                  notes=notes)
    name = f"table5-7-{dataset}"
    out.items.append(TableOut(name, name, table))
    return out


def _families(suspects: Sequence[SuspectResult]) -> list[tuple[str, list[SuspectResult]]]:
    """Negatives by family, labelled as the paper's rows, in the paper's order."""
    by_kind: dict[str, list[SuspectResult]] = {}
    for s in suspects:
        if s.role == "negative":
            by_kind.setdefault(s.kind, []).append(s)
    rows = [(family_row(kind, members[0].arch, len(members)), members)
            for kind, members in by_kind.items()]
    return sorted(rows, key=lambda item: (family_rank(item[1][0].kind), item[0]))


def _rate_row(dataset: str, record: Record, role: str, row: str,
              members: Sequence[SuspectResult]) -> Mapping[str, Any]:
    rates = [m.matching_rate for m in members]
    return {"dataset": dataset, "method": record.method, "combo": record.combo,
            "param": record.setting.swept, "value": record.setting.value, "key": record.key,
            "role": role, "row": row, "members": ",".join(m.name for m in members),
            "min": min(rates), "max": max(rates), "count": len(rates)}
