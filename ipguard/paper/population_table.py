"""``population-<dataset>`` (docs/verdicts.md#population): on a population, each method at the
combo chosen on the validation population, reported on the test population. Rows: per method,
its test ARUC with the hierarchical interval (targets, suspects within family, points) and the
level that dominates it; per attack family, the ROC-AUC against the test negatives and the TPR
at FPR 1 % and 5 % with Clopper-Pearson intervals; per negative family, the held-out FPR at the
same τ (made from the validation negatives) with its interval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ipguard.core.methods import method_order, paper_name
from ipguard.core.thresholds import Rate
from ipguard.data import dataset_title
from ipguard.paper.base import Output, TableOut
from ipguard.paper.tables import Table, fmt
from ipguard.results.population import PopulationReport, chosen, report
from ipguard.results.record import Record
from ipguard.zoo.suspects import LABELS

HEADER = ["Method (combo chosen on validation)", "Family", "Suspects", "ROC-AUC",
          "TPR / FPR at 1 % [95 % CI]", "TPR / FPR at 5 % [95 % CI]"]


def rate_text(rate: Rate | None) -> str:
    """``0.80 [0.56, 0.94] (12/15)``: a rate, its interval and its counts."""
    if rate is None or not rate.n:
        return "–"
    return f"{fmt(rate.value)} [{fmt(rate.lo)}, {fmt(rate.hi)}] ({rate.k}/{rate.n})"


def population_table(dataset: str, pool: Sequence[Record], reps: int = 1000) -> Output:
    """The table for one dataset from the records of its population sweep (``pool``)."""
    picked = chosen(pool)
    if not picked:
        return Output()
    rows: list[list[str]] = []
    data: list[dict[str, object]] = []
    reports = [report(picked[m], reps=reps) for m in sorted(picked, key=method_order)]
    for rep in reports:
        label = f"{paper_name(rep.method)}{rep.combo}"
        rows.append([label, "ARUC (headline positives, test negatives)", "",
                     "", _aruc_text(rep), f"validation ARUC {fmt(rep.validation_aruc)}"])
        data.append({"method": rep.method, "combo": rep.combo, "family": "aruc",
                     "validation_aruc": rep.validation_aruc, "test_aruc": rep.test_aruc,
                     **_interval_columns(rep)})
        for kind, auc in rep.auc.items():
            rows.append(["", LABELS.get(kind, kind), str(rep.positives[kind]), fmt(auc),
                         *(rate_text(rep.tpr[a].get(kind)) for a in sorted(rep.tpr))])
            data.append({"method": rep.method, "combo": rep.combo, "family": kind,
                         "role": "positive", "suspects": rep.positives[kind], "auc": auc,
                         **_rate_columns(rep.tpr, kind, "tpr")})
        for kind in rep.fpr[min(rep.fpr)]:
            rows.append(["", f"{LABELS.get(kind, kind)} (negatives, held out)",
                         str(rep.fpr[min(rep.fpr)][kind].n), "",
                         *(rate_text(rep.fpr[a].get(kind)) for a in sorted(rep.fpr))])
            data.append({"method": rep.method, "combo": rep.combo, "family": kind,
                         "role": "negative", **_rate_columns(rep.fpr, kind, "fpr")})
    notes = _notes(reports)
    table = Table(f"Population verdicts on {dataset_title(dataset)}: settings and thresholds "
                  "chosen on the validation population, reported on the test population",
                  HEADER, rows, data, notes)
    name = f"population-{dataset}"
    return Output([TableOut(name, name, table)])


def _aruc_text(rep: PopulationReport) -> str:
    interval = rep.interval.get("aruc") if rep.interval is not None else None
    if interval is None:
        return f"test ARUC {fmt(rep.test_aruc)}"
    dominant = rep.interval.dominant("aruc") if rep.interval is not None else None
    return (f"test ARUC {fmt(rep.test_aruc)} [{fmt(interval[0])}, {fmt(interval[1])}]"
            f" ({dominant} dominate)")


def _interval_columns(rep: PopulationReport) -> dict[str, object]:
    interval = rep.interval.get("aruc") if rep.interval is not None else None
    return {"aruc_lo": interval[0] if interval else None,
            "aruc_hi": interval[1] if interval else None,
            "interval": rep.interval.over if rep.interval is not None else None,
            "dominant": rep.interval.dominant("aruc") if rep.interval is not None else None}


def rate_columns(rates: Mapping[float, Rate | None], name: str) -> dict[str, object]:
    """A table's CSV columns of one rate per FPR: ``<name><fpr %>`` and its interval and
    counts (``tpr1``, ``tpr1_lo``, ``tpr1_hi``, ``tpr1_k``, ``tpr1_n``); None where absent."""
    out: dict[str, object] = {}
    for alpha, rate in sorted(rates.items()):
        tag = f"{name}{alpha * 100:g}"
        out |= {tag: rate.value if rate else None, f"{tag}_lo": rate.lo if rate else None,
                f"{tag}_hi": rate.hi if rate else None, f"{tag}_k": rate.k if rate else None,
                f"{tag}_n": rate.n if rate else None}
    return out


def _rate_columns(rates: dict[float, dict[str, Rate]], kind: str, name: str
                  ) -> dict[str, object]:
    return rate_columns({alpha: by_kind.get(kind) for alpha, by_kind in rates.items()}, name)


def _notes(reports: Sequence[PopulationReport]) -> list[str]:
    methods = sorted({m for rep in reports for ms in rep.tau_methods.values() for m in ms})
    targets = max((rep.test_targets for rep in reports), default=0)
    return [f"Each method's combo is the best validation ARUC (validation targets against the "
            f"validation negatives); every number is on the {targets} test target(s) and the "
            "test negatives. τ at each FPR is made per test target from its fingerprint's "
            "matches of the validation negatives: " + "; ".join(methods) + ".",
            "Rates are pooled over the test targets (a negative counts once per target), with "
            "Clopper-Pearson 95 % intervals; the ARUC interval is the hierarchical bootstrap "
            "(targets, then suspects within family, then points), and the level whose "
            "resampling alone varies it most is named as dominating."]
