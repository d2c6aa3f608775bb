"""A verdict with an error rate (docs/verdicts.md): thresholds calibrated to a target
false-positive rate, the rates they reach on negatives they were not fitted on, and what a
record says about both.

τ comes from ``ipguard.core.thresholds``: the order statistic of the negatives' counts wherever
they are enough for the FPR (a guarantee that needs no model), the beta-binomial fit of
``ipguard.core.null`` elsewhere, labelled an extrapolation. Cross-validation over the negatives
(leave one family out, and random splits) applies the same rule to each training part, so it
measures the rule actually used; each family's held-out FPR comes with its Clopper-Pearson
interval, because a family of a few members says little on its own."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ipguard.core.hierarchy import Hierarchical
from ipguard.core.intervals import Intervals
from ipguard.core.null import NullModel, fit_null
from ipguard.core.thresholds import (
    LEVEL,
    TAU_RULE,
    Rate,
    Threshold,
    min_negatives,
    order_rank,
    threshold,
)

__all__ = ["FPRS", "SPLITS", "HELD_OUT", "SAME_ARCH", "NullModel", "fit_null", "min_negatives",
           "Calibration", "calibrate", "Verdicts"]

FPRS = (0.01, 0.05)   # the target false-positive rates reported everywhere
SPLITS = 200          # random splits of the negatives
HELD_OUT = 0.25       # the fraction of negatives a random split holds out
SAME_ARCH = "same_arch"  # the family closest to the target, reported on its own


def _pair(value: Any) -> tuple[float, float] | None:
    return (float(value[0]), float(value[1])) if value is not None else None


@dataclass(frozen=True)
class Calibration:
    """The threshold ``tau`` at target FPR ``fpr``, fitted on all ``negatives`` by ``rule``
    (``tau_method`` says how; both None in records stored before they were kept, whose τ is
    the fit's); the TPR on the ``positives`` (the headline's) with its interval; the FPR it
    reached on held-out negatives, pooled over leave-one-family-out (``fpr_lofo``, None with
    one family; ``by_family`` each family's rate, ``held_out`` its k of n with interval) and
    over ``splits`` random splits (``fpr_random``); ``tpr_by_family``: each attack family's
    TPR at ``tau``."""

    fpr: float
    tau: float
    tpr: float
    positives: int
    negatives: int
    fpr_lofo: float | None
    fpr_random: float | None
    splits: int = 0
    by_family: dict[str, float] = field(default_factory=dict)
    tau_method: str | None = None
    rule: str | None = None
    tpr_interval: tuple[float, float] | None = None
    fpr_lofo_interval: tuple[float, float] | None = None
    held_out: dict[str, Rate] = field(default_factory=dict)
    tpr_by_family: dict[str, Rate] = field(default_factory=dict)
    level: float = LEVEL

    @property
    def supported(self) -> bool:
        """Whether the negatives alone can support the target (``min_negatives``)."""
        return self.negatives >= min_negatives(self.fpr)

    @property
    def same_arch(self) -> Rate | None:
        """The held-out FPR of the same-architecture family, the one closest to the target."""
        return self.held_out.get(SAME_ARCH)

    def to_json(self) -> dict[str, Any]:
        return {"fpr": self.fpr, "tau": self.tau, "tpr": self.tpr, "positives": self.positives,
                "negatives": self.negatives, "fpr_lofo": self.fpr_lofo,
                "fpr_random": self.fpr_random, "splits": self.splits,
                "by_family": dict(self.by_family), "supported": self.supported,
                "tau_method": self.tau_method, "rule": self.rule,
                "tpr_interval": list(self.tpr_interval) if self.tpr_interval else None,
                "fpr_lofo_interval": (list(self.fpr_lofo_interval)
                                      if self.fpr_lofo_interval else None),
                "held_out": {k: v.to_json() for k, v in self.held_out.items()},
                "tpr_by_family": {k: v.to_json() for k, v in self.tpr_by_family.items()},
                "level": self.level}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calibration:
        """Reads every stored shape: fields a record stored before they existed are None or
        empty."""
        names = set(cls.__dataclass_fields__)
        known = {k: v for k, v in data.items() if k in names}
        for name in ("tpr_interval", "fpr_lofo_interval"):
            known[name] = _pair(known.get(name))
        for name in ("held_out", "tpr_by_family"):
            known[name] = {k: Rate.from_json(v) for k, v in (known.get(name) or {}).items()}
        return cls(**known)


def calibrate(negatives: Sequence[int], families: Sequence[str], positives: Sequence[int],
              n: int, fprs: Sequence[float] = FPRS, splits: int = SPLITS,
              held_out: float = HELD_OUT, seed: int = 0, rule: str = TAU_RULE,
              attacks: Mapping[str, Sequence[int]] | None = None,
              level: float = LEVEL) -> list[Calibration]:
    """A ``Calibration`` per target FPR from the negatives' matching counts (and their
    families) and the positives' counts, out of ``n`` points; τ by ``rule``
    (``ipguard.core.thresholds.RULES``), the same in every cross-validation split;
    ``attacks``: each attack family's positives' counts, for its TPR."""
    neg, fam = np.asarray(negatives, dtype=int), np.asarray(families, dtype=str)
    if len(neg) != len(fam):
        raise ValueError("need one family per negative")
    full = fit_null(neg, n)
    kinds = list(dict.fromkeys(fam.tolist()))
    lofo = [fam == k for k in kinds] if len(kinds) > 1 else []
    rng = np.random.default_rng(seed)
    size = max(1, round(held_out * len(neg)))
    random = []
    for _ in range(splits if len(neg) > 1 else 0):
        test = np.zeros(len(neg), dtype=bool)
        test[rng.choice(len(neg), size=min(size, len(neg) - 1), replace=False)] = True
        random.append(test)
    fitted: dict[int, NullModel] = {}   # each split's fit, made only where the rule needs it
    pos = np.asarray(positives, dtype=int)
    out = []
    for alpha in fprs:
        t = threshold(neg, n, alpha, rule, full)
        parts = [_split_threshold(neg[~m], n, alpha, rule, fitted, i)
                 for i, m in enumerate([*lofo, *random])]
        per_family = {k: _false(neg, [(m, tau)])
                      for k, m, tau in zip(kinds, lofo, parts, strict=False)}
        pooled_lofo = _sum(per_family.values())
        tpr = Rate.of(int((pos >= t.count).sum()), len(pos), level)
        out.append(Calibration(
            fpr=float(alpha), tau=t.tau, tpr=tpr.value if len(pos) else math.nan,
            positives=len(pos), negatives=len(neg),
            fpr_lofo=pooled_lofo[0] / pooled_lofo[1] if pooled_lofo else None,
            fpr_random=_rate(_false(neg, list(zip(random, parts[len(lofo):], strict=True)))),
            splits=len(random),
            by_family={k: v[0] / v[1] for k, v in per_family.items() if v},
            tau_method=t.method, rule=rule,
            tpr_interval=tpr.interval if len(pos) else None,
            fpr_lofo_interval=Rate.of(*pooled_lofo, level).interval if pooled_lofo else None,
            held_out={k: Rate.of(*v, level) for k, v in per_family.items() if v},
            tpr_by_family=_tprs(attacks or {}, t.count, level), level=level))
    return out


def _split_threshold(train: np.ndarray, n: int, fpr: float, rule: str,
                     fitted: dict[int, NullModel], key: int) -> Threshold | None:
    """τ of one cross-validation split's training negatives by the full fit's ``rule``; the
    split's fit (cached under ``key``) is made only where the rule needs it. None where the
    rule is "empirical" and the split is too small for it."""
    supported = order_rank(fpr, len(train)) >= 1
    if rule == "empirical" and not supported:
        return None
    if key not in fitted and (rule == "fit" or not supported):
        fitted[key] = fit_null(train, n)
    return threshold(train, n, fpr, rule, fitted.get(key))


def _false(counts: np.ndarray,
           parts: Sequence[tuple[np.ndarray, Threshold | None]]) -> tuple[int, int] | None:
    """(held-out negatives at or above their part's τ, held-out negatives), or None."""
    used = [(test, t) for test, t in parts if t is not None]
    if not used:
        return None
    return (sum(int((counts[test] >= t.count).sum()) for test, t in used),
            sum(int(test.sum()) for test, _ in used))


def _sum(parts: Any) -> tuple[int, int] | None:
    """Pooled (k, n) over the parts that said something."""
    known = [p for p in parts if p is not None]
    return (sum(k for k, _ in known), sum(m for _, m in known)) if known else None


def _rate(found: tuple[int, int] | None) -> float | None:
    return found[0] / found[1] if found else None


def _tprs(attacks: Mapping[str, Sequence[int]], count: int, level: float) -> dict[str, Rate]:
    return {k: Rate.of(int((np.asarray(v) >= count).sum()), len(v), level)
            for k, v in attacks.items() if len(v)}


@dataclass(frozen=True)
class Verdicts:
    """What a record says about error rates: the null model of its negatives, a calibrated
    threshold per target FPR, the intervals of its numbers over its points (None in records
    stored without per-point matches), the hierarchical interval (suspects within family and
    points) of its ARUC and mean rates, and ``auc``: the ROC-AUC of the headline's positives
    (``all``) and of each positive family against every negative."""

    null: NullModel
    calibrations: tuple[Calibration, ...]
    intervals: Intervals | None = None
    hierarchical: Hierarchical | None = None
    auc: dict[str, float] = field(default_factory=dict)

    def at(self, fpr: float) -> Calibration | None:
        return next((c for c in self.calibrations if math.isclose(c.fpr, fpr)), None)

    def to_json(self) -> dict[str, Any]:
        return {"null": self.null.to_json(),
                "calibrations": [c.to_json() for c in self.calibrations],
                "intervals": self.intervals.to_json() if self.intervals else None,
                "hierarchical": self.hierarchical.to_json() if self.hierarchical else None,
                "auc": dict(self.auc)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Verdicts | None:
        if not data:
            return None
        return cls(NullModel.from_json(data["null"]),
                   tuple(Calibration.from_json(c) for c in data.get("calibrations") or []),
                   Intervals.from_json(data.get("intervals")),
                   Hierarchical.from_json(data.get("hierarchical")),
                   {k: float(v) for k, v in (data.get("auc") or {}).items()})

