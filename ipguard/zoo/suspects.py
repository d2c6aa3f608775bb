"""What the suspects are (Section 5.1.2): the zoo's families, their names as the paper prints
them, the names of pruning levels, and which positives the headline ARUC counts.

Every module that labels, orders or selects suspects asks this one; nothing else restates it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ipguard.utils.errors import ConfigError
from ipguard.zoo.hyper import MemberHyper

FINETUNE = ("ftll", "ftal", "rtll", "rtal")
# Beyond the paper (docs/stealing.md): positives made by stealing the target or by
# hardening it, and negatives as close to it as an honest competitor could be. None of them is
# in the headline selection: the paper's ARUC stays the paper's.
STEALING = ("distill", "extract_label", "extract_prob", "extract_jacobian", "adv_ft")
HARDER = ("half", "overlap")
BEYOND_PAPER = (*STEALING, *HARDER)
# The owner's own models that a scheme builds its fingerprint with (CAE: surrogates derived
# from the target, independent references); role ``auxiliary``, never suspects.
AUXILIARY = ("surrogate", "reference")
# A pruning kind and the name of its level (WP prunes a fraction p of weights, FP a fraction c
# of each convolution's filters).
PRUNING = {"wp": "p", "fp": "c"}
FP_STEPS = 16  # the paper's FP levels are multiples of 1/16
LABELS = {"ftll": "FTLL", "ftal": "FTAL", "rtll": "RTLL", "rtal": "RTAL", "wp": "WP", "fp": "FP",
          "same_arch": "Same architecture", "forest": "Random forest", "lenet": "LeNet-5",
          "vgg": "VGG", "distill": "Distillation", "extract_label": "Extraction (label API)",
          "extract_prob": "Extraction (probability API)",
          "extract_jacobian": "Jacobian extraction (adaptive)", "adv_ft": "Adversarial fine-tuning",
          "half": "Half of the data", "overlap": "Overlapping data",
          "surrogate": "Surrogate (owner's, auxiliary)",
          "reference": "Reference (owner's, auxiliary)"}
# Negative families that the paper names as a group; any other is "Different architecture".
GROUPS = {"same_arch": "Same architecture", "forest": "Random forest"}
# Zoo order: the target, the paper's positives, then negatives (same architecture first).
KIND_ORDER = ("target", *FINETUNE, "wp", "fp", "same_arch")


def level_of(kind: str, hyper: Mapping[str, Any]) -> float | None:
    """The pruning level of a WP (p) or FP (c) member; None for any other kind."""
    name = PRUNING.get(kind)
    return MemberHyper.of(hyper).level(name) if name else None


def _fp_fraction(level: float) -> tuple[int, int]:
    """An FP level as numerator and denominator, over 16 where it is one of the paper's
    steps (3/16, not 3/16 reduced or 0.1875)."""
    frac = Fraction(level).limit_denominator(1000)
    if FP_STEPS % frac.denominator == 0:
        return frac.numerator * FP_STEPS // frac.denominator, FP_STEPS
    return frac.numerator, frac.denominator


def level_name(kind: str, level: float) -> str:
    """A pruned member's name in the zoo: ``wp-p0.10``, ``fp-c01of16``."""
    if kind == "wp":
        return f"wp-p{level:.2f}"
    num, den = _fp_fraction(level)
    return f"fp-c{num:02d}of{den}" if den == FP_STEPS else f"fp-c{num}of{den}"


def level_label(kind: str, level: float) -> str:
    """A pruned member as the paper prints it: ``WP p=0.1``, ``FP c=1/16``."""
    if kind == "wp":
        return f"WP p={level:.1f}"
    num, den = _fp_fraction(level)
    return f"FP c={num}/{den}"


def fraction_text(level: float) -> str:
    """An FP level as an exact fraction (member.json's ``c_fraction``)."""
    return str(Fraction(level).limit_denominator(1000))


def in_paper(kind: str) -> bool:
    """Whether ``kind`` is one of the paper's suspects (not a stealing or harder-negative
    family, which are never in the headline, nor an owner's auxiliary model)."""
    return kind not in BEYOND_PAPER and kind not in AUXILIARY


def suspect_label(kind: str, hyper: Mapping[str, Any]) -> str:
    """A positive's row label (``FTLL``, ``WP p=0.3``, ``Extraction (label API), 100
    queries``) or a negative family's short name."""
    level = level_of(kind, hyper)
    if level is not None:
        return level_label(kind, level)
    if kind in BEYOND_PAPER and hyper:
        return beyond_label(kind, hyper)
    return LABELS.get(kind, kind)


