"""Verdicts on a population (docs/verdicts.md#population): each method's setting (its combo) is
chosen by the ARUC on the validation population (its targets against the validation
negatives); at that setting, on every test target, τ at a target FPR comes from the validation
negatives' matches of that target's fingerprint, and the test population says what τ does:
the held-out FPR of each negative family and the TPR of each attack family, pooled over the
test targets, with Clopper-Pearson intervals; the ROC-AUC of each attack family against the
test negatives; and the test ARUC with its hierarchical interval (targets, then suspects
within family, then points). Nothing reported is fitted on what it is reported with."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ipguard.core.calibration import FPRS
from ipguard.core.hierarchy import Hierarchical, TargetHits, hierarchical_bootstrap
from ipguard.core.intervals import bits
from ipguard.core.roc import roc_auc
from ipguard.core.seeding import INITS, LABELS
from ipguard.core.thresholds import Rate, family_threshold, threshold
from ipguard.results.holdout import part_aruc
from ipguard.results.record import Record, SuspectResult
from ipguard.zoo.suspects import family_rank, zoo_order


def population_records(records: Sequence[Record]) -> list[Record]:
    """The records made on a population (each knows its target's part)."""
    return [r for r in records if r.provenance.population_part is not None]


def _negatives(record: Record, part: str) -> list[SuspectResult]:
    return [s for s in record.suspects if s.role == "negative" and s.part == part]


def _counts(suspects: Sequence[SuspectResult], n: int) -> np.ndarray:
    return np.rint(np.array([s.matching_rate for s in suspects]) * n).astype(int)


def validation_aruc(records: Sequence[Record]) -> float:
    """The mean over the validation targets of the ARUC of the headline positives against the
    validation negatives (NaN without a validation target)."""
    values = [part_aruc(r, "validation") for r in records
              if r.provenance.population_part == "validation"]
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def chosen(records: Sequence[Record]) -> dict[str, list[Record]]:
    """Per method, the records (one per target) of the combo with the best validation ARUC."""
    groups: dict[tuple[str, str], list[Record]] = {}
    for r in population_records(records):
        groups.setdefault((r.method, r.combo), []).append(r)
    best: dict[str, tuple[float, list[Record]]] = {}
    # the paper's order of combos (-TR, -TL, -RR, -RL): a tie keeps the first
    for (method, _), group in sorted(groups.items(), key=lambda i: (i[0][0], _combo(i[1][0]))):
        score = validation_aruc(group)
        if method not in best or score > best[method][0] or math.isnan(best[method][0]):
            best[method] = (score, group)
    return {method: group for method, (_, group) in best.items()}


def _combo(record: Record) -> tuple[int, int]:
    s = record.setting
    inits, labels = list(INITS), list(LABELS)
    return (inits.index(s.init) if s.init in inits else len(inits),
            labels.index(s.label) if s.label in labels else len(labels))


@dataclass
class PopulationReport:
    """One method at its chosen combo: the validation ARUC it was chosen by, the test ARUC
    and its hierarchical interval, per attack family the ROC-AUC and the TPR at each FPR, per
    negative family the held-out FPR at each FPR, and how each τ was made."""

    method: str
    combo: str
    validation_aruc: float
    test_aruc: float
    interval: Hierarchical | None
    test_targets: int
    auc: dict[str, float] = field(default_factory=dict)
    positives: dict[str, int] = field(default_factory=dict)
    tpr: dict[float, dict[str, Rate]] = field(default_factory=dict)
    fpr: dict[float, dict[str, Rate]] = field(default_factory=dict)
    tau_methods: dict[float, list[str]] = field(default_factory=dict)


def report(records: Sequence[Record], fprs: Sequence[float] = FPRS, reps: int = 1000,
           seed: int = 0, rule: str = "family") -> PopulationReport:
    """The numbers of one method and combo (``records``: one per target) on the test
    population, with τ from the validation negatives by ``rule`` (``family``, the default:
    the pooled order statistic raised to each family's own where it supports the FPR, so the
    same-architecture family is held to the FPR too; or a rule of ``threshold``)."""
    test = [r for r in records if r.provenance.population_part == "test"]
    if not test:
        raise ValueError("a population report needs a test target's record")
    first = test[0]
    out = PopulationReport(first.method, first.combo, validation_aruc(records), math.nan, None,
                           len(test))
    tpr_k: dict[tuple[float, str], list[int]] = {}
    fpr_k: dict[tuple[float, str], list[int]] = {}
    auc_parts: dict[str, list[tuple[float, int]]] = {}
    arucs, hits = [], []
    for r in test:
        n = r.setting.n
        val, neg = _negatives(r, "validation"), _negatives(r, "test")
        pos = [s for s in r.suspects if s.role == "positive"]
        neg_rates = [s.matching_rate for s in neg]
        arucs.append(part_aruc(r, "test"))
        for kind in dict.fromkeys(s.kind for s in pos):
            mine = [s.matching_rate for s in pos if s.kind == kind]
            auc_parts.setdefault(kind, []).append((roc_auc(mine, neg_rates), len(mine)))
        for alpha in fprs:
            t = family_threshold(_counts(val, n), [s.kind for s in val], n, alpha) \
                if rule == "family" else threshold(_counts(val, n), n, alpha, rule)
            out.tau_methods.setdefault(alpha, []).append(t.method)
            for group, into in ((pos, tpr_k), (neg, fpr_k)):
                for s, c in zip(group, _counts(group, n), strict=True):
                    k = into.setdefault((alpha, s.kind), [0, 0])
                    k[0] += int(c >= t.count)
                    k[1] += 1
        hits.append(_hits(r, [s for s in pos if s.in_default_selection],
                          [s for s in neg if s.headline_negative]))
    out.test_aruc = float(np.mean(arucs))
    out.auc = {k: float(np.average([a for a, _ in v], weights=[w for _, w in v]))
               for k, v in _ordered(auc_parts).items()}
    out.positives = {k: sum(w for _, w in v) for k, v in _ordered(auc_parts).items()}
    for (alpha, kind), (k, m) in sorted(tpr_k.items(), key=lambda i: _rank(i[0][1])):
        out.tpr.setdefault(alpha, {})[kind] = Rate.of(k, m)
    for (alpha, kind), (k, m) in sorted(fpr_k.items(), key=lambda i: _rank(i[0][1])):
        out.fpr.setdefault(alpha, {})[kind] = Rate.of(k, m)
    if all(h is not None for h in hits):
        out.interval = hierarchical_bootstrap([h for h in hits if h is not None],
                                              r=first.setting.r, reps=reps, seed=seed)
    return out


def _rank(kind: str) -> tuple[int, int, str]:
    """Families in the zoo's order: the paper's positives, the thieves, then the negatives'."""
    return zoo_order(kind, {}, "")[0], family_rank(kind), kind


def _ordered(parts: dict[str, list[tuple[float, int]]]) -> dict[str, list[tuple[float, int]]]:
    return dict(sorted(parts.items(), key=lambda i: _rank(i[0])))


def _hits(record: Record, positives: Sequence[SuspectResult],
          negatives: Sequence[SuspectResult]) -> TargetHits | None:
    """The per-point matches of the headline positives and the test negatives (None where
    a suspect has none stored)."""
    suspects = [*positives, *negatives]
    if not positives or not negatives or any(not s.matches for s in suspects):
        return None
    return TargetHits(np.stack([bits(s.matches or "") for s in suspects], axis=1),
                      tuple(s.kind for s in suspects),
                      tuple(s.role for s in suspects))
