"""A record's verdicts (docs/verdicts.md): the null model of its negatives, each suspect's p-value,
thresholds calibrated at FPR 1 % and 5 % (the order statistic where the negatives support the
rate, else the labelled fit), the ROC-AUC per positive family, and the 95 % intervals of its
numbers: its ARUC and mean rates by the hierarchical bootstrap (its suspects within their
families, then its points), each suspect's rate over its points. ``assess`` computes them once,
for the bench; ``verdicts_of`` gives a record's, recomputed from its matching rates when it was
made before they were stored (intervals then need the per-point matches, which old records
lack). docs/verdicts.md says what each number means."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from ipguard.core.calibration import FPRS, Calibration, Verdicts, calibrate, fit_null
from ipguard.core.hierarchy import Hierarchical, TargetHits, hierarchical_bootstrap
from ipguard.core.intervals import (
    LEVEL,
    REPS,
    Intervals,
    bits,
    bootstrap,
    mean_interval,
    nested,
    replicates,
)
from ipguard.core.metrics import arucs
from ipguard.core.roc import roc_auc
from ipguard.core.thresholds import TAU_RULE
from ipguard.results.record import Record, SuspectResult

# How an ARUC's interval is made (``aruc_interval``), as the tables' notes say it.
ARUC_INTERVAL = "the bootstrap over the seeds and, within each, its fingerprint points where " \
                "several seeds ran, else over the record's suspects within their families " \
                "and its points (the hierarchical bootstrap)"
NO_MATCHES = "no per-point matches in the record (stored before they were kept): no " \
             "point-bootstrap interval"


def counts(suspects: Sequence[SuspectResult], n: int) -> np.ndarray:
    """Each suspect's number of matching points, m = rate * n."""
    return np.rint(np.array([s.matching_rate for s in suspects]) * n).astype(int)


def assess(record: Record, reps: int = REPS, seed: int = 0) -> Record:
    """``record`` with every suspect's p-values and its ``verdicts``. A negative's p-values
    are against the null fitted without it (leave-one-out), so they show what an independent
    model would get."""
    n = record.setting.n
    negatives = [s for s in record.suspects if s.null_negative]
    m = counts(record.suspects, n)
    neg_m = counts(negatives, n)
    null = fit_null(neg_m, n)
    suspects, j = [], 0
    for s, mine in zip(record.suspects, m, strict=True):
        model = null
        if s.null_negative:
            model = fit_null(np.delete(neg_m, j), n) if len(neg_m) > 1 else null
            j += 1
        suspects.append(dataclasses.replace(s, p_value=model.p_value(mine),
                                            p_value_empirical=model.p_value_empirical(mine)))
    verdicts = Verdicts(null, tuple(calibrations(record)),
                        point_intervals(record, reps=reps, seed=seed),
                        hierarchical_interval(record, reps=reps, seed=seed), aucs(record))
    return dataclasses.replace(record, suspects=suspects, verdicts=verdicts)


def calibrations(record: Record, fprs: Sequence[float] = FPRS,
                 rule: str = TAU_RULE) -> list[Calibration]:
    """Calibrated thresholds of a record by ``rule``: its negatives (with their families)
    against the positives its headline counts, and each positive family's TPR (all its
    members, the stealing families included)."""
    n = record.setting.n
    neg = [s for s in record.suspects if s.null_negative]
    pos = [s for s in record.suspects if s.role == "positive" and s.in_default_selection]
    every = [s for s in record.suspects if s.role == "positive"]
    attacks = {k: counts([s for s in every if s.kind == k], n)
               for k in dict.fromkeys(s.kind for s in every)}
    return calibrate(counts(neg, n), [s.kind for s in neg], counts(pos, n), n, fprs, rule=rule,
                     attacks=attacks)


def aucs(record: Record) -> dict[str, float]:
    """The ROC-AUC (ties half) against every negative of the null: of the headline's positives
    (``all``) and of each positive family's members; empty without positives or negatives."""
    neg = [s.matching_rate for s in record.suspects if s.null_negative]
    every = [s for s in record.suspects if s.role == "positive"]
    head = [s.matching_rate for s in every if s.in_default_selection]
    if not neg or not head:
        return {}
    return {"all": roc_auc(head, neg)} | {
        k: roc_auc([s.matching_rate for s in every if s.kind == k], neg)
        for k in dict.fromkeys(s.kind for s in every)}


