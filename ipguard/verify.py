"""Verify (Section 4.1): query the suspect's label-only API and compare labels."""

from __future__ import annotations

from dataclasses import dataclass

from ipguard.classifier import Classifier
from ipguard.errors import ConfigError
from ipguard.fingerprint import Fingerprint


@dataclass(frozen=True)
class Verification:
    """m of n fingerprint labels matched; ``verified`` is the verdict at ``threshold``."""

    matched: int
    n: int
    threshold: float

    @property
    def matching_rate(self) -> float:
        return self.matched / self.n

    @property
    def verified(self) -> bool:
        return self.matching_rate >= self.threshold


def matching_rate(fingerprint: Fingerprint, suspect: Classifier) -> float:
    """m / n: the fraction of fingerprinting points the suspect labels as the target did."""
    return verify(fingerprint, suspect).matching_rate


def verify(fingerprint: Fingerprint, suspect: Classifier, threshold: float = 0.5) -> Verification:
    """Verify(f, C_s): 1 (``verified``) when the matching rate is >= the threshold."""
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError("threshold", threshold, "a matching-rate threshold lies in [0, 1]")
    labels = suspect.predict(fingerprint.x).cpu()
    if labels.shape != fingerprint.y.shape:
        raise ValueError(f"suspect returned labels of shape {tuple(labels.shape)}, "
                         f"expected {tuple(fingerprint.y.shape)}")
    matched = int((labels == fingerprint.y).sum())
    return Verification(matched=matched, n=len(fingerprint), threshold=threshold)
