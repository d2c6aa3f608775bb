"""Table 8: seconds to extract the fingerprint, each method at its best setting, from the records
of the ``table8`` sweep (mean over seeds) where it ran, else from the sweep record's own timing.
A method that is a variant of another (IPGuard one point at a time, ``tuned_as`` IPGuard) gets
its row after the paper's methods and a note with its ratio to the method it varies: the gain
of batching."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ipguard.core.methods import method_class, method_order, paper_name
from ipguard.data import dataset_title
from ipguard.paper.base import Output, Results, TableOut, best_by_method
from ipguard.paper.tables import Table
from ipguard.results.record import Record


def seconds_table(results: Results, best_from: Sequence[str], sweep: str) -> Output:
    """``table8``: a row per method (the methods with a best setting, and those the timing
    sweep ran), a column per dataset."""
    best = {ds: best_by_method(results.of(ds, best_from)) for ds in results.datasets}
    timed = {ds: results.of(ds, [sweep]) for ds in results.datasets}
    methods = sorted({m for ds in results.datasets for m in best[ds]}
                     | {r.method for ds in results.datasets for r in timed[ds]},
                     key=method_order)
    if not methods:
        return Output()
    rows, data, fallback = [], [], []
    means: dict[tuple[str, str], float] = {}
    for method in methods:
        row = [paper_name(method)]
        for ds in results.datasets:
            mine = [r for r in timed[ds] if r.method == method]
            if not mine and method in best[ds]:
                mine = best[ds][method].records
                fallback.append(f"{paper_name(method)} on {dataset_title(ds)}")
            seconds = [r.extraction.seconds for r in mine if not math.isnan(r.extraction.seconds)]
            if not seconds:
                row.append("–")
                continue
            mean = means[method, ds] = sum(seconds) / len(seconds)
            row.append(f"{mean:.3g}" + (f" (±{_spread(seconds)})" if len(seconds) > 1 else ""))
            data.append(_row(ds, method, seconds, mine))
        rows.append(row)
    notes = ["Seconds to find the n fingerprinting points, each method at its best setting "
             "(mean over seeds, ± half the range)."]
    if fallback:
        which = "any method" if len(fallback) == sum(len(best[ds]) for ds in best) \
            else ", ".join(fallback)
        notes.append(f"No {sweep} sweep for {which}: timed during the parameter sweeps (run "
                     f"`sweep={sweep}` for quiet timings).")
    notes += _gains(methods, results.datasets, means, data)
    table = Table("Table 8: running time (seconds) of generating the fingerprint",
                  ["Method", *(dataset_title(ds) for ds in results.datasets)], rows, data, notes)
    return Output([TableOut("table8", "table8", table)])


def _row(dataset: str, method: str, seconds: Sequence[float], timed: Sequence[Record]) -> dict:
    first = timed[0].setting
    devices = sorted({str(r.extraction.device or _config_device(r)) for r in timed})
    return {"dataset": dataset, "method": method, "seconds_mean": sum(seconds) / len(seconds),
            "seconds_min": min(seconds), "seconds_max": max(seconds), "runs": len(seconds),
            "n": first.n, "device": ",".join(devices), "combo": first.combo,
            "param": first.swept, "value": first.value}


def _config_device(record: Record) -> str | None:
    """The device the bench config named (records rebuilt from W&B carry no extraction
    device)."""
    config = record.provenance.config
    return config["device"] if "device" in config else None


def _gains(methods: Sequence[str], datasets: Sequence[str],
           means: dict[tuple[str, str], float], data: list[dict]) -> list[str]:
    """A note per variant with its seconds over those of the method it varies (one point at a
    time over batched: the batching gain), where both rows have a time; the CSV row of the
    variant gets the ratio as ``gain``."""
    notes = []
    for variant in methods:
        cls = method_class(variant)
        base = cls.tuning_name() if cls is not None else variant
        ratios = [(ds, means[variant, ds] / means[base, ds]) for ds in datasets
                  if base != variant and (variant, ds) in means and (base, ds) in means
                  and means[base, ds] > 0]
        for ds, ratio in ratios:
            next(r for r in data if r["dataset"] == ds and r["method"] == variant)["gain"] = ratio
        if ratios:
            shown = ", ".join(f"{ratio:.3g}x on {dataset_title(ds)}" for ds, ratio in ratios)
            notes.append(f"Batching gain, {paper_name(variant)} seconds over "
                         f"{paper_name(base)} seconds at the same setting: {shown}.")
    return notes


def _spread(values: Sequence[float]) -> str:
    return f"{(max(values) - min(values)) / 2:.2g}"
