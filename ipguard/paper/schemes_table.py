"""``schemes-<dataset>`` (docs/schemes.md): the paper's five methods and the field's schemes
(AKH, SAC-w, SAC-m, ModelDiff, CAE, Zest) on the same zoo, from the records of the schemes
sweep (sweeps/schemes.yaml).

The schemes' scores live on scales of their own (a rate of agreeing labels, 1 - a correlation
distance, a cosine), so the table compares them only where every score can be read alike:
per suspect family, the ROC-AUC (ties half, ``ipguard.core.roc``) and the TPR at a threshold
set on the negatives' scores for a 1 % FPR, with its Clopper-Pearson interval. The threshold
is the model-free order statistic of ``ipguard.core.thresholds`` on the raw scores (a score
must exceed the k-th largest negative's, k = floor(fpr (N + 1))); where the negatives are too
few for 1 % (N < 99) it is the strictest the sample can vouch for, above every negative, and
the note says so. The ARUC (Eq. 7) is shown only where the score is a rate: its thresholds
tau = t/r run over [0, 1] and read a score as a fraction of agreeing answers, which a
correlation similarity or a cosine is not (an independent model scores 0.95 there). A
probability scheme gives no score to a label-only suspect (a random forest): its cell reads
"n/a (needs probabilities)". The figure: a panel per attack family, each scheme's TPR at
1 % FPR with its interval and its AUC."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ipguard.core.methods import METHODS, paper_name
from ipguard.core.metrics import aruc
from ipguard.core.roc import roc_auc
from ipguard.core.schemes import SCHEMES
from ipguard.core.thresholds import (
    Rate,
    empirical_method,
    fpr_text,
    min_negatives,
    order_statistic,
)
from ipguard.data import dataset_title
from ipguard.paper.base import FigureOut, Output, TableOut
from ipguard.paper.population_table import rate_text
from ipguard.paper.schemes_plot import SchemePanel, plot_schemes
from ipguard.paper.tables import Table, fmt
from ipguard.results.record import Record, SuspectResult
from ipguard.zoo.suspects import LABELS, family_rank, in_paper, zoo_order

FPR = 0.01
NA = "n/a (needs probabilities)"
HEADER = ["Scheme", "Suspects", "n", "Mean score", "ROC-AUC", "TPR (FPR) at 1 % [95 % CI]",
          "ARUC", "Queries / verification", "Generation (s)"]
NOT_A_RATE = "– (not a rate)"


@dataclass(frozen=True)
class Operating:
    """A threshold on raw scores for a target FPR: a score above ``tau`` is a positive
    verdict; ``method`` says how it was made, ``supported`` whether the negatives can
    vouch for the FPR on their own."""

    tau: float
    method: str
    supported: bool

    def rate(self, scores: Sequence[float]) -> Rate:
        """The share of ``scores`` above the threshold, with its Clopper-Pearson interval."""
        values = np.asarray(scores, dtype=float)
        return Rate.of(int((values > self.tau).sum()), len(values))


def operating(negatives: Sequence[float], fpr: float = FPR,
              kinds: Sequence[str] | None = None) -> Operating | None:
    """The threshold for ``fpr`` from the negatives' scores: the k-th largest (k =
    floor(fpr (N + 1))), or, when k = 0, the largest (the strictest the sample vouches for);
    None without negatives. With each negative's family (``kinds``), the family rule of
    ``ipguard.core.thresholds.family_threshold`` on raw scores: raised to any family's own
    k-th largest where that family alone supports ``fpr``."""
    if not len(negatives):
        return None
    pooled = order_statistic(negatives, fpr)
    if pooled is None:
        return Operating(float(np.max(negatives)), f"above the largest of {len(negatives)} "
                         f"negatives (too few for {fpr_text(fpr)}: {min_negatives(fpr)} "
                         "needed)", False)
    method = empirical_method(len(negatives))
    if kinds is None:
        return Operating(pooled, method, True)
    scores, fam = np.asarray(negatives, dtype=float), np.asarray(kinds, dtype=str)
    if len(scores) != len(fam):
        raise ValueError("need one family per negative")
    tau, raised = pooled, []
    for kind in dict.fromkeys(fam.tolist()):
        own = order_statistic(scores[fam == kind], fpr)
        if own is not None and own > tau:
            tau, raised = own, [*raised, f"{kind} ({int((fam == kind).sum())})"]
    if raised:
        method += ", raised to the order statistic of " + ", ".join(raised)
    return Operating(tau, method, True)


def scheme_title(record: Record) -> str:
    """How a row names its scheme: the paper's method with its combo, or the scheme's paper
    name (SAC-w, ...)."""
    if record.scheme is not None:
        return record.scheme.title
    return f"{paper_name(record.method)}{record.combo}"


def is_rate(record: Record) -> bool:
    return record.scheme.score_is_rate if record.scheme is not None else True


def queries(record: Record) -> int:
    """Inputs one verification sends to a suspect: the scheme's, or the method's n points."""
    return record.scheme.queries if record.scheme is not None else record.setting.n


def chosen(pool: Sequence[Record]) -> list[Record]:
    """One record per scheme (its lowest seed, then its first key): the paper's methods in
    their order, then the schemes in the registry's."""
    by_name: dict[str, Record] = {}
    for record in sorted(pool, key=lambda r: (r.setting.seed, r.key)):
        by_name.setdefault(record.method, record)
    order = [*METHODS, *SCHEMES]
    return sorted(by_name.values(), key=lambda r: (
        order.index(r.method) if r.method in order else len(order), r.method))


