"""``verdicts-<dataset>`` (docs/verdicts.md): for each method and combo at its best setting, the
threshold calibrated at FPR 1 % and 5 % on the record's negatives and how it was made (the order
statistic, or the fit as a labelled extrapolation), the FPR it reached on held-out negatives
(leave one family out, with its interval and the same-architecture family's; random splits),
the TPR on the headline's positives with its interval, how many negatives it rests on and
whether they support the target FPR (docs/verdicts.md)."""

from __future__ import annotations

from collections.abc import Sequence

from ipguard.core.calibration import Calibration, min_negatives
from ipguard.core.methods import method_order
from ipguard.data import dataset_title
from ipguard.paper.base import COMBOS, Output, TableOut, method_varied, setting_text
from ipguard.paper.tables import Table, fmt, fmt_tau
from ipguard.results.record import Record
from ipguard.results.store import best_point
from ipguard.results.verdicts import verdicts_of

HEADER = ["Method", "Negatives", "FPR", "τ", "Held-out FPR (families)",
          "Held-out FPR (random)", "TPR", "Supported", "τ method", "FPR interval (families)",
          "Same architecture", "TPR interval"]


def verdicts_table(dataset: str, pool: Sequence[Record]) -> Output:
    """The table for one dataset from the records of its best-setting sweeps (``pool``)."""
    rows, data = [], []
    for method in sorted({r.method for r in pool}, key=method_order):
        others = method_varied(pool, method)
        for combo in COMBOS:
            point = best_point([r for r in pool if r.combo == combo], method=method)
            verdicts = verdicts_of(point.first) if point is not None else None
            if point is None or verdicts is None:
                continue
            label = setting_text(point, others=others)
            for i, c in enumerate(verdicts.calibrations):
                supported = "yes" if c.supported else f"no (< {min_negatives(c.fpr)})"
                same = c.same_arch
                rows.append([label if i == 0 else "", str(c.negatives) if i == 0 else "",
                             f"{c.fpr * 100:g} %", fmt_tau(c.tau), fmt(c.fpr_lofo, 3),
                             fmt(c.fpr_random, 3), fmt(c.tpr), supported, method_cell(c),
                             _range(c.fpr_lofo_interval, 3),
                             f"{same.k}/{same.n} {_range(same.interval, 3)}" if same else "–",
                             _range(c.tpr_interval)])
                data.append({"dataset": dataset, "method": method, "combo": combo,
                             "key": point.first.key, "null_fit": verdicts.null.fit,
                             "null_mean": verdicts.null.mean, "null_rho": verdicts.null.rho,
                             **c.to_json(), "by_family": None, "held_out": None,
                             "tpr_by_family": None, "tpr_interval": None,
                             "fpr_lofo_interval": None, **_flat(c)})
    if not rows:
        return Output()
    table = Table(f"Verdicts on {dataset_title(dataset)}: thresholds calibrated to a "
                  "false-positive rate", HEADER, rows, data, notes=[
                      "Each method and combo at its best setting (lowest seed). τ: where the "
                      "negatives support the FPR (N >= 1/FPR - 1), one more than the k-th "
                      "largest negative's matching count, k = floor(FPR (N + 1)), which a fresh "
                      "negative like them reaches with probability <= FPR (τ method: "
                      "'empirical'); otherwise the smallest matching rate an independent model "
                      "reaches with probability <= FPR under the beta-binomial fitted to the "
                      "record's negatives, an extrapolation ('fit, extrapolated'). Held-out "
                      "FPR: the fraction of negatives at >= the τ made by the same rule without "
                      "them, leaving out each family in turn (with its 95 % Clopper-Pearson "
                      "interval, and the same-architecture family's k of n), and over random "
                      "splits (a quarter held out). TPR: the headline's positives at >= τ, with "
                      "its Clopper-Pearson interval. Supported: whether the negatives alone can "
                      "check that FPR (docs/verdicts.md)."])
    name = f"verdicts-{dataset}"
    return Output([TableOut(name, name, table)])


def method_cell(c: Calibration) -> str:
    """How τ was made, in a table cell: empirical, fit, or fit, extrapolated."""
    if c.tau_method is None:
        return "fit (not recorded)"
    if c.tau_method.startswith("empirical"):
        return "empirical"
    return "fit, extrapolated" if "extrapolation" in c.tau_method else "fit"


def _range(found: tuple[float, float] | None, digits: int = 2) -> str:
    return f"[{fmt(found[0], digits)}, {fmt(found[1], digits)}]" if found else "–"


def _flat(c: Calibration) -> dict[str, float | int | None]:
    """The CSV's flat columns: each family's held-out FPR with its interval, each attack
    family's TPR, and the intervals of the pooled ones."""
    out: dict[str, float | int | None] = {f"fpr_held_out_{k}": v for k, v in c.by_family.items()}
    for k, r in c.held_out.items():
        out |= {f"fpr_held_out_{k}_lo": r.lo, f"fpr_held_out_{k}_hi": r.hi,
                f"fpr_held_out_{k}_n": r.n}
    for k, r in c.tpr_by_family.items():
        out |= {f"tpr_{k}": r.value, f"tpr_{k}_lo": r.lo, f"tpr_{k}_hi": r.hi}
    for name, found in (("tpr", c.tpr_interval), ("fpr_lofo", c.fpr_lofo_interval)):
        out |= {f"{name}_lo": found[0] if found else None,
                f"{name}_hi": found[1] if found else None}
    return out
