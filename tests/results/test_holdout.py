"""Choosing on validation, reporting on test (ipguard.results.holdout): a zoo's suspects split
once by family into two halves, the best setting chosen by the validation half's ARUC, and the
seeds table reporting the test half when its sweep chose so."""

from __future__ import annotations

import numpy as np
import pytest

from ipguard.core.intervals import as_text
from ipguard.core.metrics import aruc, score
from ipguard.paper.seeds_table import seeds_table
from ipguard.results.holdout import aruc_on_test, aruc_on_validation, suspect_parts
from ipguard.results.record import Extraction, Provenance, Record, Setting, SuspectResult
from ipguard.results.store import best_point

N = 20


def _suspect(name: str, role: str, kind: str, rate: float) -> SuspectResult:
    hits = np.arange(N) < round(rate * N)
    return SuspectResult(name, role, kind, "cnn", 0, float(hits.mean()), matches=as_text(hits))


def _record(k: float, rates: dict[str, float], choose_on: str = "validation",
            seed: int = 0) -> Record:
    """Positives ftll-0..3 and negatives same_arch-0..3 with the given rates by name."""
    suspects = [_suspect(name, "positive" if name.startswith("ftll") else "negative",
                         name.split("-")[0], rate) for name, rate in rates.items()]
    pos = [s.matching_rate for s in suspects if s.role == "positive"]
    neg = [s.matching_rate for s in suspects if s.role == "negative"]
    return Record(Setting("digits", "ipguard", {"k": k}, "train", "least_likely", n=N,
                          seed=seed, r=N),
                  score(pos, neg, r=N), 1.0, suspects, Extraction(1.0),
                  provenance=Provenance(sweep="fig6",
                                        config={"store": {"choose_on": choose_on}}))


NAMES = [f"ftll-{i}" for i in range(4)] + [f"same_arch-{i}" for i in range(4)]


def test_each_family_is_split_in_two_the_same_way_every_time():
    suspects = [_suspect(n, "positive" if n.startswith("ftll") else "negative",
                         n.split("-")[0], 0.5) for n in NAMES]
    parts = suspect_parts(suspects)
    assert parts == suspect_parts(list(reversed(suspects)))
    for family in ("ftll", "same_arch"):
        mine = [parts[n] for n in NAMES if n.startswith(family)]
        assert sorted(mine) == ["test", "test", "validation", "validation"]
    marked = [SuspectResult(**{**s.__dict__, "part": "test"}) for s in suspects]
    assert set(suspect_parts(marked).values()) == {"test"}   # a population's own parts


def test_the_setting_is_chosen_on_validation_and_reported_on_test():
    parts = suspect_parts([_suspect(n, "positive" if n.startswith("ftll") else "negative",
                                    n.split("-")[0], 0.5) for n in NAMES])
    # k=1 wins on every suspect because its test half is lucky; k=2 wins on validation
    lucky = {n: (0.95 if n.startswith("ftll") else 0.05) if parts[n] == "test"
             else (0.6 if n.startswith("ftll") else 0.4) for n in NAMES}
    steady = {n: 0.75 if n.startswith("ftll") else 0.25 for n in NAMES}
    a, b = _record(1.0, lucky), _record(2.0, steady)
    assert a.aruc > b.aruc and aruc_on_validation(b) > aruc_on_validation(a)
    assert best_point([a, b]).setting.params == {"k": 1.0}          # the paper's protocol
    chosen = best_point([a, b], score=aruc_on_validation)
    assert chosen.setting.params == {"k": 2.0}
    test_rates = [lucky, steady][1]
    expected = aruc([v for n, v in test_rates.items() if parts[n] == "test" and
                     n.startswith("ftll")],
                    [v for n, v in test_rates.items() if parts[n] == "test" and
                     n.startswith("same")], N)
    assert aruc_on_test(b) == pytest.approx(expected)


def test_the_seeds_table_reports_the_test_half_when_its_sweep_chose_on_validation():
    rates = {n: (0.8 if n.startswith("ftll") else 0.2) + 0.05 * i for i, n in enumerate(NAMES)}
    held = [_record(3.0, rates, "validation", seed) for seed in (0, 1)]
    (table,) = seeds_table("digits", held).items
    assert table.table.data[0]["aruc_mean"] == pytest.approx(aruc_on_test(held[0]))
    assert "test half" in table.table.notes[0]
    (paper,) = seeds_table("digits", [_record(3.0, rates, "all")]).items
    assert paper.table.data[0]["aruc_mean"] == pytest.approx(_record(3.0, rates).aruc)
    assert "every suspect" in paper.table.notes[0]
