"""Verify (Section 4.1): query the suspect's label-only API and compare labels; with a null
model of independent suspects (``ipguard.core.calibration``), say how likely the match is by
chance."""

from __future__ import annotations

from dataclasses import dataclass

from ipguard.core.calibration import NullModel
from ipguard.core.classifier import Classifier
from ipguard.core.fingerprint import Fingerprint
from ipguard.core.intervals import as_text
from ipguard.utils.errors import ConfigError


@dataclass(frozen=True)
class Verification:
    """m of n fingerprint labels matched; ``verified`` is the verdict at ``threshold``;
    ``matches`` says which points matched ('1') and which did not ('0'). Given the ``null``
    model of independent suspects, ``p_value`` is the chance an independent suspect matches m
    or more and ``verdict(fpr)`` the verdict at that false-positive rate."""

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

    def verdict(self, fpr: float = 0.01) -> bool:
        """Verified at false-positive rate ``fpr``: p-value <= fpr, i.e. the matching rate
        reaches the null model's threshold at ``fpr``."""
        if self.null is None:
            raise ValueError("a verdict at an FPR needs a null model: verify(..., null=...)")
        if not 0.0 < fpr < 1.0:
            raise ConfigError("fpr", fpr, "a false-positive rate lies in (0, 1)")
        return self.matched >= self.null.threshold_count(fpr)


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
