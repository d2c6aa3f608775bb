"""``stealing-<dataset>`` (docs/stealing.md): beyond the paper's suspects, how each
method's fingerprint fares on stolen copies of the target and on harder negatives.

The table: a row per stealing suspect and harder negative (its agreement with the target on
test images and its test accuracy beside each method's matching rate), then, per method and
combo, the headline ARUC (the paper's suspects) and the ARUC with the stealing positives, the
harder negatives, or both added; and at the thresholds calibrated on all the negatives (the
harder ones included) to FPR 1 % and 5 %, the share of stealing suspects caught, and the share
of harder negatives accused by the threshold fitted without their family (held out).
The figure: matching rate against agreement, extraction over query budgets through the
label and the probability API, a panel per method and combo."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ipguard.core.methods import method_order
from ipguard.core.metrics import aruc
from ipguard.data import dataset_title
from ipguard.paper.base import FigureOut, Output, TableOut, combo_rank, point_of, setting_text
from ipguard.paper.plots import StealingPanel, StealingSeries, plot_stealing
from ipguard.paper.tables import Table, fmt, merge_rows
from ipguard.results.record import Record, SuspectResult
from ipguard.results.store import best_point
from ipguard.results.verdicts import verdicts_of
from ipguard.zoo.suspects import BEYOND_PAPER, HARDER, LABELS, STEALING, in_paper, suspect_label

EXTRACTION = ("extract_label", "extract_prob")


def beyond(record: Record) -> list[SuspectResult]:
    """The record's suspects beyond the paper (stealing positives, harder negatives)."""
    return [s for s in record.suspects if not in_paper(s.kind)]


def chosen_records(pool: Sequence[Record]) -> dict[tuple[str, str], Record]:
    """Per method and combo, the record (lowest seed) of its best setting among the records
    measured on a zoo with stealing suspects or harder negatives."""
    with_beyond = [r for r in pool if beyond(r)]
    chosen: dict[tuple[str, str], Record] = {}
    for method in sorted({r.method for r in with_beyond}, key=method_order):
        for combo in sorted({r.combo for r in with_beyond if r.method == method},
                            key=combo_rank):
            point = best_point([r for r in with_beyond if r.combo == combo], method=method)
            if point is not None:
                chosen[(method, combo)] = min(point.records, key=lambda r: r.setting.seed)
    return chosen


def scores(record: Record) -> dict[str, Any]:
    """The ARUCs with the stealing positives and/or harder negatives added to the headline's
    suspects, and the shares caught / accused at the calibrated thresholds."""
    r = record.setting.r
    head = record.rates("positive", headline_only=True)
    neg = record.rates("negative", headline_only=True)
    steal = [s.matching_rate for s in record.suspects if s.kind in STEALING]
    harder = [s.matching_rate for s in record.suspects if s.kind in HARDER]
    out: dict[str, Any] = {
        "aruc": record.aruc,
        "aruc_with_stealing": aruc(head + steal, neg, r) if head and neg else None,
        "aruc_with_harder": aruc(head, neg + harder, r) if head and neg else None,
        "aruc_with_both": aruc(head + steal, neg + harder, r) if head and neg else None,
        "stealing": len(steal), "harder": len(harder)}
    verdicts = verdicts_of(record)
    sizes = {k: sum(s.kind == k for s in record.suspects) for k in HARDER}
    for c in verdicts.calibrations if verdicts is not None else ():
        name = f"{c.fpr * 100:g}"
        out[f"tau_fpr{name}"] = c.tau
        out[f"stealing_caught_fpr{name}"] = _share(steal, c.tau)
        out[f"harder_accused_fpr{name}"] = _held_out(c.by_family, sizes)
    return out


def _held_out(by_family: dict[str, float], sizes: dict[str, int]) -> float | None:
    """The share of harder negatives at or above the threshold fitted without their family
    (the leave-one-family-out FPR, pooled over the harder families)."""
    known = {k: n for k, n in sizes.items() if n and by_family.get(k) is not None}
    total = sum(known.values())
    return sum(by_family[k] * n for k, n in known.items()) / total if total else None


def _share(rates: Sequence[float], tau: float) -> float | None:
    return sum(x >= tau - 1e-12 for x in rates) / len(rates) if rates else None


