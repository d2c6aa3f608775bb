"""Table 4: the best ARUC of each method on each dataset, over its parameter grid and the four
combos (and any other parameter a sweep varied), its 95 % interval after it (``intervals``) and
the setting in parentheses."""

from __future__ import annotations

from collections.abc import Sequence

from ipguard.core.methods import method_order, paper_name
from ipguard.data import dataset_title
from ipguard.paper.base import (
    Output,
    Results,
    TableOut,
    best_by_method,
    method_varied,
    others_text,
)
from ipguard.paper.tables import Table, fmt, fmt_range
from ipguard.results.setting import format_value
from ipguard.results.verdicts import ARUC_INTERVAL, NO_MATCHES, aruc_interval, interval_columns


def best_aruc_table(results: Results, best_from: Sequence[str], intervals: bool = True) -> Output:
    """``table4``: a row per method, a column per dataset."""
    best = {ds: best_by_method(results.of(ds, best_from)) for ds in results.datasets}
    methods = sorted({m for ds in best for m in best[ds]}, key=method_order)
    if not methods:
        return Output()
    rows, data = [], []
    missing = False
    for method in methods:
        row = [paper_name(method)]
        for ds in results.datasets:
            point = best[ds].get(method)
            if point is None:
                row.append("–")
                continue
            setting = point.combo.lstrip("-")
            if point.param is not None:
                setting += f", {point.param}={format_value(point.value)}"
            setting += others_text(point, method_varied(results.of(ds, best_from), method))
            found, over = aruc_interval(point.records) if intervals else (None, "")
            missing |= intervals and found is None
            shown = f" {fmt_range(found)}" if found else ""
            row.append(f"{fmt(point.aruc)}{shown} ({setting})")
            data.append({"dataset": ds, "method": method, "aruc": point.aruc,
                         "auc": point.mean(lambda r: r.auc), "gap": point.mean(lambda r: r.gap),
                         "combo": point.combo, "param": point.param, "value": point.value,
                         "seeds": len(point.records), "key": point.first.key,
                         "sweep": point.first.sweep,
                         **(interval_columns(found, over) if intervals else {})})
        rows.append(row)
    notes = [f"Best over each method's parameter grid and the four combos "
             f"(sweeps {', '.join(best_from)}); ARUC is the mean over seeds where "
             "a setting has several."]
    if intervals:
        notes.append(f"[lo, hi]: its 95 % interval, {ARUC_INTERVAL}"
                     + (f"; none shown: {NO_MATCHES}." if missing else "."))
    table = Table("Table 4: ARUCs of the compared methods (best setting in parentheses)",
                  ["Method", *(dataset_title(ds) for ds in results.datasets)], rows, data,
                  notes=notes)
    return Output([TableOut("table4", "table4", table)])
