"""Where the ARUC goes (docs/results.md): Eq. 7 equals the mean matching rate of the positives minus
the mean matching rate of the negatives whenever every positive matches more than every
negative (n = r; tests/core/test_metrics.py proves it), so the two means, per family of negatives,
say why an ARUC is what it is. The paper's CIFAR-10 IPGuard row (Table 5: positives about 0.97,
negatives about 0.03) is printed beside them as the reference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ipguard.results.record import SuspectResult
from ipguard.zoo.suspects import LABELS, family_rank, in_paper

# Implied by the paper's Table 5 (CIFAR-10, IPGuard): positives 0.97 on average, negatives 0.03.
PAPER_CIFAR10 = {"positives": 0.97, "negatives": 0.03}


@dataclass(frozen=True)
class Decomposition:
    """Mean matching rates: of the positives counted, of all negatives, of each negative
    family (kind -> mean), their difference, and whether the two sets separate (then the
    difference is the ARUC with n = r)."""

    positives: float
    negatives: float
    families: dict[str, float] = field(default_factory=dict)
    separated: bool = False

    @property
    def difference(self) -> float:
        return self.positives - self.negatives

    def line(self) -> str:
        """One line for the bench's summary."""
        fams = ", ".join(f"{LABELS.get(k, k)} {v:.2f}" for k, v in self.families.items())
        equal = "= ARUC, the sets separate" if self.separated else "(the sets overlap)"
        return (f"mean matching rate: positives {self.positives:.2f} - negatives "
                f"{self.negatives:.2f} ({fams}) = {self.difference:.2f} {equal}; paper, "
                f"CIFAR-10 IPGuard: {PAPER_CIFAR10['positives']:.2f} - "
                f"{PAPER_CIFAR10['negatives']:.2f}")


def decompose(suspects: Sequence[SuspectResult], headline_only: bool = True) -> Decomposition:
    """The means of ``suspects``' matching rates; ``headline_only`` counts the positives of
    the headline selection (as the headline ARUC does)."""
    pos = [s.matching_rate for s in suspects if s.role == "positive"
           and (s.in_default_selection or not headline_only and in_paper(s.kind))]
    neg = [s for s in suspects if s.headline_negative]
    kinds = sorted({s.kind for s in neg}, key=lambda k: (family_rank(k), k))
    families = {k: _mean([s.matching_rate for s in neg if s.kind == k]) for k in kinds}
    rates = [s.matching_rate for s in neg]
    separated = bool(pos and rates) and min(pos) > max(rates)
    return Decomposition(_mean(pos), _mean(rates), families, separated)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")
