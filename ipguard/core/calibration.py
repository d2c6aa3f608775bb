"""A verdict with an error rate (docs/verdicts.md): the null model of an independent suspect's
matching count, a p-value per suspect, and thresholds calibrated to a target false-positive rate.

Null model: the number m of the n fingerprinting points an independent model labels as the
target did is beta-binomial(n, a, b), fitted by maximum likelihood to the negatives' counts
(each negative has its own chance to match a point, spread as a beta; the binomial is the
limit of no spread, and the fit when the negatives vary less than a binomial would). With
every negative at 0 (or at n), or one negative, it is the binomial with the Jeffreys estimate
(m + 1/2) / (n + 1) of its chance. The p-value of m is P(M >= m) under the fit (``p_value``);
the empirical one, (1 + #negatives at >= m) / (N + 1), needs no model but is never below
1 / (N + 1). A threshold at FPR alpha is the smallest t/n with P(M >= t) <= alpha; cross-
validation over the negatives (leave one family out, and random splits) measures the FPR it
reaches on negatives it was not fitted on. docs/verdicts.md explains each choice."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, expit, gammaln, logit

from ipguard.core.intervals import Intervals

FPRS = (0.01, 0.05)   # the target false-positive rates reported everywhere
SPLITS = 200          # random splits of the negatives
HELD_OUT = 0.25       # the fraction of negatives a random split holds out
_MAX_PRECISION = 1e7  # a + b beyond this is the binomial


def min_negatives(fpr: float) -> int:
    """How many negatives an FPR needs before the sample alone can support it: an empirical
    threshold above the k-th largest of N negatives has FPR <= k / (N + 1), so alpha needs
    N >= 1/alpha - 1 (99 for 1 %, 19 for 5 %). Below that only the fitted model speaks."""
    return math.ceil(1.0 / fpr - 1e-9) - 1


@dataclass(frozen=True)
class NullModel:
    """M ~ beta-binomial(n, a, b) with mean ``mean`` * n and over-dispersion ``rho`` (the
    correlation of two points' matches within one model; 0 is the binomial), fitted to the
    negatives' ``counts``; ``fit`` names how."""

    n: int
    mean: float
    rho: float
    counts: tuple[int, ...]
    fit: str = "beta-binomial, maximum likelihood"

    @property
    def negatives(self) -> int:
        return len(self.counts)

    @cached_property
    def _tail(self) -> np.ndarray:
        """P(M >= t) for t = 0 .. n + 1, summed in log space (exact far into the tail)."""
        m = np.arange(self.n + 1)
        log_pmf = gammaln(self.n + 1) - gammaln(m + 1) - gammaln(self.n - m + 1)
        if self.rho > 0:
            a, b = _shape(self.mean, self.rho)
            log_pmf = log_pmf + betaln(m + a, self.n - m + b) - betaln(a, b)
        else:
            log_pmf = log_pmf + m * np.log(self.mean) + (self.n - m) * np.log1p(-self.mean)
        tail = np.minimum(np.exp(np.logaddexp.accumulate(log_pmf[::-1])[::-1]), 1.0)
        tail[0] = 1.0  # P(M >= 0), exactly
        return np.r_[tail, 0.0]

    def p_value(self, matched: int) -> float:
        """P(M >= matched) for an independent suspect: the model's p-value."""
        return float(self._tail[int(np.clip(matched, 0, self.n + 1))])

    def p_value_empirical(self, matched: int) -> float:
        """(1 + #negatives matching >= matched) / (N + 1): no model, never below 1/(N+1)."""
        return (1 + sum(c >= matched for c in self.counts)) / (self.negatives + 1)

    def threshold_count(self, fpr: float) -> int:
        """The smallest t with P(M >= t) <= fpr (n + 1 when even t = n is too likely)."""
        return int(np.argmax(self._tail <= fpr))

    def threshold(self, fpr: float) -> float:
        """The matching-rate threshold t/n at ``fpr`` (above 1: nothing can be verified)."""
        return self.threshold_count(fpr) / self.n

    def to_json(self) -> dict[str, Any]:
        return {"fit": self.fit, "n": self.n, "mean": self.mean, "rho": self.rho,
                "counts": list(self.counts)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NullModel:
        return cls(int(data["n"]), float(data["mean"]), float(data["rho"]),
                   tuple(int(c) for c in data["counts"]), str(data["fit"]))


def fit_null(counts: Sequence[int], n: int) -> NullModel:
    """The null model of ``counts`` (each negative's matches out of ``n``), as the module's
    docstring says."""
    m = np.asarray(counts, dtype=float)
    if m.ndim != 1 or len(m) == 0:
        raise ValueError("the null model needs at least one negative's matching count")
    if n < 1 or (m < 0).any() or (m > n).any():
        raise ValueError(f"matching counts must lie in [0, n={n}]")
    ints = tuple(int(round(c)) for c in m)
    total = m.sum()
    if len(m) == 1 or total == 0 or total == len(m) * n:
        jeffreys = (total + 0.5) / (len(m) * n + 1)
        return NullModel(n, float(jeffreys), 0.0, ints, "binomial, Jeffreys estimate")
    mean = total / (len(m) * n)
    var = m.var(ddof=1)
    rho0 = float(np.clip((var / (n * mean * (1 - mean)) - 1) / max(n - 1, 1), 1e-4, 0.9))

    def nll(theta: np.ndarray) -> float:
        mu, s = expit(theta[0]), math.exp(theta[1])
        a, b = mu * s, (1 - mu) * s
        return -float(np.sum(betaln(m + a, n - m + b)) - len(m) * betaln(a, b))

    start = np.array([logit(mean), math.log((1 - rho0) / rho0)])
    best = minimize(nll, start, method="L-BFGS-B",
                    bounds=[(-30.0, 30.0), (-6.0, math.log(_MAX_PRECISION))])
    mu, s = float(expit(best.x[0])), float(math.exp(best.x[1]))
    binomial = -float(np.sum(m * math.log(mean) + (n - m) * math.log1p(-mean)))
    if s >= _MAX_PRECISION * 0.999 or binomial <= best.fun:  # no spread beyond a binomial's
        return NullModel(n, float(mean), 0.0, ints, "binomial, maximum likelihood")
    return NullModel(n, mu, 1.0 / (1.0 + s), ints)


def _shape(mean: float, rho: float) -> tuple[float, float]:
    s = (1.0 - rho) / rho
    return mean * s, (1.0 - mean) * s


@dataclass(frozen=True)
class Calibration:
    """The threshold ``tau`` at target FPR ``fpr``, fitted on all ``negatives``; the TPR it
    gives on the ``positives`` (the headline's); the FPR it reached on held-out negatives,
    pooled over leave-one-family-out (``fpr_lofo``, None with one family; ``by_family``: each
    family's) and over ``splits`` random splits (``fpr_random``)."""

    fpr: float
    tau: float
    tpr: float
    positives: int
    negatives: int
    fpr_lofo: float | None
    fpr_random: float | None
    splits: int = 0
    by_family: dict[str, float] = field(default_factory=dict)

    @property
    def supported(self) -> bool:
        """Whether the negatives alone can support the target (``min_negatives``)."""
        return self.negatives >= min_negatives(self.fpr)

    def to_json(self) -> dict[str, Any]:
        return {"fpr": self.fpr, "tau": self.tau, "tpr": self.tpr, "positives": self.positives,
                "negatives": self.negatives, "fpr_lofo": self.fpr_lofo,
                "fpr_random": self.fpr_random, "splits": self.splits,
                "by_family": dict(self.by_family), "supported": self.supported}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calibration:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


def calibrate(negatives: Sequence[int], families: Sequence[str], positives: Sequence[int],
              n: int, fprs: Sequence[float] = FPRS, splits: int = SPLITS,
              held_out: float = HELD_OUT, seed: int = 0) -> list[Calibration]:
    """A ``Calibration`` per target FPR from the negatives' matching counts (and their
    families) and the positives' counts, out of ``n`` points."""
    neg, fam = np.asarray(negatives, dtype=int), np.asarray(families, dtype=str)
    if len(neg) != len(fam):
        raise ValueError("need one family per negative")
    full = fit_null(neg, n)
    kinds = list(dict.fromkeys(fam.tolist()))
    lofo = [(fam == k, fit_null(neg[fam != k], n)) for k in kinds] if len(kinds) > 1 else []
    rng = np.random.default_rng(seed)
    size = max(1, round(held_out * len(neg)))
    random = []
    for _ in range(splits if len(neg) > 1 else 0):
        test = np.zeros(len(neg), dtype=bool)
        test[rng.choice(len(neg), size=min(size, len(neg) - 1), replace=False)] = True
        random.append((test, fit_null(neg[~test], n)))
    pos = np.asarray(positives, dtype=int)
    out = []
    for alpha in fprs:
        t = full.threshold_count(alpha)
        out.append(Calibration(
            fpr=float(alpha), tau=t / n, tpr=float((pos >= t).mean()) if len(pos) else math.nan,
            positives=len(pos), negatives=len(neg), fpr_lofo=_pooled(neg, lofo, alpha),
            fpr_random=_pooled(neg, random, alpha), splits=len(random),
            by_family={k: _pooled(neg, [item], alpha) for k, item in zip(kinds, lofo,
                                                                         strict=False)}))
    return out


def _pooled(counts: np.ndarray, splits: Sequence[tuple[np.ndarray, NullModel]],
            alpha: float) -> float | None:
    """The fraction of held-out negatives at or above their split's threshold, pooled."""
    if not splits:
        return None
    false = sum(int((counts[test] >= null.threshold_count(alpha)).sum()) for test, null in splits)
    return false / sum(int(test.sum()) for test, _ in splits)


@dataclass(frozen=True)
class Verdicts:
    """What a record says about error rates: the null model of its negatives, a calibrated
    threshold per target FPR, and the intervals of its numbers (None without per-point
    matches, in records stored without per-point matches)."""

    null: NullModel
    calibrations: tuple[Calibration, ...]
    intervals: Intervals | None = None

    def at(self, fpr: float) -> Calibration | None:
        return next((c for c in self.calibrations if math.isclose(c.fpr, fpr)), None)

    def to_json(self) -> dict[str, Any]:
        return {"null": self.null.to_json(),
                "calibrations": [c.to_json() for c in self.calibrations],
                "intervals": self.intervals.to_json() if self.intervals else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Verdicts | None:
        if not data:
            return None
        return cls(NullModel.from_json(data["null"]),
                   tuple(Calibration.from_json(c) for c in data.get("calibrations") or []),
                   Intervals.from_json(data.get("intervals")))