def verdicts_of(record: Record) -> Verdicts | None:
    """The record's stored verdicts, or ones computed from its matching rates (intervals
    only where it holds per-point matches); None without negatives."""
    if record.verdicts is not None:
        return record.verdicts
    neg = [s for s in record.suspects if s.null_negative]
    if not neg:
        return None
    return Verdicts(fit_null(counts(neg, record.setting.n), record.setting.n),
                    tuple(calibrations(record)), point_intervals(record),
                    hierarchical_interval(record), aucs(record))


def hierarchical_interval(record: Record, level: float = LEVEL, reps: int = REPS,
                          seed: int = 0, decompose: bool = True) -> Hierarchical | None:
    """The record's ARUC and mean rates by the hierarchical bootstrap: one target, its
    headline suspects resampled within their families, then its points; with the variance
    each level alone gives. None without per-point matches, positives or negatives."""
    suspects = [s for s in record.suspects
                if (s.role == "positive" and s.in_default_selection) or s.headline_negative]
    if any(not s.matches for s in suspects) or {s.role for s in suspects} != {"positive",
                                                                              "negative"}:
        return None
    target = TargetHits(np.stack([bits(s.matches or "") for s in suspects], axis=1),
                        tuple(s.kind for s in suspects), tuple(s.role for s in suspects))
    return hierarchical_bootstrap([target], record.setting.r, level, reps, seed,
                                  decompose=decompose)


def point_intervals(record: Record, level: float = LEVEL, reps: int = REPS,
                    seed: int = 0) -> Intervals | None:
    """The bootstrap over the record's n points: each replicate resamples the point indices
    once, recomputes every suspect's matching rate on them, and from those the ARUC (Eq. 7,
    headline positives), the mean rates of the positives, of the negatives, of each negative
    family, and their difference. None when a suspect has no per-point matches."""
    found = _point_statistic(record)
    if found is None:
        return None
    hits, statistic, names = found
    lo, hi = bootstrap(hits, statistic, level, reps, seed)
    return Intervals("points", level, reps, seed,
                     {k: (float(a), float(b)) for k, a, b in zip(names, lo, hi, strict=True)})


def _point_statistic(record: Record) -> tuple[np.ndarray, Any, list[str]] | None:
    """The record's per-point matches (points, suspects), the statistic of a batch of their
    resamples and the names of its values; None without matches, positives or negatives."""
    suspects = record.suspects
    if not suspects or any(not s.matches for s in suspects):
        return None
    hits = np.stack([bits(s.matches or "") for s in suspects], axis=1)
    pos = [i for i, s in enumerate(suspects) if s.role == "positive" and s.in_default_selection]
    neg = [i for i, s in enumerate(suspects) if s.headline_negative]
    if not pos or not neg:
        return None
    kinds = list(dict.fromkeys(suspects[i].kind for i in neg))
    family = [[i for i in neg if suspects[i].kind == k] for k in kinds]

    def statistic(batch: np.ndarray) -> np.ndarray:
        rates = batch.mean(axis=1)  # (replicates, suspects)
        mp, mn = rates[:, pos].mean(axis=1), rates[:, neg].mean(axis=1)
        return np.column_stack([arucs(rates[:, pos], rates[:, neg], record.setting.r), mp, mn,
                                mp - mn, *(rates[:, f].mean(axis=1) for f in family), rates])

    names = ["aruc", "mean_positives", "mean_negatives", "difference",
             *(f"mean_{k}" for k in kinds), *(f"rate/{s.name}" for s in suspects)]
    return hits, statistic, names


