"""``schemes-population-<dataset>`` (docs/schemes.md#population): the paper's methods and the
field's schemes on a population (sweeps/schemes-population.yaml), with the population's
protocol: every threshold is made on the validation negatives and read on the test
population, so no number is in-sample as the one-zoo table's negative rows are.

Per scheme and per test target, τ at each FPR is the order statistic of the target's
fingerprint's raw scores of the validation negatives by the family rule (raised to a family's
own where that family alone supports the FPR: ``ipguard.paper.schemes_table.operating``);
where the validation negatives are too few it is the strictest the sample vouches for, above
every one, and the note says so. Pooled over the test targets (a suspect counts once per
target): each attack family's TPR and each test negative family's held-out FPR, with
Clopper-Pearson intervals; each attack family's ROC-AUC against the test negatives (the
targets' AUCs weighted by their suspects); the test ARUC (Eq. 7, headline positives against
the test headline negatives) where the score is a rate. A scheme has one setting, so nothing
is chosen; the methods run at their settings for the dataset (conf/tuning/)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ipguard.core.calibration import FPRS
from ipguard.core.methods import METHODS
from ipguard.core.roc import roc_auc
from ipguard.core.schemes import SCHEMES
from ipguard.core.thresholds import Rate, fpr_text
from ipguard.data import dataset_title
from ipguard.paper.base import FigureOut, Output, TableOut
from ipguard.paper.population_table import rate_columns, rate_text
from ipguard.paper.schemes_plot import SchemePanel, plot_schemes
from ipguard.paper.schemes_table import NA, NOT_A_RATE, is_rate, operating, queries, scheme_title
from ipguard.paper.tables import Table, fmt
from ipguard.results.holdout import part_aruc
from ipguard.results.population import population_records
from ipguard.results.record import Record, SuspectResult
from ipguard.zoo.suspects import LABELS, family_rank, zoo_order

HEADLINE = "headline"
HEADER = ["Scheme", "Family (test population)", "n", "Mean score", "ROC-AUC",
          *(f"TPR / FPR at {fpr_text(a)} [95 % CI]" for a in FPRS), "ARUC",
          "Queries / verification", "Generation (s)"]


@dataclass
class Family:
    """One suspect family of the test population, pooled over the test targets."""

    role: str
    scored: int = 0
    not_applicable: int = 0
    total: float = 0.0
    auc: list[tuple[float, int]] = field(default_factory=list)
    above: dict[float, int] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return self.total / self.scored if self.scored else math.nan

    @property
    def roc_auc(self) -> float:
        parts = [(a, w) for a, w in self.auc if not math.isnan(a)]
        return float(np.average([a for a, _ in parts], weights=[w for _, w in parts])) \
            if parts else math.nan

    def rate(self, fpr: float) -> Rate | None:
        return Rate.of(self.above.get(fpr, 0), self.scored) if self.scored else None


@dataclass
class SchemeOnPopulation:
    """One scheme (or method) at its setting on the test population."""

    title: str
    method: str
    is_rate: bool
    queries: int
    seconds: float
    test_targets: int
    aruc: float
    families: dict[str, Family]
    tau_methods: dict[float, list[str]]


def groups(pool: Sequence[Record]) -> list[list[Record]]:
    """Per scheme, the records (one per target) of its setting (its lowest seed, then its
    first key): the paper's methods in their order, then the schemes in the registry's."""
    by_method: dict[str, dict[str, list[Record]]] = {}
    for record in sorted(population_records(pool), key=lambda r: (r.setting.seed, r.key)):
        by_method.setdefault(record.method, {}).setdefault(record.key, []).append(record)
    order = [*METHODS, *SCHEMES]
    ranked = sorted(by_method, key=lambda m: (order.index(m) if m in order else len(order), m))
    return [next(iter(by_method[m].values())) for m in ranked]


def _scores(suspects: Sequence[SuspectResult]) -> list[float]:
    return [s.matching_rate for s in suspects if s.scored]


def on_population(records: Sequence[Record], fprs: Sequence[float] = FPRS
                  ) -> SchemeOnPopulation:
    """The test population's numbers of one scheme (``records``: one per target), each τ
    made on the validation negatives of the target's own fingerprint."""
    test = [r for r in records if r.provenance.population_part == "test"]
    if not test:
        raise ValueError("a population's numbers need a test target's record")
    first = test[0]
    families: dict[str, Family] = {}
    tau_methods: dict[float, list[str]] = {}
    arucs = []
    for r in test:
        negatives = [s for s in r.suspects if s.role == "negative"]
        val = [s for s in negatives if s.part == "validation" and s.scored]
        neg = [s for s in negatives if s.part == "test"]
        neg_scores, head_neg = _scores(neg), _scores([s for s in neg if s.headline_negative])
        ops = {a: operating([s.matching_rate for s in val], a, [s.kind for s in val])
               for a in fprs}
        for a, op in ops.items():
            tau_methods.setdefault(a, []).append(op.method if op else "no negatives")
        positives = [s for s in r.suspects if s.role == "positive"]
        parts: list[tuple[str, str, list[SuspectResult], list[float]]] = [
            (HEADLINE, "positive", [s for s in positives if s.in_default_selection], head_neg)]
        for kind in dict.fromkeys(s.kind for s in positives):
            parts.append((kind, "positive", [s for s in positives if s.kind == kind],
                          neg_scores))
        for kind in dict.fromkeys(s.kind for s in neg):
            parts.append((f"negative:{kind}", "negative", [s for s in neg if s.kind == kind],
                          []))
        for name, role, mine, against in parts:
            fam = families.setdefault(name, Family(role))
            scores = _scores(mine)
            fam.scored += len(scores)
            fam.not_applicable += len(mine) - len(scores)
            fam.total += float(sum(scores))
            if role == "positive" and scores and against:
                fam.auc.append((roc_auc(scores, against), len(scores)))
            for a, op in ops.items():
                if op is not None:
                    fam.above[a] = fam.above.get(a, 0) + int(
                        (np.asarray(scores, dtype=float) > op.tau).sum())
        if is_rate(r):
            arucs.append(part_aruc(r, "test"))
    ordered = dict(sorted(families.items(), key=lambda i: _rank(i[0])))
    return SchemeOnPopulation(
        scheme_title(first), first.method, is_rate(first), queries(first),
        float(np.mean([r.extraction.seconds for r in test])), len(test),
        float(np.nanmean(arucs)) if arucs and not all(map(math.isnan, arucs)) else math.nan,
        ordered, tau_methods)


