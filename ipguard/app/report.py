"""What the bench prints: the matching-rate table as the paper prints it (Table 5: positives
one row each, negatives as [min, max] per family) with each suspect's p-value, and the scores
under it: the ARUC with its 95 % interval, where the area goes, and the thresholds calibrated
at FPR 1 % and 5 % (docs/verdicts.md)."""

from __future__ import annotations

from collections.abc import Sequence

from ipguard.core.calibration import Calibration, Verdicts, min_negatives
from ipguard.paper.tables import fmt_p, fmt_tau
from ipguard.results.area import decompose
from ipguard.results.record import Record, SuspectResult
from ipguard.results.verdicts import NO_MATCHES, assess
from ipguard.zoo.suspects import LABELS, family_label, suspect_label

P_COLUMNS = ("p-value", "emp. p")


def matching_rate_table(suspects: Sequence[SuspectResult], column: str) -> str:
    """Plain-text table: a row per positive, a [min, max] row per negative family; positives
    outside the headline selection are marked *. The p-value columns (the null model's and
    the empirical one) appear when the suspects carry them."""
    with_p = any(s.p_value is not None for s in suspects)
    rows: list[list[str]] = []
    for s in suspects:
        if s.role == "positive":
            mark = "" if s.in_default_selection else " *"
            rows.append(["Positive", suspect_label(s.kind, s.hyper) + mark,
                         f"{s.matching_rate:.2f}", fmt_p(s.p_value),
                         fmt_p(s.p_value_empirical)])
    families: dict[str, list[SuspectResult]] = {}
    for s in suspects:
        if s.role == "negative":
            families.setdefault(s.kind, []).append(s)
    for kind, members in families.items():
        rates = [m.matching_rate for m in members]
        mark = "" if members[0].in_default_selection else " *"   # harder negatives
        rows.append(["Negative", family_label(kind, len(rates)) + mark,
                     f"[{min(rates):.2f}, {max(rates):.2f}]",
                     *(_p_range([getattr(m, f) for m in members])
                       for f in ("p_value", "p_value_empirical"))])
    header = ["Suspect", "classifier", column, *P_COLUMNS]
    keep = len(header) if with_p else 3
    rows = [r[:keep] for r in rows]
    widths = [max([len(header[i]), *(len(r[i]) for r in rows)]) for i in range(keep)]
    align = ["<", "<"] + [">"] * (keep - 2)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths, strict=True))

    lines = [line(header[:keep]), line(["-" * w for w in widths])]
    last = None
    for row in rows:
        lines.append(line([row[0] if row[0] != last else "", *row[1:]]))
        last = row[0]
    return "\n".join(lines)


def _p_range(values: Sequence[float | None]) -> str:
    known = [v for v in values if v is not None]
    return f"[{fmt_p(min(known))}, {fmt_p(max(known))}]" if known else "–"


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


def verdict_lines(verdicts: Verdicts) -> str:
    """The null model, each calibrated threshold and the ARUC's interval, a line each."""
    null, ints = verdicts.null, verdicts.intervals
    lines = [f"p-value: P(M >= m) for an independent suspect, M ~ {null.fit} fit to the "
             f"{null.negatives} negatives' m of {null.n} (mean rate {null.mean:.3f}, "
             f"over-dispersion {null.rho:.3f}); emp. p = (1 + negatives at >= m) / "
             f"{null.negatives + 1}; a negative's p-values leave it out"]
    lines += [calibration_line(c) for c in verdicts.calibrations]
    aruc = ints.get("aruc") if ints is not None else None
    lines.append(f"ARUC 95 % interval [{aruc[0]:.2f}, {aruc[1]:.2f}]: bootstrap over the "
                 f"{null.n} points ({ints.reps} replicates)" if aruc is not None and ints
                 else f"ARUC 95 % interval: none ({NO_MATCHES})")
    return "\n".join(lines)


def calibration_line(c: Calibration) -> str:
    """``FPR 1 %: tau = 0.33, TPR 1.00 ...; held-out FPR ...``."""
    text = (f"FPR {c.fpr * 100:g} %: tau = {fmt_tau(c.tau)}, TPR {c.tpr:.2f} of "
            f"{c.positives} positives; held-out FPR ")
    held = []
    if c.fpr_lofo is not None:
        worst = max(c.by_family, key=lambda k: c.by_family[k])
        held.append(f"{c.fpr_lofo:.3f} leaving each of {len(c.by_family)} families out "
                    f"(worst {LABELS.get(worst, worst)} {c.by_family[worst]:.3f})")
    if c.fpr_random is not None:
        held.append(f"{c.fpr_random:.3f} over {c.splits} random splits")
    text += ", ".join(held) or "not measurable (one negative)"
    if not c.supported:
        text += (f"; {c.negatives} negatives are too few to support {c.fpr * 100:g} % on "
                 f"their own ({min_negatives(c.fpr)} needed): the threshold rests on the fit")
    return text


def report(record: Record) -> str:
    """The table and the summary; a record stored without verdicts gets its p-values and
    thresholds computed here from its matching rates (for display only)."""
    if record.verdicts is None and any(s.role == "negative" for s in record.suspects):
        record = assess(record)
    text = f"{matching_rate_table(record.suspects, record.setting.method_label)}\n\n" \
           f"{summary_lines(record)}"
    if record.verdicts is not None:
        text += f"\n{verdict_lines(record.verdicts)}"
    return text
