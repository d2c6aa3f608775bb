"""The seeds table (``seeds-<dataset>``, sweeps/seeds.yaml): each method and combo at its own best
setting over seeds, the ARUC as mean ± sample sd and where it goes (mean positive and negative
matching rates), from the records of the seeds sweep."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from ipguard.core.intervals import as_text
from ipguard.core.metrics import score
from ipguard.paper.seeds_table import seeds_table
from ipguard.results.record import Extraction, Provenance, Record, Setting, SuspectResult


def _record(seed: int, combo: tuple[str, str], pos: float, neg: float) -> Record:
    """A record whose 4 positives match ``pos`` and 4 negatives ``neg`` of n = 20 points."""
    n = 20
    suspects = []
    for i, (role, rate) in enumerate([("positive", pos)] * 4 + [("negative", neg)] * 4):
        hits = np.arange(n) < round(rate * n)
        suspects.append(SuspectResult(f"{role}-{i}", role, "ftll" if role == "positive"
                                      else "same_arch", "cnn", i, float(hits.mean()),
                                      matches=as_text(hits)))
    p = [s.matching_rate for s in suspects if s.role == "positive"]
    q = [s.matching_rate for s in suspects if s.role == "negative"]
    return Record(Setting("digits", "ipguard", {"k": 3.0}, *combo, n=n, seed=seed, r=n),
                  score(p, q, r=n), 1.0, suspects, Extraction(1.0),
                  provenance=Provenance(sweep="seeds"))


def test_mean_and_spread_over_seeds_with_the_decomposition():
    tl = [_record(s, ("train", "least_likely"), pos, 0.1)
          for s, pos in enumerate([0.9, 0.95, 1.0])]
    rr = [_record(0, ("random", "random"), 0.5, 0.2)]
    out = seeds_table("digits", [*rr, *tl])
    (table,) = [t.table for t in out.items]
    first, second = table.data          # the paper's combo order: -TL before -RR
    arucs = [r.aruc for r in tl]
    assert first["combo"] == "-TL" and first["seeds"] == [0, 1, 2]
    assert first["aruc_mean"] == pytest.approx(statistics.fmean(arucs))
    assert first["aruc_sd"] == pytest.approx(statistics.stdev(arucs))
    # separated sets: Eq. 7 is the difference of the means (n = r)
    assert first["aruc_mean"] == pytest.approx(first["positives_mean"] - first["negatives_mean"])
    assert first["positives_mean"] == pytest.approx(0.95) and first["separated"] == 3
    assert first["aruc_lo"] <= first["aruc_mean"] <= first["aruc_hi"]
    assert second["combo"] == "-RR" and second["aruc_sd"] == 0.0
    assert table.rows[0][2] == f"{first['aruc_mean']:.3f} ± {first['aruc_sd']:.3f}"
    assert table.rows[0][-1] == "3/3"


def test_no_records_no_table():
    assert seeds_table("digits", []).items == []
