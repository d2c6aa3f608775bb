"""A true validation/test split of the suspects (docs/verdicts.md): τ is made from the
validation negatives' counts only, and the test suspects, which played no part in it, give the
false-positive rate per negative family and the true-positive rate per positive family, each
k of n with its Clopper-Pearson interval. Cross-validation (``ipguard.core.calibration``) reuses
every negative; this is the check a reader can take at face value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ipguard.core.calibration import FPRS
from ipguard.core.thresholds import LEVEL, TAU_RULE, Rate, threshold


@dataclass(frozen=True)
class Validation:
    """τ at ``fpr`` fitted on ``negatives`` validation negatives (``tau_method``, whether they
    ``supported`` the rate) and what it does on the test suspects: ``fpr_test`` (all test
    negatives) and ``fpr_by_family``, ``tpr_test`` and ``tpr_by_family``."""

    fpr: float
    tau: float
    tau_method: str
    supported: bool
    negatives: int
    fpr_test: Rate
    tpr_test: Rate | None = None
    fpr_by_family: dict[str, Rate] = field(default_factory=dict)
    tpr_by_family: dict[str, Rate] = field(default_factory=dict)
    level: float = LEVEL

    def to_json(self) -> dict[str, Any]:
        return {"fpr": self.fpr, "tau": self.tau, "tau_method": self.tau_method,
                "supported": self.supported, "negatives": self.negatives,
                "fpr_test": self.fpr_test.to_json(),
                "tpr_test": self.tpr_test.to_json() if self.tpr_test else None,
                "fpr_by_family": {k: v.to_json() for k, v in self.fpr_by_family.items()},
                "tpr_by_family": {k: v.to_json() for k, v in self.tpr_by_family.items()},
                "level": self.level}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Validation:
        rates = {name: {k: Rate.from_json(v) for k, v in (data.get(name) or {}).items()}
                 for name in ("fpr_by_family", "tpr_by_family")}
        tpr = data.get("tpr_test")
        return cls(float(data["fpr"]), float(data["tau"]), str(data["tau_method"]),
                   bool(data["supported"]), int(data["negatives"]),
                   Rate.from_json(data["fpr_test"]), Rate.from_json(tpr) if tpr else None,
                   level=float(data.get("level", LEVEL)), **rates)


def split_by_family(families: Sequence[str], test: float = 0.5, seed: int = 0) -> np.ndarray:
    """A test mask that holds out about ``test`` of each family's members (at least one where
    a family has two or more), so that every family is seen on both sides."""
    fam = np.asarray(families, dtype=str)
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(fam), dtype=bool)
    for kind in dict.fromkeys(fam.tolist()):
        members = np.flatnonzero(fam == kind)
        take = min(len(members) - 1, max(1, round(test * len(members)))) \
            if len(members) > 1 else 0
        mask[rng.choice(members, size=take, replace=False)] = True
    return mask


def validate(validation_negatives: Sequence[int], test_negatives: Sequence[int],
             test_families: Sequence[str], n: int, test_positives: Sequence[int] = (),
             positive_families: Sequence[str] | None = None, fprs: Sequence[float] = FPRS,
             rule: str = TAU_RULE, level: float = LEVEL) -> list[Validation]:
    """A ``Validation`` per target FPR: τ from ``validation_negatives``' counts (out of
    ``n``) by ``rule``, then each test family's negatives and positives at >= τ."""
    val = np.asarray(validation_negatives, dtype=int)
    neg, fam = np.asarray(test_negatives, dtype=int), np.asarray(test_families, dtype=str)
    pos = np.asarray(test_positives, dtype=int)
    pfam = np.asarray(positive_families if positive_families is not None
                      else ["positive"] * len(pos), dtype=str)
    if len(neg) != len(fam) or len(pos) != len(pfam):
        raise ValueError("need one family per test negative and per test positive")
    out = []
    for alpha in fprs:
        t = threshold(val, n, alpha, rule)

        def rate(counts: np.ndarray, c: int = t.count) -> Rate:
            return Rate.of(int((counts >= c).sum()), len(counts), level)

        out.append(Validation(
            float(alpha), t.tau, t.method, t.supported, len(val), rate(neg),
            rate(pos) if len(pos) else None,
            {k: rate(neg[fam == k]) for k in dict.fromkeys(fam.tolist())},
            {k: rate(pos[pfam == k]) for k in dict.fromkeys(pfam.tolist())}, level))
    return out
