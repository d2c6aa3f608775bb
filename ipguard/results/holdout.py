"""A zoo's suspects split into a validation half and a test half (docs/results.md#seeds), so
that a setting chosen on one is reported on the other: the paper chooses each method's best
setting on the very zoo it reports (Tables 4-8 keep that, as the paper's protocol), which
flatters the reported number; the seeds table chooses on validation and reports on test.

The split is by family (each positive kind, each negative family: about half of each, at
least one on each side of a family of two or more), seeded, and a function of the suspects'
names and kinds alone, so every record of one zoo splits the same way. A population's records
carry their own parts (``SuspectResult.part``) and are split by those."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from ipguard.core.metrics import aruc, score
from ipguard.core.validation import split_by_family
from ipguard.results.record import Record, SuspectResult

SPLIT_SEED = 0   # the one split of every zoo's suspects
PARTS = ("validation", "test")


def suspect_parts(suspects: Sequence[SuspectResult], seed: int = SPLIT_SEED) -> dict[str, str]:
    """Each suspect's part by name: its own where it has one, else the seeded split of its
    family (role and kind) in name order."""
    if suspects and all(s.part is not None for s in suspects):
        return {s.name: str(s.part) for s in suspects}
    ordered = sorted(suspects, key=lambda s: (s.role, s.kind, s.name))
    test = split_by_family([f"{s.role}/{s.kind}" for s in ordered], 0.5, seed)
    return {s.name: PARTS[int(t)] for s, t in zip(ordered, test, strict=True)}


def part_rates(record: Record, part: str) -> tuple[list[float], list[float]]:
    """The matching rates of the headline positives and of the headline negatives of one
    part."""
    parts = suspect_parts(record.suspects)
    mine = [s for s in record.suspects if parts[s.name] == part]
    return ([s.matching_rate for s in mine if s.role == "positive" and s.in_default_selection],
            [s.matching_rate for s in mine if s.headline_negative])


def part_aruc(record: Record, part: str) -> float:
    """The ARUC (Eq. 7, the record's r) of the headline positives against the headline
    negatives of one part; NaN where the part lacks either."""
    pos, neg = part_rates(record, part)
    return aruc(pos, neg, record.setting.r) if pos and neg else math.nan


def restricted(record: Record, part: str) -> Record:
    """``record`` with only the suspects of one part, its headline scores recomputed there."""
    parts = suspect_parts(record.suspects)
    pos, neg = part_rates(record, part)
    return dataclasses.replace(record, verdicts=None, headline=score(pos, neg, r=record.setting.r),
                               suspects=[s for s in record.suspects if parts[s.name] == part])


def aruc_on_validation(record: Record) -> float:
    """The ARUC a setting is chosen by (``store.choose_on=validation``)."""
    return part_aruc(record, "validation")


def aruc_on_test(record: Record) -> float:
    """The ARUC a setting chosen on validation is reported with."""
    return part_aruc(record, "test")


def mean_of(records: Sequence[Record], part: str) -> float:
    values = [part_aruc(r, part) for r in records]
    return float(np.mean(values)) if values else math.nan