def aruc_interval(records: Sequence[Record]) -> tuple[tuple[float, float] | None, str]:
    """The 95 % interval of a setting's ARUC (mean over its seeds) and what it resampled:
    with several seeds, the seeds and, within each, its points ('seeds and points'; the
    seeds alone, 'seeds', where a record holds no per-point matches); with one, the record's
    point bootstrap ('points'); or None and why."""
    if len(records) == 1:
        return interval_of(records[0], "aruc")
    found = [_point_statistic(r) for r in sorted(records, key=lambda r: r.setting.seed)]
    if any(f is None for f in found):
        return mean_interval([r.aruc for r in records]), "seeds"
    per_seed = [replicates(hits, statistic, seed=i)[:, 0]
                for i, (hits, statistic, _) in enumerate(f for f in found if f is not None)]
    return nested(per_seed), "seeds and points"


def interval_of(record: Record, name: str) -> tuple[tuple[float, float] | None, str]:
    """A number's interval in ``record`` and what was resampled: the ARUC and the mean rates
    by the hierarchical bootstrap, a suspect's rate (``rate/<name>``) by its points (stored,
    else computed from the per-point matches), or None and why."""
    stored = record.verdicts
    if not name.startswith("rate/"):
        hier = stored.hierarchical if stored is not None else None
        if hier is None and (stored is None or stored.intervals is not None):
            hier = hierarchical_interval(record, decompose=False)
        found = hier.get(name) if hier is not None else None
        if found is not None and hier is not None:
            return found, hier.over
    intervals = stored.intervals if stored is not None else None
    intervals = intervals if intervals is not None else point_intervals(record)
    found = intervals.get(name) if intervals is not None else None
    return (found, "points") if found is not None else (None, NO_MATCHES)


def interval_columns(found: tuple[float, float] | None, over: str,
                     prefix: str = "aruc") -> dict[str, Any]:
    """An interval as CSV columns: ``<prefix>_lo``, ``<prefix>_hi`` and what was resampled."""
    return {f"{prefix}_lo": found[0] if found else None,
            f"{prefix}_hi": found[1] if found else None,
            "interval": over if found else None}


def wandb_summary(verdicts: Verdicts) -> dict[str, Any]:
    """The verdicts as W&B summary keys: the null model; per target FPR (``fpr1``, ``fpr5``)
    the threshold and how it was made, the TPR with its interval, the held-out FPRs (with the
    intervals of the families' pooled one and of each family's) and whether the negatives
    support it; the ROC-AUCs; the ARUC's and mean rates' intervals (hierarchical, where the
    record has them, and over the points alone: ``<name>_points_lo``)."""
    null = verdicts.null
    out: dict[str, Any] = {"null_fit": null.fit, "null_mean": null.mean, "null_rho": null.rho,
                           "negatives": null.negatives}
    for c in verdicts.calibrations:
        tag = f"fpr{c.fpr * 100:g}"
        out |= {f"tau_{tag}": c.tau, f"tau_method_{tag}": c.tau_method, f"tpr_{tag}": c.tpr,
                f"achieved_fpr_lofo_{tag}": c.fpr_lofo,
                f"achieved_fpr_random_{tag}": c.fpr_random, f"supported_{tag}": c.supported}
        out |= _bounds(f"tpr_{tag}", c.tpr_interval) | _bounds(f"achieved_fpr_lofo_{tag}",
                                                               c.fpr_lofo_interval)
        for kind, rate in c.held_out.items():
            out[f"held_out_fpr_{kind}_{tag}"] = rate.value
            out |= _bounds(f"held_out_fpr_{kind}_{tag}", rate.interval)
    out |= {("roc_auc" if k == "all" else f"roc_auc_{k}"): v for k, v in verdicts.auc.items()}
    for name in ("aruc", "mean_positives", "mean_negatives", "difference"):
        points = verdicts.intervals.get(name) if verdicts.intervals is not None else None
        hier = verdicts.hierarchical.get(name) if verdicts.hierarchical is not None else None
        out |= _bounds(name, hier or points) | _bounds(f"{name}_points", points)
    if verdicts.hierarchical is not None:
        out |= {"aruc_interval": verdicts.hierarchical.over,
                "aruc_dominant_level": verdicts.hierarchical.dominant()}
    return out


def _bounds(name: str, found: tuple[float, float] | None) -> dict[str, float]:
    return {f"{name}_lo": found[0], f"{name}_hi": found[1]} if found is not None else {}
