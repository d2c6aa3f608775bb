"""The schemes table on a population makes every threshold on the validation negatives and
reads it on the test population: a held-out FPR counts test negatives above a τ the test
negatives did not set; the family rule raises τ to a close family's own order statistic
where that family supports the FPR; scores of any scale; "n/a" for what a probability scheme
cannot query."""

from __future__ import annotations

import math

import pytest

from ipguard.core.metrics import aruc, score
from ipguard.paper.schemes_population import on_population, schemes_population_table
from ipguard.paper.schemes_table import operating
from ipguard.results.record import Extraction, Provenance, Record, SchemeRun, SuspectResult
from ipguard.results.setting import Setting

SAC = SchemeRun("sac_w", "SAC-w", "prob", False, 100)


def _s(name: str, role: str, kind: str, value: float, part: str, na: bool = False,
       headline: bool = True) -> SuspectResult:
    return SuspectResult(name=name, role=role, kind=kind, arch="small_cnn", seed=0,
                         matching_rate=math.nan if na else value, in_default_selection=headline,
                         not_applicable="needs probabilities" if na else None, part=part)


def _record(method: str, target_part: str, val: list[float], test: list[float],
            positives: dict[str, list[float]], scheme: SchemeRun | None = None) -> Record:
    na = scheme is not None and scheme.access == "prob"
    suspects = [
        *(_s(f"{kind}-{i}", "positive", kind, v, target_part, headline=kind == "ftll")
          for kind, values in positives.items() for i, v in enumerate(values)),
        *(_s(f"same_arch-v{i}", "negative", "same_arch", v, "validation")
          for i, v in enumerate(val)),
        *(_s(f"same_arch-t{i}", "negative", "same_arch", v, "test") for i, v in enumerate(test)),
        _s("forest-t0", "negative", "forest", 0.0, "test", na=na)]
    rate = scheme is None or scheme.score_is_rate
    pos = [s.matching_rate for s in suspects if s.role == "positive" and s.in_default_selection]
    neg = [s.matching_rate for s in suspects if s.headline_negative and s.scored]
    return Record(Setting("digits", method, {}, "train", "least_likely", n=20),
                  score(pos, neg) if rate else None, 1.0, suspects, Extraction(seconds=1.5),
                  provenance=Provenance(population_target=0 if target_part == "validation"
                                        else 5000, population_part=target_part),
                  scheme=scheme)


def test_the_family_rule_raises_tau_to_a_close_familys_own_order_statistic():
    far, close = [0.1] * 150, [0.5 + i / 1000 for i in range(100)]   # 250 pooled: k = 2
    pooled = operating(far + close, 0.01)
    assert pooled.tau == pytest.approx(0.598)                  # 2nd largest of all
    raised = operating(far + close, 0.01, ["forest"] * 150 + ["same_arch"] * 100)
    assert raised.tau == pytest.approx(0.599)                  # the close family's 1st largest
    assert "raised to the order statistic of same_arch (100)" in raised.method
    few = operating([0.2, 0.3], 0.01, ["same_arch", "lenet"])
    assert not few.supported and few.tau == 0.3


def test_thresholds_come_from_validation_and_fprs_from_test():
    val = [i / 100 for i in range(20)]          # 20 validation negatives: 5 % -> k = 1
    test = [0.05, 0.18, 0.19, 0.5]             # above the largest validation one: 0.5 only
    positives = {"ftll": [0.9, 0.95], "distill": [0.1, 0.6]}
    records = [_record("ipguard", "validation", [0.0] * 20, [0.0] * 4, positives),
               _record("ipguard", "test", val, test, positives)]
    rep = on_population(records)
    assert rep.test_targets == 1
    same = rep.families["negative:same_arch"]
    assert same.rate(0.05).k == 1 and same.rate(0.05).n == 4         # 0.5 > τ = 0.19
    assert rep.families["distill"].rate(0.05).k == 1                # 0.6 only
    assert rep.families["headline"].rate(0.05).k == 2
    assert rep.tau_methods[0.05] == ["empirical order statistic of 20 negatives"]
    assert "too few for 1 %" in rep.tau_methods[0.01][0]
    # had τ been made on the test negatives (all four below 0.6), FPR at 5 % would read 0
    moved = on_population([_record("ipguard", "test", test * 5, test, positives)])
    assert moved.families["negative:same_arch"].rate(0.05).k == 0


def test_the_table_reads_similarities_and_says_na():
    positives = {"ftll": [0.99, 0.98], "distill": [0.97]}
    val, test = [0.9 + i / 1000 for i in range(20)], [0.91, 0.95]
    records = [_record("sac_w", part, val, test, positives, SAC)
               for part in ("validation", "test")]
    records += [_record("ipguard", part, [0.1] * 20, [0.2, 0.3], {"ftll": [0.9, 0.8]})
                for part in ("validation", "test")]
    out = schemes_population_table("digits", records)
    table, figure = out.items
    assert table.stem == "schemes-population-digits" and figure.stem == table.stem
    titles = [row[0] for row in table.table.rows if row[0]]
    assert titles == ["IPGuard-TL", "SAC-w"]
    rows = {(d["scheme"], d["family"]): d for d in table.table.data}
    assert rows[("sac_w", "negative:forest")]["not_applicable"] == 1
    assert rows[("sac_w", "headline")]["aruc"] is None
    # Eq. 7 on the test part: the headline positives against the test paper negatives
    assert rows[("ipguard", "headline")]["aruc"] == pytest.approx(aruc([0.9, 0.8],
                                                                       [0.2, 0.3, 0.0]))
    assert rows[("sac_w", "negative:same_arch")]["fpr5"] == 0.5    # 0.95 above τ = 0.919
    assert rows[("sac_w", "distill")]["tpr5"] == 1.0