def _rank(name: str) -> tuple[int, int, int, str]:
    """The headline first, then the positives in the zoo's order, then the negatives'."""
    if name == HEADLINE:
        return 0, 0, 0, name
    kind = name.removeprefix("negative:")
    return 1, zoo_order(kind, {}, "")[0], family_rank(kind), kind


def _label(name: str) -> str:
    if name == HEADLINE:
        return "headline: paper positives vs test paper negatives"
    if name.startswith("negative:"):
        kind = name.removeprefix("negative:")
        return f"{LABELS.get(kind, kind)} (negatives, held out)"
    return LABELS.get(name, name)


def schemes_population_table(dataset: str, pool: Sequence[Record],
                             fprs: Sequence[float] = FPRS) -> Output:
    """The table and the figure for one dataset from the records of its population schemes
    sweep (``pool``)."""
    reports = [on_population(g, fprs) for g in groups(pool)
               if any(r.provenance.population_part == "test" for r in g)]
    if not reports:
        return Output()
    rows: list[list[str]] = []
    data: list[dict[str, Any]] = []
    for rep in reports:
        for number, (name, fam) in enumerate(rep.families.items()):
            first = number == 0
            n = str(fam.scored) + (f" (+{fam.not_applicable} n/a)" if fam.not_applicable
                                   else "")
            rates = [fam.rate(a) for a in fprs]
            cells = [rep.title if first else "", _label(name), n]
            extra = [(fmt(rep.aruc) if rep.is_rate else NOT_A_RATE) if first else "",
                     str(rep.queries) if first else "", f"{rep.seconds:.3g}" if first else ""]
            if not fam.scored:
                rows.append([*cells, NA if fam.not_applicable else "–", "–",
                             *("–" for _ in fprs), *extra])
            else:
                rows.append([*cells, fmt(fam.mean, 3),
                             fmt(fam.roc_auc) if fam.role == "positive" else "",
                             *(rate_text(r) for r in rates), *extra])
            data.append({"scheme": rep.method, "title": rep.title, "family": name,
                         "role": fam.role, "suspects": fam.scored,
                         "not_applicable": fam.not_applicable, "mean_score": fam.mean,
                         "auc": fam.roc_auc if fam.role == "positive" else None,
                         "aruc": rep.aruc if rep.is_rate else None,
                         "test_targets": rep.test_targets, "queries": rep.queries,
                         "generation_seconds": rep.seconds,
                         **rate_columns(dict(zip(fprs, rates, strict=True)),
                                        "tpr" if fam.role == "positive" else "fpr")})
    table = Table(f"The field's fingerprints on the {dataset_title(dataset)} population: "
                  "thresholds made on the validation negatives, every number on the test "
                  "population", HEADER, rows, data, _notes(reports, fprs))
    name = f"schemes-population-{dataset}"
    out = Output([TableOut(name, name, table)])
    panels = _panels(data, min(fprs))
    if panels:
        out.items.append(FigureOut(name, lambda path: plot_schemes(
            panels, path, suptitle=f"Fingerprinting schemes on the {dataset_title(dataset)} "
                                   f"population: TPR at the {fpr_text(min(fprs))} FPR "
                                   "threshold of the validation negatives (bars, 95 % CI) and "
                                   "ROC-AUC (dots), test population")))
    return out


