"""``seeds-<dataset>`` (sweeps/seeds.yaml): every method and combo at its own best setting, over the
seeds the ``seeds`` sweep ran (0-4 by default): the ARUC as mean ± standard deviation with its
95 % interval, and where it goes (Eq. 7 = mean positive - mean negative when the sets
separate): the mean positive and negative matching rates, each mean ± sd over the seeds.

The setting of each combo is chosen on the figure sweeps (seed 0) by the ARUC on the
validation half of the zoo's suspects (``ipguard.results.holdout``), then rerun with other
seeds; every number of the table is on the other, test half, so none is chosen on what it is
reported with, and the spread is that of the fingerprint's random draws, not of the choice.
Records of a sweep that chose on every suspect (``store.choose_on=all``) are reported on every
suspect, as before, and the notes say which."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from ipguard.core.methods import method_order
from ipguard.data import dataset_title
from ipguard.paper.base import Output, TableOut, combo_rank, setting_text
from ipguard.paper.tables import Table, fmt_range
from ipguard.results.area import decompose
from ipguard.results.holdout import restricted
from ipguard.results.record import Record
from ipguard.results.store import group_points
from ipguard.results.verdicts import ARUC_INTERVAL, aruc_interval

HEADER = ["Method", "Seeds", "ARUC mean ± sd", "95 % interval", "Positives mean ± sd",
          "Negatives mean ± sd", "Separated"]


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the sample standard deviation (0 for a single value)."""
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def fmt_mean_sd(mean_and_sd: tuple[float, float], digits: int = 3) -> str:
    mean, sd = mean_and_sd
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def seeds_table(dataset: str, pool: Sequence[Record], intervals: bool = True) -> Output:
    """The table for one dataset from the records of the seeds sweep (``pool``); a setting
    rerun with one seed only is shown with sd 0 and counted in the Seeds column."""
    points = sorted(group_points(pool), key=lambda p: (method_order(p.method),
                                                         combo_rank(p.combo), p.first.key))
    if not points:
        return Output()
    rows, data = [], []
    held_out = any(_chosen_on_validation(r) for r in pool)
    for point in points:
        records = sorted((restricted(r, "test") if held_out else r for r in point.records),
                         key=lambda r: r.setting.seed)
        arucs = [r.aruc for r in records]
        parts = [decompose(r.suspects) for r in records]
        pos, neg = [d.positives for d in parts], [d.negatives for d in parts]
        found, over = aruc_interval(records) if intervals else (None, "")
        separated = sum(d.separated for d in parts)
        mean, sd = mean_sd(arucs)
        shown = [fmt_range(found) if found else "–"] if intervals else []
        rows.append([setting_text(point), str(len(records)), fmt_mean_sd((mean, sd)), *shown,
                     fmt_mean_sd(mean_sd(pos), 2), fmt_mean_sd(mean_sd(neg), 2),
                     f"{separated}/{len(records)}"])
        data.append({"dataset": dataset, "method": point.method, "combo": point.combo,
                     "param": point.param, "value": point.value, "key": point.first.key,
                     "seeds": [r.setting.seed for r in records], "arucs": arucs,
                     "aruc_mean": mean, "aruc_sd": sd,
                     "aruc_lo": found[0] if found else None,
                     "aruc_hi": found[1] if found else None, "interval_over": over,
                     "positives_mean": statistics.fmean(pos),
                     "negatives_mean": statistics.fmean(neg), "separated": separated})
    chosen = ("by the ARUC on the validation half of the zoo's suspects (each family split "
              "in two, seeded), every number here on the test half" if held_out else
              "by the ARUC on every suspect (the paper's protocol: the numbers here are on the "
              "suspects they were chosen on)")
    notes = ["Each method and combo at its own best setting, chosen on the figure sweeps "
             f"(seed 0) {chosen}, then rerun with every seed of the seeds sweep (`python -m "
             "ipguard.bench -m sweep=seeds`). ± is the sample standard deviation over seeds.",
             "Positives / negatives: the mean matching rate of the headline's positives and of "
             "the paper's negatives; their difference is the ARUC (n = r) when every positive "
             "matches more than every negative (Separated: in how many seeds)."]
    if intervals:
        notes.append(f"95 % interval of the mean ARUC: {ARUC_INTERVAL}.")
    table = Table(f"Every method and combo over seeds on {dataset_title(dataset)}",
                  HEADER if intervals else [h for h in HEADER if h != "95 % interval"],
                  rows, data, notes=notes)
    name = f"seeds-{dataset}"
    return Output([TableOut(name, name, table)])


def _chosen_on_validation(record: Record) -> bool:
    store = record.provenance.config.get("store") or {}
    return store.get("choose_on") == "validation"