def stealing_table(dataset: str, pool: Sequence[Record]) -> Output:
    """The table and the figure for one dataset from ``pool`` (the records of the stealing
    sweep and the parameter sweeps)."""
    chosen = chosen_records(pool)
    if not chosen:
        return Output()
    columns = {key: setting_text(point_of(rec)) for key, rec in chosen.items()}
    keys: list[tuple[str, str]] = []
    cells: dict[tuple[str, ...], dict[str, str]] = {}
    data: list[dict[str, Any]] = []
    for key, record in chosen.items():
        for s in sorted(beyond(record), key=_order):
            group = "Stealing (positive)" if s.kind in STEALING else "Harder (negative)"
            row = (group, suspect_label(s.kind, s.hyper))
            if row not in keys:
                keys.append(row)
            agree = s.agreement
            cells.setdefault(row, {}).update({"Agreement": fmt(agree),
                                              "Test acc.": fmt(s.test_accuracy),
                                              columns[key]: fmt(s.matching_rate)})
            data.append({"dataset": dataset, "method": record.method, "combo": record.combo,
                         "key": record.key, "name": s.name, "role": s.role, "kind": s.kind,
                         "agreement": agree, "test_accuracy": s.test_accuracy,
                         "matching_rate": s.matching_rate,
                         "queries": s.queries, "api": s.api})
    summary = [("aruc", "ARUC", "paper's suspects (headline)"),
               ("aruc_with_stealing", "ARUC", "+ stealing positives"),
               ("aruc_with_harder", "ARUC", "+ harder negatives"),
               ("aruc_with_both", "ARUC", "+ both")]
    summary += [(f"{what}_fpr{f}", label, f"at τ for FPR {f} %") for f in ("1", "5")
                for what, label in (("stealing_caught", "Stealing caught"),
                                    ("harder_accused", "Harder accused"))]
    for key, record in chosen.items():
        numbers = scores(record)
        for name, group, label in summary:
            cells.setdefault((group, label), {})[columns[key]] = fmt(numbers.get(name))
        data.append({"dataset": dataset, "method": record.method, "combo": record.combo,
                     "key": record.key, "name": "(scores)", **numbers})
    keys += [(group, label) for _, group, label in summary]
    header = ["Agreement", "Test acc.", *columns.values()]
    table = Table(f"Stealing suspects and harder negatives on {dataset_title(dataset)}",
                  ["Suspect", "Classifier", *header], merge_rows(keys, cells, header), data,
                  notes=[
                      "Beyond the paper (docs/stealing.md); none of these suspects is in the "
                      "headline ARUC. Agreement: the fraction of test images on which the "
                      "suspect gives the target's label. Each method and combo at its best "
                      "setting among records measured with these suspects (lowest seed).",
                      "τ: the threshold calibrated on all the negatives, the harder ones "
                      "included, at that FPR (docs/verdicts.md). Caught: the share of stealing "
                      "suspects whose matching rate reaches it. Accused: the share of harder "
                      "negatives reaching the τ fitted without their family (held out)."])
    name = f"stealing-{dataset}"
    out = Output([TableOut(name, name, table)])
    out.add(stealing_figure(dataset, chosen, columns))
    return out


def stealing_figure(dataset: str, chosen: dict[tuple[str, str], Record],
                    columns: dict[tuple[str, str], str]) -> Output:
    """``stealing-<dataset>`` figure: matching rate against agreement, a panel each."""
    panels = []
    for key, record in chosen.items():
        series = []
        for kind in (*EXTRACTION, "distill", "adv_ft", *HARDER):
            mine = [s for s in beyond(record) if s.kind == kind
                    and s.agreement is not None]
            if not mine:
                continue
            mine.sort(key=_order)
            notes = [str(s.queries) if kind in EXTRACTION and s.queries is not None else ""
                     for s in mine]
            series.append(StealingSeries(
                "Harder negatives" if kind in HARDER else LABELS[kind],
                [float(s.agreement or 0.0) for s in mine], [s.matching_rate for s in mine],
                notes, line=kind in EXTRACTION, negative=kind in HARDER))
        if series:
            panels.append(StealingPanel(columns[key], _merge(series)))
    if not panels:
        return Output()

    def draw(path: Path) -> list[Path]:
        return plot_stealing(panels, path, suptitle=f"{dataset_title(dataset)}: matching rate "
                             "against agreement with the target")

    return Output([FigureOut(f"stealing-{dataset}", draw)])


def _merge(series: list[StealingSeries]) -> list[StealingSeries]:
    """One series for both harder-negative kinds (one legend entry)."""
    harder = [s for s in series if s.negative]
    if len(harder) < 2:
        return series
    merged = StealingSeries(harder[0].label, [x for s in harder for x in s.x],
                            [y for s in harder for y in s.y], negative=True)
    return [s for s in series if not s.negative] + [merged]


def _order(s: SuspectResult) -> tuple[int, float, str]:
    """Families in their order, extraction by budget (all queries last), then by name."""
    budget = float(s.queries or 0) if s.kind in EXTRACTION else 0.0
    return BEYOND_PAPER.index(s.kind), budget, s.name