def _panels(data: Sequence[dict[str, Any]], fpr: float) -> list[SchemePanel]:
    tag = f"tpr{fpr * 100:g}"
    panels = []
    names = list(dict.fromkeys(d["family"] for d in data if d["role"] == "positive"))
    for family in names:
        mine = [d for d in data if d["family"] == family and d.get(tag) is not None]
        if mine:
            panels.append(SchemePanel(
                "All paper positives (headline)" if family == HEADLINE else
                LABELS.get(family, family), [d["title"] for d in mine],
                [d[tag] for d in mine], [d[f"{tag}_lo"] for d in mine],
                [d[f"{tag}_hi"] for d in mine], [d["auc"] for d in mine]))
    return panels


def _notes(reports: Sequence[SchemeOnPopulation], fprs: Sequence[float]) -> list[str]:
    rules = sorted({m for rep in reports for ms in rep.tau_methods.values() for m in ms})
    targets = max(rep.test_targets for rep in reports)
    return [f"Every number is on the {targets} test target(s) and the test negatives; τ at "
            f"each FPR ({', '.join(fpr_text(a) for a in fprs)}) is made per test target from "
            "its fingerprint's raw scores of the validation negatives: " + "; ".join(rules)
            + ". A score above τ is a positive verdict.",
            "Positive rows: the TPR at each τ and the ROC-AUC against the test negatives; "
            "negative rows: the held-out FPR at each τ. Pooled over the test targets (a "
            "suspect counts once per target, so the trials are not independent); "
            "Clopper-Pearson 95 % intervals. n: scored suspects.",
            "ARUC (Eq. 7, headline positives against the test paper negatives, mean over the "
            "test targets) only for scores that are rates. "
            f"'{NA}': a probability scheme cannot query a label-only suspect (random forest)."]


__all__ = ["SchemeOnPopulation", "groups", "on_population", "schemes_population_table"]
