"""The null model of an independent suspect's matching count (docs/verdicts.md).

The number m of the n fingerprinting points an independent model labels as the target did is
beta-binomial(n, a, b), fitted by maximum likelihood to the negatives' counts (each negative has
its own chance to match a point, spread as a beta; the binomial is the limit of no spread, and
the fit when the negatives vary less than a binomial would). With every negative at 0 (or at n),
or one negative, it is the binomial with the Jeffreys estimate (m + 1/2) / (n + 1) of its
chance. The p-value of m is P(M >= m) under the fit (``p_value``); the empirical one,
(1 + #negatives at >= m) / (N + 1), needs no model but is never below 1 / (N + 1). The model
keeps the negatives' counts, so that a threshold can come from them alone where they are
enough (``ipguard.core.thresholds``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, expit, gammaln, logit

_MAX_PRECISION = 1e7  # a + b beyond this is the binomial


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
        """The fit's threshold: the smallest t with P(M >= t) <= fpr (n + 1 when even t = n is
        too likely). Beyond what the negatives support it is an extrapolation of the tail;
        ``ipguard.core.thresholds.threshold`` chooses between it and the order statistic."""
        return int(np.argmax(self._tail <= fpr))

    def threshold(self, fpr: float) -> float:
        """The fit's matching-rate threshold t/n at ``fpr`` (above 1: nothing verifies)."""
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
