"""Tables 5-7: the matching rates of each method at its best setting, a row per positive (with
its 95 % point-bootstrap interval, ``intervals``) and a [min, max] row per family of negatives
(one table per dataset); and where each ARUC goes (the means, with their intervals)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ipguard.core.methods import paper_name
from ipguard.data import dataset_title
from ipguard.paper.base import (
    Output,
    Results,
    TableOut,
    best_by_method,
    method_varied,
    point_of,
    setting_text,
)
from ipguard.paper.tables import Table, fmt, fmt_range, merge_rows
from ipguard.results.area import PAPER_CIFAR10, decompose
from ipguard.results.record import Record, SuspectResult
from ipguard.results.verdicts import NO_MATCHES, interval_columns, interval_of
from ipguard.zoo.suspects import LABELS, family_rank, family_row, in_paper, suspect_label

log = logging.getLogger(__name__)


def matching_rates_table(dataset: str, results: Results, best_from: Sequence[str],
                         sweep: str, intervals: bool = True) -> Output:
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
    missing = False
    for method, record in chosen.items():
        if not record.suspects:
            out.warnings.append(f"Tables 5-7 on {dataset}: the {paper_name(method)} record "
                                "has no per-suspect matching rates")
            continue
        column = paper_name(method)
        for s in record.suspects:
            if s.role != "positive" or not in_paper(s.kind):   # stealing: its own table
                continue
            key = ("Positive", suspect_label(s.kind, s.hyper)
                   + ("" if s.in_default_selection else " *"))
            if key not in keys:
                keys.append(key)
            row = _rate_row(dataset, record, "positive", key[1], [s])
            cells.setdefault(key, {})[column] = fmt(s.matching_rate)
            if intervals:
                found, over = interval_of(record, f"rate/{s.name}")
                missing |= found is None
                cells[key][column] += f" {fmt_range(found)}" if found else ""
                row = {**row, **interval_columns(found, over, "rate")}
            data.append(row)
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
    if intervals:
        notes.append(_interval_note("a positive's matching rate", missing))
    table = Table(f"Tables 5-7: matching rates of the compared methods for positive and "
                  f"negative suspect classifiers on {dataset_title(dataset)}",
                  ["Suspect", "Classifier", *columns], merge_rows(keys, cells, columns), data,
                  notes=notes)
    name = f"table5-7-{dataset}"
    out.items.append(TableOut(name, name, table))
    means = means_table(dataset, {m: r for m, r in chosen.items() if r.suspects}, intervals)
    out.items.append(TableOut(f"{name}-means", f"{name}-means", means))
    return out


def means_table(dataset: str, chosen: Mapping[str, Record], intervals: bool = True) -> Table:
    """``table5-7-<dataset>-means``: where each method's ARUC goes. The mean matching rate of
    the positives its headline counts, of each negative family and of all negatives, and
    their difference (the ARUC itself whenever the two sets separate), beside the paper's
    CIFAR-10 IPGuard values."""
    parts = {m: decompose(r.suspects) for m, r in chosen.items()}
    kinds = sorted({k for d in parts.values() for k in d.families},
                   key=lambda k: (family_rank(k), k))
    keys = [("Positives", "mean"), *(("Negatives", LABELS.get(k, k)) for k in kinds),
            ("Negatives", "mean"), ("Difference", "positives - negatives"), ("ARUC", "Eq. 7")]
    columns = [paper_name(m) for m in chosen]
    names = ["mean_positives", *(f"mean_{k}" for k in kinds), "mean_negatives", "difference",
             "aruc"]
    cells: dict[tuple[str, ...], dict[str, str]] = {}
    data = []
    missing = False
    for method, d in parts.items():
        values = [d.positives, *(d.families.get(k, float("nan")) for k in kinds), d.negatives,
                  d.difference, chosen[method].aruc]
        bounds: dict[str, Any] = {}
        for key, value, name in zip(keys, values, names, strict=True):
            found, over = interval_of(chosen[method], name) if intervals else (None, "")
            missing |= intervals and found is None
            bounds |= interval_columns(found, over, name) if intervals else {}
            shown = f" {fmt_range(found)}" if found else ""
            cells.setdefault(key, {})[paper_name(method)] = fmt(value) + shown
        data.append({"dataset": dataset, "method": method, "key": chosen[method].key,
                     "positives": d.positives, "negatives": d.negatives,
                     **{f"negatives_{k}": d.families.get(k) for k in kinds},
                     "difference": d.difference, "aruc": chosen[method].aruc,
                     "separated": d.separated, **bounds})
    paper = PAPER_CIFAR10
    notes = [f"With n = r, Eq. 7 equals the difference whenever every positive "
             f"matches more than every negative. The paper's CIFAR-10 IPGuard row "
             f"implies positives {paper['positives']:.2f} and negatives "
             f"{paper['negatives']:.2f}."]
    if intervals:
        notes.append(_interval_note("each number", missing, hierarchical=True))
    return Table(f"Tables 5-7, means: where the ARUC goes on {dataset_title(dataset)}",
                 ["", "", *columns], merge_rows(keys, cells, columns), data, notes=notes)


def _interval_note(what: str, missing: bool, hierarchical: bool = False) -> str:
    over = ("the hierarchical bootstrap: the suspects within each family, then the record's "
            "fingerprint points (docs/verdicts.md)" if hierarchical else
            "the bootstrap over the record's fingerprint points (the same resampled points "
            "for every suspect)")
    return (f"[lo, hi] after {what}: its 95 % interval, {over}"
            + (f"; none shown: {NO_MATCHES}." if missing else "."))


def _families(suspects: Sequence[SuspectResult]) -> list[tuple[str, list[SuspectResult]]]:
    """Negatives by family, labelled as the paper's rows, in the paper's order."""
    by_kind: dict[str, list[SuspectResult]] = {}
    for s in suspects:
        if s.headline_negative:   # harder negatives: the stealing table
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