def families(records: Sequence[Record], role: str) -> list[str]:
    """The suspect families (kinds) of ``role`` in any of the records, in the zoo's order."""
    kinds = {s.kind: s for r in records for s in r.suspects if s.role == role}
    if role == "positive":
        return sorted(kinds, key=lambda k: zoo_order(k, kinds[k].hyper, kinds[k].arch))
    return sorted(kinds, key=lambda k: (not in_paper(k), family_rank(k), k))


def _scores(suspects: Sequence[SuspectResult]) -> list[float]:
    return [s.matching_rate for s in suspects if s.scored]


def scheme_rows(record: Record, positives: Sequence[str], negatives: Sequence[str],
                ) -> tuple[list[list[str]], list[dict[str, Any]], Operating | None]:
    """A scheme's printed rows (headline, each positive family, each negative family), its
    CSV rows, and the threshold its TPRs are read at."""
    rate, title = is_rate(record), scheme_title(record)
    sus = record.suspects
    neg = _scores([s for s in sus if s.role == "negative"])
    head_neg = _scores([s for s in sus if s.headline_negative])
    head_pos = [s for s in sus if s.role == "positive" and s.in_default_selection]
    op = operating(neg)
    base = {"scheme": record.method, "title": title, "key": record.key,
            "score_is_rate": rate, "tau": op.tau if op else None}
    rows: list[list[str]] = []
    data: list[dict[str, Any]] = []

    def add(family: str, label: str, mine: Sequence[SuspectResult], role: str,
            against: Sequence[float], aruc_negatives: Sequence[float] | None) -> None:
        scored, na = _scores(mine), [s for s in mine if not s.scored]
        first = not rows
        cells = [title if first else "", label,
                 str(len(scored)) + (f" (+{len(na)} n/a)" if na else "")]
        extra = [str(queries(record)), f"{record.extraction.seconds:.3g}"] if first else \
            ["", ""]
        row = {**base, "family": family, "label": label, "role": role,
               "suspects": len(scored), "not_applicable": len(na)}
        if not scored:
            rows.append([*cells, NA if na else "–", "–", "–", "–" if rate else NOT_A_RATE,
                         *extra])
            data.append(row | {"reason": na[0].not_applicable if na else None})
            return
        pairs = (scored, against) if role == "positive" else (against, scored)
        auc = roc_auc(*pairs) if against else math.nan
        found = op.rate(scored) if op is not None else None
        area = aruc(scored, aruc_negatives, record.setting.r) \
            if rate and aruc_negatives else math.nan
        mean = float(np.mean(scored))
        rows.append([*cells, fmt(mean, 3), fmt(auc), rate_text(found),
                     fmt(area) if rate else NOT_A_RATE, *extra])
        data.append(row | {"mean_score": mean, "auc": auc, **_rate_columns(found),
                           "aruc": area if rate else None})

    add("headline", "headline: paper positives vs paper negatives", head_pos, "positive",
        head_neg, head_neg)
    for kind in positives:
        mine = [s for s in sus if s.role == "positive" and s.kind == kind]
        if mine:
            add(kind, LABELS.get(kind, kind), mine, "positive", neg, head_neg)
    head = _scores(head_pos)
    for kind in negatives:
        mine = [s for s in sus if s.role == "negative" and s.kind == kind]
        if mine:
            add(kind, f"{LABELS.get(kind, kind)} (negatives)", mine, "negative", head, None)
    return rows, data, op


