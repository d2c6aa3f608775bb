"""How well scores separate positives from negatives, per attack family (docs/verdicts.md):
the ROC-AUC (Mann-Whitney, ties count half) and the TPR at a target FPR, with τ made by the
rule every verdict uses (``ipguard.core.thresholds``) and the TPR's Clopper-Pearson interval.
Pass one family's positives against all negatives to see that family alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from ipguard.core.null import NullModel
from ipguard.core.thresholds import LEVEL, TAU_RULE, Rate, Threshold, threshold


def roc_auc(positive_scores: Sequence[float] | np.ndarray,
            negative_scores: Sequence[float] | np.ndarray) -> float:
    """P(a random positive outscores a random negative), ties counting half: the Mann-Whitney
    U over n_pos n_neg, from mid-ranks (exact with ties, no threshold grid)."""
    pos = np.asarray(positive_scores, dtype=float).ravel()
    neg = np.asarray(negative_scores, dtype=float).ravel()
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("the ROC-AUC needs at least one positive and one negative score")
    ranks = rankdata(np.r_[pos, neg])
    u = ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


@dataclass(frozen=True)
class Operating:
    """The operating point at a target FPR: the threshold (and how it was made) and the
    positives at or above it, with the TPR's Clopper-Pearson interval."""

    threshold: Threshold
    tpr: Rate

    @property
    def tau(self) -> float:
        return self.threshold.tau


def tpr_at_fpr(positive_counts: Sequence[int] | np.ndarray,
               negative_counts: Sequence[int] | np.ndarray, n: int, fpr: float,
               rule: str = TAU_RULE, level: float = LEVEL,
               null: NullModel | None = None) -> Operating:
    """The TPR of ``positive_counts`` (matches out of ``n``) at the τ the negatives' counts
    give at ``fpr`` by ``rule``."""
    t = threshold(negative_counts, n, fpr, rule, null)
    pos = np.asarray(positive_counts, dtype=int)
    return Operating(t, Rate.of(int((pos >= t.count).sum()), len(pos), level))