def beyond_label(kind: str, hyper: Mapping[str, Any]) -> str:
    """A stealing suspect or harder negative by its attack and budget (member.json's hyper)."""
    name, h = LABELS[kind], MemberHyper.of(hyper)
    if kind == "distill":
        return f"{name} to {_or_unknown(h.student)}, T={_or_unknown(h.temperature)}"
    if kind in ("extract_label", "extract_prob", "extract_jacobian"):
        student = f" to {h.student}" if h.student else ""
        return f"{name}{student}, {_or_unknown(h.queries)} queries"
    if kind == "adv_ft":
        return f"{name}, eps={h.epsilon or 0:g}"
    if kind == "half":
        return f"{name} ({_or_unknown(h.half)})"
    return f"{name}, overlap {h.overlap or 0:g}"


def _or_unknown(value: str | float | None) -> str:
    """A label's value as the tables print it (``:g`` for numbers), ``?`` when not recorded."""
    if value is None:
        return "?"
    return f"{value:g}" if isinstance(value, float) else str(value)


def family_label(kind: str, count: int) -> str:
    """A negative family in the bench's table: ``Same architecture (20)``."""
    return f"{LABELS.get(kind, kind)} ({count})"


def family_group(kind: str) -> str:
    return GROUPS.get(kind, "Different architecture")


def family_row(kind: str, arch: str, count: int | None = None) -> str:
    """A negative family as a row of Tables 2 and 5-7: ``Same architecture: small_cnn (20)``,
    ``Different architecture: lenet5 (5)``, ``Random forest (5)``."""
    if kind == "forest":
        return "Random forest" + (f" ({count})" if count is not None else "")
    text = f"{family_group(kind)}: {arch}"
    return text + (f" ({count})" if count is not None else "")


def family_rank(kind: str) -> int:
    """The paper's order of negative families: same architecture, others, random forests."""
    return 0 if kind == "same_arch" else 2 if kind == "forest" else 1


def zoo_order(kind: str, hyper: Mapping[str, Any], arch: str) -> tuple[int, float, str]:
    """Sort key of members within a role: the paper's kinds in order, then level, then arch;
    the families beyond the paper last, in their order."""
    pos = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER) + (
        1 + BEYOND_PAPER.index(kind) if kind in BEYOND_PAPER else 0)
    return pos, float(level_of(kind, hyper) or 0.0), arch


@dataclass
class Selection:
    """Which admitted positives the headline ARUC counts. The paper's protocol (the default,
    ``None``) counts every pruning level the 3 % rule admitted (Section 5.1: "each p
    corresponds to a pruned version"); a cap (``max_wp_p``, ``max_fp_c``: e.g. 0.5 and 7/16,
    the largest levels the rule admitted on the paper's own models) is a named deviation,
    and results made with one say so."""

    max_wp_p: float | None = None
    max_fp_c: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_wp_p", "max_fp_c"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= float(value) <= 1.0:
                raise ConfigError(name, value, "a pruning level lies in [0, 1] (null: no cap)")

    @property
    def capped(self) -> bool:
        return self.max_wp_p is not None or self.max_fp_c is not None

    def cap(self, kind: str) -> float | None:
        return self.max_wp_p if kind == "wp" else self.max_fp_c if kind == "fp" else None

    def admits(self, kind: str, hyper: Mapping[str, Any]) -> bool:
        """True unless the member is pruned beyond this selection's cap for its kind, or is
        not one of the paper's suspects (stealing, harder negatives: never in the headline)."""
        if not in_paper(kind):
            return False
        level, cap = level_of(kind, hyper), self.cap(kind)
        return level is None or cap is None or level <= float(cap) + 1e-9

    def describe(self) -> str:
        """``WP p <= 0.5, FP c <= 0.4375`` (``every level`` without caps)."""
        parts = [f"{LABELS[k]} {PRUNING[k]} <= {self.cap(k):g}" for k in PRUNING
                 if self.cap(k) is not None]
        return ", ".join(parts) or "every pruning level the 3 % rule admits"

    def to_json(self) -> dict[str, float | None]:
        return {"max_wp_p": self.max_wp_p, "max_fp_c": self.max_fp_c}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Selection:
        data = data or {}
        return cls(**{k: (None if data.get(k) is None else float(data[k]))
                      for k in ("max_wp_p", "max_fp_c") if k in data})
