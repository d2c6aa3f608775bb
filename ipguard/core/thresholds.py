"""Thresholds whose false-positive rate the negatives can vouch for (docs/verdicts.md).

A beta-binomial fitted to all negatives pooled has a tail that is only as right as the model:
a family close to the target (same architecture) among far ones makes the pooled tail too
light, and its τ lets through several times the asked rate. The order statistic needs no
model: with N exchangeable negatives' counts, τ = (the k-th largest) + 1, k = floor(fpr (N + 1)),
and a fresh exchangeable negative reaches τ with probability <= k / (N + 1) <= fpr (ties only
make it rarer). It needs k >= 1, i.e. N >= ``min_negatives(fpr)``; below that τ can only come
from the fit, and says it is an extrapolation. ``RULES`` names the choices."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import beta

from ipguard.core.null import NullModel, fit_null

LEVEL = 0.95
# How τ is made: "auto" (the default) takes the order statistic wherever the negatives support
# the FPR and the fit (labelled an extrapolation) elsewhere; "empirical" the order statistic
# only (refused where unsupported); "fit" the parametric fit always; "family" is "auto" raised
# to each family's own order statistic where that family alone supports the FPR (``family_
# threshold``): the pooled τ holds a family that is a share s of the negatives only to about
# fpr / s, and the family closest to the target is the one a verdict must not accuse.
RULES = ("auto", "empirical", "fit", "family")
TAU_RULE = "auto"
_EPS = 1e-9  # fpr * (N + 1) is a product of floats: 0.01 * 100 must give k = 1


def min_negatives(fpr: float) -> int:
    """How many negatives an FPR needs before the sample alone can support it: the order
    statistic needs k = floor(fpr (N + 1)) >= 1, so N >= 1/fpr - 1 (99 for 1 %, 19 for 5 %)."""
    return math.ceil(1.0 / fpr - _EPS) - 1


def order_rank(fpr: float, negatives: int) -> int:
    """k = floor(fpr (N + 1)): the rank (from the top) whose count τ must exceed."""
    return math.floor(fpr * (negatives + 1) + _EPS)


def fpr_text(fpr: float) -> str:
    """0.01 as '1 %'."""
    return f"{fpr * 100:g} %"


def clopper_pearson(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a binomial proportion k/n: it covers the true
    rate at least ``level`` of the time for every rate, which matters at the few false
    positives a calibration sees. k = 0 gives lo 0, k = n gives hi 1, n = 0 gives (0, 1)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if n < 0 or not 0 <= k <= max(n, 0):
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    tail = (1.0 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(tail, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1.0 - tail, k + 1, n - k))
    return lo, hi


@dataclass(frozen=True)
class Rate:
    """k of n (false or true positives) with its Clopper-Pearson interval (lo, hi)."""

    k: int
    n: int
    lo: float
    hi: float

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        return self.lo, self.hi

    @classmethod
    def of(cls, k: int, n: int, level: float = LEVEL) -> Rate:
        return cls(int(k), int(n), *clopper_pearson(int(k), int(n), level))

    def to_json(self) -> dict[str, Any]:
        return {"k": self.k, "n": self.n, "rate": self.value if self.n else None,
                "lo": self.lo, "hi": self.hi}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rate:
        return cls(int(data["k"]), int(data["n"]), float(data["lo"]), float(data["hi"]))


def order_statistic(values: Sequence[float] | np.ndarray, fpr: float) -> float | None:
    """The k-th largest of the negatives' ``values`` (k = ``order_rank``): a score must
    exceed it; None where the negatives cannot support ``fpr`` (k = 0)."""
    v = np.asarray(values, dtype=float)
    k = order_rank(fpr, len(v))
    if k < 1:
        return None
    return float(np.sort(v)[::-1][min(k, len(v)) - 1])


def order_statistic_count(counts: Sequence[int] | np.ndarray, fpr: float) -> int | None:
    """τ as a count: (the k-th largest of ``counts``) + 1, k = ``order_rank``; None where the
    negatives cannot support ``fpr`` (k = 0)."""
    kth = order_statistic(counts, fpr)
    return None if kth is None else int(kth) + 1


@dataclass(frozen=True)
class Threshold:
    """τ = ``count`` / ``n`` at target ``fpr`` from ``negatives`` counts; ``method`` says how
    it was made, ``empirical`` whether it is the order statistic."""

    fpr: float
    count: int
    n: int
    negatives: int
    method: str
    empirical: bool

    @property
    def tau(self) -> float:
        return self.count / self.n

    @property
    def supported(self) -> bool:
        """Whether the negatives alone can support the target FPR (``min_negatives``)."""
        return self.negatives >= min_negatives(self.fpr)


def empirical_method(negatives: int) -> str:
    return f"empirical order statistic of {negatives} negatives"


def fit_method(fit: str, negatives: int, fpr: float) -> str:
    """The label of a fitted τ: an extrapolation unless the negatives support ``fpr``."""
    kind = fit.split(",")[0]
    if negatives < min_negatives(fpr):
        return f"{kind} fit (extrapolation: {negatives} negatives cannot support {fpr_text(fpr)})"
    return f"{kind} fit of {negatives} negatives (parametric, by choice)"


def unsupported_text(negatives: int, fpr: float, method: str | None) -> str:
    """What a reader must know when N is too small for ``fpr``, in words."""
    kind = (method or "beta-binomial fit").split(" ")[0]
    return (f"{negatives} negatives are too few to support {fpr_text(fpr)} on their own "
            f"({min_negatives(fpr)} needed): τ is a {kind} extrapolation")


def threshold(counts: Sequence[int] | np.ndarray, n: int, fpr: float, rule: str = TAU_RULE,
              null: NullModel | None = None) -> Threshold:
    """τ at ``fpr`` from the negatives' ``counts`` out of ``n`` by ``rule`` (``RULES``). The
    fit (``null``, else fitted here, only when needed) serves where the rule asks for it."""
    if rule not in RULES or rule == "family":
        raise ValueError(f"unknown τ rule {rule!r}: one of {', '.join(RULES[:3])} (the "
                         "'family' rule needs the families: family_threshold)")
    if not 0.0 < fpr < 1.0:
        raise ValueError(f"a false-positive rate lies in (0, 1), got {fpr}")
    c = np.asarray(counts, dtype=int)
    if rule != "fit":
        count = order_statistic_count(c, fpr)
        if count is not None:
            return Threshold(float(fpr), count, n, len(c), empirical_method(len(c)), True)
        if rule == "empirical":
            raise ValueError(f"{len(c)} negatives cannot support an FPR of {fpr_text(fpr)} "
                             f"({min_negatives(fpr)} needed): use rule 'auto' or 'fit'")
    model = null if null is not None else fit_null(c, n)
    count, method = model.threshold_count(fpr), fit_method(model.fit, len(c), fpr)
    floor = int(c.max()) + 1 if len(c) else 0
    if rule == "auto" and count < floor:
        # a τ that a known negative reaches has an FPR of at least 1/(N+1), above any FPR the
        # negatives cannot support: the fit's tail is not trusted below the largest negative
        count, method = floor, f"{method}, raised above the largest negative"
    return Threshold(float(fpr), count, n, len(c), method, False)


def family_threshold(counts: Sequence[int] | np.ndarray, families: Sequence[str], n: int,
                     fpr: float, null: NullModel | None = None) -> Threshold:
    """τ by the ``family`` rule: the pooled ``auto`` τ, raised to each family's own order
    statistic where that family's members alone support ``fpr``, so that every such family's
    FPR is held to ``fpr`` too (not only the mixture's)."""
    c, fam = np.asarray(counts, dtype=int), np.asarray(families, dtype=str)
    if len(c) != len(fam):
        raise ValueError("need one family per negative")
    pooled = threshold(c, n, fpr, "auto", null)
    count, raised = pooled.count, []
    for kind in dict.fromkeys(fam.tolist()):
        own = order_statistic_count(c[fam == kind], fpr)
        if own is not None and own > count:
            count, raised = own, [*raised, f"{kind} ({int((fam == kind).sum())})"]
    if not raised:
        return pooled
    return Threshold(pooled.fpr, count, n, pooled.negatives,
                     f"{pooled.method}, raised to the order statistic of "
                     + ", ".join(raised), pooled.empirical)
