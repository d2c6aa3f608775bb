"""What the bench prints: the matching-rate table as the paper prints it (Table 5: positives
one row each, negatives as [min, max] per family) with each suspect's p-value, and the scores
under it: the ARUC with its 95 % interval, where the area goes, and the thresholds calibrated
at FPR 1 % and 5 %, each saying how it was made and what held-out negatives it let through
(docs/verdicts.md)."""

from __future__ import annotations

from collections.abc import Sequence

from ipguard.core.calibration import Calibration, Verdicts
from ipguard.core.thresholds import fpr_text, unsupported_text
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
    """The null model, each calibrated threshold, the ROC-AUC and the ARUC's interval (with
    the level that dominates it), a line each."""
    null, ints, hier = verdicts.null, verdicts.intervals, verdicts.hierarchical
    lines = [f"p-value: P(M >= m) for an independent suspect, M ~ {null.fit} fit to the "
             f"{null.negatives} negatives' m of {null.n} (mean rate {null.mean:.3f}, "
             f"over-dispersion {null.rho:.3f}); emp. p = (1 + negatives at >= m) / "
             f"{null.negatives + 1}; a negative's p-values leave it out"]
    lines += [calibration_line(c) for c in verdicts.calibrations]
    if verdicts.auc:
        families = ", ".join(f"{LABELS.get(k, k)} {v:.2f}" for k, v in verdicts.auc.items()
                             if k != "all")
        lines.append(f"ROC-AUC {verdicts.auc.get('all', float('nan')):.2f} (headline positives "
                     f"against the {null.negatives} negatives, ties half); per family: "
                     f"{families}")
    found = hier.get("aruc") if hier is not None else None
    points = ints.get("aruc") if ints is not None else None
    if found is not None and hier is not None:
        parts = ", ".join(f"{k} {v:.2g}" for k, v in hier.variances.get("aruc", {}).items())
        text = (f"ARUC 95 % interval [{found[0]:.2f}, {found[1]:.2f}]: bootstrap over "
                f"{hier.over} ({hier.reps} replicates)")
        if parts:
            text += f"; variance with each level alone: {parts} ({hier.dominant()} dominate)"
        if points is not None:
            text += f"; over the {null.n} points alone [{points[0]:.2f}, {points[1]:.2f}]"
        lines.append(text)
    elif points is not None and ints is not None:
        lines.append(f"ARUC 95 % interval [{points[0]:.2f}, {points[1]:.2f}]: bootstrap over "
                     f"the {null.n} points ({ints.reps} replicates)")
    else:
        lines.append(f"ARUC 95 % interval: none ({NO_MATCHES})")
    return "\n".join(lines)


def calibration_line(c: Calibration) -> str:
    """``FPR 1 %: tau = 0.33 (how it was made), TPR 1.00 [lo, hi] ...; held-out FPR ... per
    family with its interval``, and in words when the negatives cannot support the FPR."""
    method = c.tau_method or "beta-binomial fit (stored before the method was recorded)"
    tpr = f" [{c.tpr_interval[0]:.2f}, {c.tpr_interval[1]:.2f}]" if c.tpr_interval else ""
    text = (f"FPR {fpr_text(c.fpr)}: tau = {fmt_tau(c.tau)} from the {method}, "
            f"TPR {c.tpr:.2f}{tpr} of {c.positives} positives; held-out FPR ")
    held = []
    if c.fpr_lofo is not None:
        pooled = (f" [{c.fpr_lofo_interval[0]:.3f}, {c.fpr_lofo_interval[1]:.3f}]"
                  if c.fpr_lofo_interval else "")
        families = ", ".join(
            f"{LABELS.get(k, k)} {r.k}/{r.n} [{r.lo:.3f}, {r.hi:.3f}]"
            for k, r in c.held_out.items()) or ", ".join(
            f"{LABELS.get(k, k)} {v:.3f}" for k, v in c.by_family.items())
        held.append(f"{c.fpr_lofo:.3f}{pooled} leaving each of {len(c.by_family)} families "
                    f"out ({families})")
    if c.fpr_random is not None:
        held.append(f"{c.fpr_random:.3f} over {c.splits} random splits")
    text += ", ".join(held) or "not measurable (one negative)"
    if not c.supported:
        text += f"; {unsupported_text(c.negatives, c.fpr, c.tau_method)}"
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
