"""The matching-rate table as the paper prints it (Table 5): positives one row each,
negatives as [min, max] per family."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from ipguard.results import SuspectResult

KIND_LABELS = {"ftll": "FTLL", "ftal": "FTAL", "rtll": "RTLL", "rtal": "RTAL",
               "same_arch": "Same architecture", "forest": "Random forest",
               "lenet": "LeNet-5", "vgg": "VGG"}


def suspect_label(s: SuspectResult) -> str:
    if s.kind == "wp":
        return f"WP p={s.hyper.get('p', 0):.1f}"
    if s.kind == "fp":
        c = Fraction(s.hyper.get("c", 0)).limit_denominator(1000)
        return f"FP c={c.numerator * 16 // c.denominator}/16" if 16 % c.denominator == 0 \
            else f"FP c={c}"
    return KIND_LABELS.get(s.kind, s.kind)


def matching_rate_table(suspects: Sequence[SuspectResult], column: str) -> str:
    """Plain-text table: a row per positive, a [min, max] row per negative family."""
    rows: list[tuple[str, str, str]] = []
    for s in suspects:
        if s.role == "positive":
            mark = "" if s.in_default_selection else " *"
            rows.append(("Positive", suspect_label(s) + mark, f"{s.matching_rate:.2f}"))
    families: dict[str, list[float]] = {}
    for s in suspects:
        if s.role == "negative":
            families.setdefault(s.kind, []).append(s.matching_rate)
    for kind, rates in families.items():
        label = f"{KIND_LABELS.get(kind, kind)} ({len(rates)})"
        rows.append(("Negative", label, f"[{min(rates):.2f}, {max(rates):.2f}]"))
    w0 = max(len("Suspect"), *(len(r[0]) for r in rows)) if rows else 8
    w1 = max(len("classifier"), *(len(r[1]) for r in rows)) if rows else 10
    w2 = max(len(column), *(len(r[2]) for r in rows)) if rows else len(column)
    lines = [f"{'Suspect':<{w0}}  {'classifier':<{w1}}  {column:>{w2}}",
             f"{'-' * w0}  {'-' * w1}  {'-' * w2}"]
    last = None
    for role, label, value in rows:
        lines.append(f"{role if role != last else '':<{w0}}  {label:<{w1}}  {value:>{w2}}")
        last = role
    return "\n".join(lines)
