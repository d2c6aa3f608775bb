"""Robustness R(tau), uniqueness U(tau), ARUC (Eq. 7), AUC and the gap (Section 5.1.5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from ipguard.utils.errors import ConfigError

# Matching rates are m/n and thresholds t/r: equal reals may differ in the last bit.
_TOL = 1e-9
# The paper's r, Eq. 7's number of intervals: the one home of the default (the bench's
# metrics.r, a record's setting and every function here take it from this name).
PAPER_R = 100


def thresholds(r: int = PAPER_R) -> np.ndarray:
    """tau = 1/r, 2/r, ..., 1: the rightmost point of each of r intervals (Eq. 7)."""
    if r < 1:
        raise ConfigError("metrics.r", r, "the number of intervals r must be >= 1")
    return np.arange(1, r + 1) / r


def robustness(positive_rates: Sequence[float] | np.ndarray,
               tau: np.ndarray | float) -> np.ndarray:
    """R(tau): fraction of positive suspects verified (matching rate >= tau). Rates in the
    last axis; leading axes (bootstrap replicates) are kept: (..., len(tau))."""
    pos = _rates(positive_rates, "positive")
    return (pos[..., None, :] >= np.atleast_1d(tau)[:, None] - _TOL).mean(axis=-1)


def uniqueness(negative_rates: Sequence[float] | np.ndarray,
               tau: np.ndarray | float) -> np.ndarray:
    """U(tau): fraction of negative suspects not verified (matching rate < tau); axes as in
    ``robustness``."""
    neg = _rates(negative_rates, "negative")
    return (neg[..., None, :] < np.atleast_1d(tau)[:, None] - _TOL).mean(axis=-1)


def aruc(positive_rates: Sequence[float], negative_rates: Sequence[float],
         r: int = PAPER_R) -> float:
    """Eq. 7: (1/r) * sum_{t=1..r} min(R(t/r), U(t/r))."""
    return float(arucs(positive_rates, negative_rates, r))


def arucs(positive_rates: Sequence[float] | np.ndarray, negative_rates: Sequence[float] |
          np.ndarray, r: int = PAPER_R) -> np.ndarray:
    """Eq. 7 for each row of rates (a row per bootstrap replicate: (..., suspects))."""
    tau = thresholds(r)
    both = np.minimum(robustness(positive_rates, tau), uniqueness(negative_rates, tau))
    return both.mean(axis=-1)


def auc(positive_rates: Sequence[float], negative_rates: Sequence[float]) -> float:
    """Probability that a random positive outranks a random negative (ties count half)."""
    pos, neg = _rates(positive_rates, "positive"), _rates(negative_rates, "negative")
    labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    return float(roc_auc_score(labels, np.r_[pos, neg]))


def gap(positive_rates: Sequence[float], negative_rates: Sequence[float]) -> float:
    """Smallest positive matching rate minus largest negative one (> 0: separable)."""
    return float(min(positive_rates) - max(negative_rates))


@dataclass(frozen=True)
class Scores:
    aruc: float
    auc: float
    gap: float
    tau: list[float]
    robustness: list[float]
    uniqueness: list[float]
    positives: int
    negatives: int


def score(positive_rates: Sequence[float], negative_rates: Sequence[float],
          r: int = PAPER_R) -> Scores:
    """All metrics at once, with the curves for plotting and the results record."""
    tau = thresholds(r)
    rob = robustness(positive_rates, tau)
    uni = uniqueness(negative_rates, tau)
    return Scores(
        aruc=float(np.minimum(rob, uni).mean()),
        auc=auc(positive_rates, negative_rates),
        gap=gap(positive_rates, negative_rates),
        tau=tau.tolist(),
        robustness=rob.tolist(),
        uniqueness=uni.tolist(),
        positives=len(positive_rates),
        negatives=len(negative_rates),
    )


def _rates(rates: Sequence[float], role: str) -> np.ndarray:
    arr = np.asarray(rates, dtype=np.float64)
    if arr.ndim < 1 or arr.shape[-1] == 0:
        raise ValueError(f"need at least one {role} matching rate, got {arr.size}")
    if (arr < 0).any() or (arr > 1).any() or not np.isfinite(arr).all():
        raise ValueError(f"{role} matching rates must lie in [0, 1]")
    return arr