def _rate_columns(found: Rate | None) -> dict[str, Any]:
    if found is None:
        return {"tpr": None}
    return {"tpr": found.value, "tpr_lo": found.lo, "tpr_hi": found.hi, "tpr_k": found.k,
            "tpr_n": found.n}


def schemes_table(dataset: str, pool: Sequence[Record]) -> Output:
    """The table and the figure for one dataset from the records of its schemes sweep."""
    records = chosen(pool)
    if not records:
        return Output()
    positives, negatives = families(records, "positive"), families(records, "negative")
    rows: list[list[str]] = []
    data: list[dict[str, Any]] = []
    rules: dict[str, str] = {}
    for record in records:
        mine, rows_data, op = scheme_rows(record, positives, negatives)
        rows += mine
        data += rows_data
        if op is not None:
            rules.setdefault(op.method, scheme_title(record))
    table = Table(f"The field's fingerprints on the {dataset_title(dataset)} zoo: per suspect "
                  "family, ROC-AUC and TPR at a 1 % FPR threshold", HEADER, rows, data,
                  _notes(rules))
    name = f"schemes-{dataset}"
    panels = _panels(data, positives)
    out = Output([TableOut(name, name, table)])
    if panels:
        out.items.append(FigureOut(name, lambda path: plot_schemes(
            panels, path, suptitle=f"Fingerprinting schemes on {dataset_title(dataset)}: TPR "
                                   f"at the 1 % FPR threshold ({_rule(rules)}; bars, 95 % CI) "
                                   "and ROC-AUC (dots)")))
    return out


def _panels(data: Sequence[dict[str, Any]], positives: Sequence[str]) -> list[SchemePanel]:
    """A panel per attack family (the headline first): each scheme's TPR and AUC."""
    panels = []
    for family in ["headline", *positives]:
        mine = [d for d in data if d["role"] == "positive" and d["family"] == family
                and d.get("tpr") is not None]
        if mine:
            panels.append(SchemePanel(
                "All paper positives (headline)" if family == "headline" else
                LABELS.get(family, family), [d["title"] for d in mine],
                [d["tpr"] for d in mine], [d["tpr_lo"] for d in mine],
                [d["tpr_hi"] for d in mine], [d["auc"] for d in mine]))
    return panels


def _rule(rules: dict[str, str]) -> str:
    """How the thresholds were made, in a few words for the figure's title."""
    if all(rule.startswith("above the largest") for rule in rules):
        return "above every negative: too few for 1 %"
    return "the negatives' order statistic" if all(
        not rule.startswith("above") for rule in rules) else "see the table's note"


def _notes(rules: dict[str, str]) -> list[str]:
    return ["Per scheme: the headline row (the paper's positives against the paper's "
            "negatives), then each positive family (ROC-AUC against every scored negative, "
            "TPR at the threshold) and each negative family (ROC-AUC of the headline "
            "positives against it, its FPR at the threshold, in-sample). n: scored suspects.",
            "Threshold for 1 % FPR on each scheme's raw scores, from all its scored negatives "
            "(harder negatives included): " + "; ".join(sorted(rules)) + ". Intervals: "
            "Clopper-Pearson 95 %.",
            "ARUC (Eq. 7) only for scores that are rates (the paper's methods, AKH, CAE); "
            "SAC-w, SAC-m, ModelDiff and Zest are similarities on scales of their own. "
            f"'{NA}': a probability scheme cannot query a label-only suspect (random forest)."]


__all__ = ["FPR", "Operating", "operating", "schemes_table", "scheme_title", "chosen"]
