"""``verdicts-<dataset>`` (docs/verdicts.md): for each method and combo at its best setting, the
threshold calibrated at FPR 1 % and 5 % on the record's negatives, the FPR it reached on held-out
negatives (leave one family out; random splits), the TPR on the headline's positives, how many
negatives it rests on and whether they support the target FPR (docs/verdicts.md)."""

from __future__ import annotations

from collections.abc import Sequence

from ipguard.core.calibration import min_negatives
from ipguard.core.methods import method_order
from ipguard.data import dataset_title
from ipguard.paper.base import COMBOS, Output, TableOut, method_varied, setting_text
from ipguard.paper.tables import Table, fmt, fmt_tau
from ipguard.results.record import Record
from ipguard.results.store import best_point
from ipguard.results.verdicts import verdicts_of

HEADER = ["Method", "Negatives", "FPR", "τ", "Held-out FPR (families)",
          "Held-out FPR (random)", "TPR", "Supported"]


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
                rows.append([label if i == 0 else "", str(c.negatives) if i == 0 else "",
                             f"{c.fpr * 100:g} %", fmt_tau(c.tau), fmt(c.fpr_lofo, 3),
                             fmt(c.fpr_random, 3), fmt(c.tpr), supported])
                data.append({"dataset": dataset, "method": method, "combo": combo,
                             "key": point.first.key, "null_fit": verdicts.null.fit,
                             "null_mean": verdicts.null.mean, "null_rho": verdicts.null.rho,
                             **c.to_json(), "by_family": None,
                             **{f"fpr_held_out_{k}": v for k, v in c.by_family.items()}})
    if not rows:
        return Output()
    table = Table(f"Verdicts on {dataset_title(dataset)}: thresholds calibrated to a "
                  "false-positive rate", HEADER, rows, data, notes=[
                      "Each method and combo at its best setting (lowest seed). τ: the smallest "
                      "matching rate an independent model reaches with probability <= FPR under "
                      "the beta-binomial fitted to all the record's negatives. Held-out FPR: the "
                      "fraction of negatives at >= the τ fitted without them, leaving out each "
                      "family in turn, and over random splits (a quarter held out). TPR: the "
                      "headline's positives at >= τ. Supported: whether the negatives alone can "
                      "check that FPR (N >= 1/FPR - 1); otherwise τ rests on the fitted tail "
                      "(docs/verdicts.md)."])
    name = f"verdicts-{dataset}"
    return Output([TableOut(name, name, table)])
