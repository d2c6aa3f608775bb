"""Verify (Section 4.1): query the suspect's label-only API and compare labels; with a null
model of independent suspects (``ipguard.core.null``), say how likely the match is by chance,
and give a ``Verdict`` at a false-positive rate that says how its threshold was made and
whether the negatives behind it can support that rate."""

from __future__ import annotations

from dataclasses import dataclass

from ipguard.core.classifier import Classifier
from ipguard.core.fingerprint import Fingerprint
from ipguard.core.intervals import as_text
from ipguard.core.null import NullModel
from ipguard.core.thresholds import LEVEL, TAU_RULE, Rate, threshold, unsupported_text
from ipguard.utils.errors import ConfigError


@dataclass(frozen=True)
class Verdict:
    """The verdict at false-positive rate ``fpr``: ``decision`` (matched >= τ), ``tau`` and
    ``tau_method`` (the order statistic of the negatives, or the fit, labelled an
    extrapolation), whether the ``negatives`` (N) ``supported`` the rate, ``fpr_interval``:
    the Clopper-Pearson interval of the negatives' share at >= τ (what the sample vouches for;
    None without negatives' counts) and the model's ``p_value``. Not a bool: read
    ``decision``, so that a caller who treated the old bool verdict fails loudly."""

    decision: bool
    fpr: float
    tau: float
    tau_method: str
    supported: bool
    fpr_interval: tuple[float, float] | None
    negatives: int
    p_value: float | None
    matched: int
    n: int

    def __bool__(self) -> bool:
        raise TypeError("a Verdict is not a bool: read verdict.decision (and tau_method, "
                        "supported, fpr_interval for what the decision rests on)")

    @property
    def note(self) -> str | None:
        """In words, why the error rate is not vouched for by the negatives alone."""
        return None if self.supported else unsupported_text(self.negatives, self.fpr,
                                                            self.tau_method)


@dataclass(frozen=True)
class Verification:
    """m of n fingerprint labels matched; ``verified`` is the verdict at ``threshold``;
    ``matches`` says which points matched ('1') and which did not ('0'). Given the ``null``
    model of independent suspects, ``p_value`` is the chance an independent suspect matches m
    or more and ``verdict(fpr)`` the ``Verdict`` at that false-positive rate."""

    matched: int
    n: int
    threshold: float
    matches: str = ""
    null: NullModel | None = None

    @property
    def matching_rate(self) -> float:
        return self.matched / self.n

    @property
    def verified(self) -> bool:
        return self.matching_rate >= self.threshold

    @property
    def p_value(self) -> float | None:
        """P(M >= m) under the null model (None without one)."""
        return self.null.p_value(self.matched) if self.null is not None else None

    @property
    def p_value_empirical(self) -> float | None:
        """(1 + #negatives matching >= m) / (N + 1) (None without a null model)."""
        return self.null.p_value_empirical(self.matched) if self.null is not None else None

    def verdict(self, fpr: float = 0.01, rule: str = TAU_RULE,
                level: float = LEVEL) -> Verdict:
        """The ``Verdict`` at false-positive rate ``fpr``: matched >= τ, with τ from the null
        model's negatives' counts by ``rule`` (``ipguard.core.thresholds.RULES``: the order
        statistic where they support ``fpr``, else the fit, labelled an extrapolation)."""
        if self.null is None:
            raise ValueError("a verdict at an FPR needs a null model: verify(..., null=...)")
        if not 0.0 < fpr < 1.0:
            raise ConfigError("fpr", fpr, "a false-positive rate lies in (0, 1)")
        counts = self.null.counts
        t = threshold(counts, self.n, fpr, rule, self.null)
        above = sum(c >= t.count for c in counts)
        return Verdict(self.matched >= t.count, float(fpr), t.tau, t.method, t.supported,
                       Rate.of(above, len(counts), level).interval if counts else None,
                       t.negatives, self.p_value, self.matched, self.n)


def matching_rate(fingerprint: Fingerprint, suspect: Classifier) -> float:
    """m / n: the fraction of fingerprinting points the suspect labels as the target did."""
    return verify(fingerprint, suspect).matching_rate


def verify(fingerprint: Fingerprint, suspect: Classifier, threshold: float = 0.5,
           null: NullModel | None = None) -> Verification:
    """Verify(f, C_s): 1 (``verified``) when the matching rate is >= the threshold; with a
    ``null`` model (``ipguard.core.calibration.fit_null`` of negatives' counts on this
    fingerprint) also a p-value and ``verdict(fpr)``."""
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError("threshold", threshold, "a matching-rate threshold lies in [0, 1]")
    if null is not None and null.n != len(fingerprint):
        raise ValueError(f"the null model is of n={null.n} points, the fingerprint has "
                         f"{len(fingerprint)}")
    labels = suspect.predict(fingerprint.x).cpu()
    if labels.shape != fingerprint.y.shape:
        raise ValueError(f"suspect returned labels of shape {tuple(labels.shape)}, "
                         f"expected {tuple(fingerprint.y.shape)}")
    hits = (labels == fingerprint.y).numpy()
    return Verification(matched=int(hits.sum()), n=len(fingerprint), threshold=threshold,
                        matches=as_text(hits), null=null)
