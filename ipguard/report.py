"""What the bench prints: the matching-rate table as the paper prints it (Table 5: positives
one row each, negatives as [min, max] per family) and the scores under it."""

from __future__ import annotations

from collections.abc import Sequence

from ipguard.area import decompose
from ipguard.record import Record, SuspectResult
from ipguard.suspects import family_label, suspect_label


def matching_rate_table(suspects: Sequence[SuspectResult], column: str) -> str:
    """Plain-text table: a row per positive, a [min, max] row per negative family; positives
    outside the headline selection are marked *."""
    rows: list[tuple[str, str, str]] = []
    for s in suspects:
        if s.role == "positive":
            mark = "" if s.in_default_selection else " *"
            rows.append(("Positive", suspect_label(s.kind, s.hyper) + mark,
                         f"{s.matching_rate:.2f}"))
    families: dict[str, list[float]] = {}
    for s in suspects:
        if s.role == "negative":
            families.setdefault(s.kind, []).append(s.matching_rate)
    for kind, rates in families.items():
        rows.append(("Negative", family_label(kind, len(rates)),
                     f"[{min(rates):.2f}, {max(rates):.2f}]"))
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


def summary_lines(record: Record) -> str:
    """The run in a few lines: setting and effectiveness, the headline ARUC (the paper's
    protocol: every pruned model the 3 % rule admits, unless caps were asked for, when the
    capped ARUC is labelled so and the paper's follows), and where the area goes."""
    s, head, every = record.setting, record.headline, record.all_admitted
    lines = [f"{s.method_label} on {s.dataset}: n={s.n}, seed={s.seed}, target matches "
             f"{record.effectiveness:.2f} of its own fingerprint"]
    capped = s.selection.capped
    if head is not None:
        which = (f"capped at {s.selection.describe()}, not the paper's protocol" if capped
                 else "every pruned model the 3 % rule admits, the paper's protocol")
        lines.append(f"ARUC = {head.aruc:.4f}  (AUC {head.auc:.4f}, gap {head.gap:+.2f}; "
                     f"{head.positives} positives: {which}; {head.negatives} negatives)")
    if every is not None and capped:
        lines.append(f"ARUC = {every.aruc:.4f}  with every pruned model the 3 % rule admits, "
                     f"the paper's protocol ({every.positives} positives; rows marked * above)")
    if record.suspects:
        lines.append(decompose(record.suspects).line())
    return "\n".join(lines)


def report(record: Record) -> str:
    return f"{matching_rate_table(record.suspects, record.setting.method_label)}\n\n" \
           f"{summary_lines(record)}"
