"""A verdict with an error rate (ipguard.core.calibration, ipguard.results.verdicts;
docs/verdicts.md).

- The p-value is exact under its model: P(p <= alpha) = alpha at every level the model can
  reach, and <= alpha between them.
- Fitted to 300 negatives drawn from a known null, the p-values of fresh null suspects are
  uniform: KS distance < 0.08 (the atoms of M, ~0.035 at n = 200, and 4,000 draws' noise) and
  P(p <= alpha) within 1.2, 2.5, 3.5, 5 and 6 points of alpha = 1, 5, 10, 25, 50 %; the same for
  the empirical p-value. A binomial fit (no over-dispersion) fails it by 10+ points.
- Thresholds: on a null with 300 negatives the held-out FPR is near its target; a family that
  matches more than the others shows in the leave-one-family-out FPR; the number of negatives
  that supports a target is 1/FPR - 1.
- τ is the order statistic where the negatives support the FPR, else the fit labelled an
  extrapolation; cross-validation applies the same rule to each training part (each family's
  held-out k of n and its Clopper-Pearson interval checked by hand); attack families' TPRs.
- Verify's result carries the p-value and a ``Verdict`` at an FPR: its decision, τ and how it
  was made, whether the negatives support the rate (in words when not), the Clopper-Pearson
  interval of their share at >= τ; ``bool(verdict)`` raises, so old ``if v.verdict():`` fails.
- A record keeps the matches, p-values and verdicts through JSON, its ARUC interval is the
  hierarchical one (suspects within family and points, wider than the points' alone) with the
  dominant level printed, W&B gets the new keys; a record of schema 1 (or of schema 2 written
  before records carried per-point matches), and verdicts stored before τ said how it was
  made, still read and report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import betabinom, binom, kstest

from ipguard import verify
from ipguard.app.report import report, verdict_lines
from ipguard.core.calibration import (
    Calibration,
    NullModel,
    Verdicts,
    calibrate,
    fit_null,
    min_negatives,
)
from ipguard.core.fingerprint import Fingerprint
from ipguard.core.intervals import as_text
from ipguard.core.metrics import score
from ipguard.core.thresholds import Rate, threshold
from ipguard.paper.stealing_table import scores
from ipguard.results.record import Extraction, Record, Setting, SuspectResult
from ipguard.results.store import read_records_dir
from ipguard.results.verdicts import assess, interval_of, verdicts_of, wandb_summary

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "figures_v1" / "results" / "digits"
LEVELS = {0.01: 0.012, 0.05: 0.025, 0.1: 0.035, 0.25: 0.05, 0.5: 0.06}


def _shape(mean: float, rho: float) -> tuple[float, float]:
    s = (1 - rho) / rho
    return mean * s, (1 - mean) * s


@pytest.mark.parametrize("rho", [0.0, 0.1])
def test_the_p_value_is_exact_under_its_model(rho):
    n, mean = 30, 0.2
    null = NullModel(n, mean, rho, (0,))
    m = np.arange(n + 1)
    pmf = betabinom.pmf(m, n, *_shape(mean, rho)) if rho else binom.pmf(m, n, mean)
    p = np.array([null.p_value(k) for k in m])
    for alpha in sorted(set(p)) + [0.01, 0.05]:
        assert pmf[p <= alpha].sum() <= alpha + 1e-12
        if alpha in p:  # a level the model reaches: exactly alpha
            assert pmf[p <= alpha].sum() == pytest.approx(alpha, rel=1e-9, abs=1e-15)
    assert null.p_value(0) == pytest.approx(1.0) and null.p_value(n + 1) == 0.0


def _uniformity(p: np.ndarray) -> None:
    assert kstest(p, "uniform").statistic < 0.08
    for alpha, tolerance in LEVELS.items():
        assert abs((p <= alpha).mean() - alpha) <= tolerance, (alpha, (p <= alpha).mean())


def test_p_values_of_independent_suspects_are_uniform():
    n, shape = 200, _shape(0.1, 0.03)
    rng = np.random.default_rng(0)
    null = fit_null(betabinom.rvs(n, *shape, size=300, random_state=rng), n)
    assert null.fit.startswith("beta-binomial") and 0.02 < null.rho < 0.04
    fresh = betabinom.rvs(n, *shape, size=4000, random_state=rng)
    _uniformity(np.array([null.p_value(m) for m in fresh]))
    _uniformity(np.array([null.p_value_empirical(m) for m in fresh]))
    binomial = NullModel(n, null.mean, 0.0, null.counts)  # ignores the spread between models
    assert (np.array([binomial.p_value(m) for m in fresh]) <= 0.01).mean() > 0.1


def test_the_fit_falls_back_to_the_binomial_where_it_must():
    assert fit_null([5] * 35, 100).fit == "binomial, maximum likelihood"  # under-dispersed
    nothing = fit_null([0] * 35, 100)  # no negative matched a point: Jeffreys, not p = 0
    assert nothing.fit == "binomial, Jeffreys estimate" and 0 < nothing.mean < 1e-3
    assert 0 < nothing.p_value(1) < 0.05 and nothing.p_value(0) == 1.0
    assert fit_null([12], 100).rho == 0.0
    with pytest.raises(ValueError):
        fit_null([], 100)
    with pytest.raises(ValueError):
        fit_null([101], 100)


def test_thresholds_reach_their_target_on_held_out_negatives():
    n, shape = 100, _shape(0.15, 0.03)
    rng = np.random.default_rng(1)
    neg = betabinom.rvs(n, *shape, size=300, random_state=rng)
    families = ["a", "b", "c"] * 100
    one, five = calibrate(neg, families, [90, 80, 20], n, splits=50)
    assert (one.fpr, five.fpr) == (0.01, 0.05) and one.tau > five.tau
    assert one.tau_method == "empirical order statistic of 300 negatives" == five.tau_method
    assert one.tau * n == np.sort(neg)[-3] + 1  # k = floor(0.01 * 301) = 3
    assert one.fpr_random <= 0.02 and 0.03 <= five.fpr_random <= 0.07
    assert five.fpr_lofo == pytest.approx(five.fpr_random, abs=0.03)  # families alike
    assert one.tpr == pytest.approx(2 / 3) and one.supported and one.negatives == 300
    fresh = betabinom.rvs(n, *shape, size=4000, random_state=rng)
    assert (fresh >= five.tau * n).mean() == pytest.approx(0.05, abs=0.02)


def test_a_family_unlike_the_others_shows_when_it_is_left_out():
    rng = np.random.default_rng(2)
    low = betabinom.rvs(100, *_shape(0.1, 0.01), size=30, random_state=rng)
    high = betabinom.rvs(100, *_shape(0.4, 0.01), size=10, random_state=rng)
    (cal,) = calibrate(np.r_[low, high], ["a"] * 15 + ["b"] * 15 + ["same"] * 10, [95], 100,
                       fprs=[0.05], splits=50)
    assert cal.by_family["same"] > 0.8 and cal.by_family["a"] < 0.2
    assert cal.fpr_lofo > cal.fpr_random + 0.1


def test_cross_validation_applies_the_rule_of_the_full_fit():
    rng = np.random.default_rng(5)
    neg = betabinom.rvs(100, *_shape(0.15, 0.05), size=240, random_state=rng)
    families = np.array(["a", "b", "same_arch"] * 80)
    for rule in ("auto", "fit"):
        (cal,) = calibrate(neg, families, [60, 10], 100, fprs=[0.01], splits=5, rule=rule,
                           attacks={"ftll": [60, 70], "distill": [10]})
        assert cal.rule == rule
        for kind in ("a", "b", "same_arch"):  # each family held out, tau by the same rule
            t = threshold(neg[families != kind], 100, 0.01, rule)
            false = int((neg[families == kind] >= t.count).sum())
            assert cal.held_out[kind] == Rate.of(false, 80)
            assert cal.by_family[kind] == false / 80
        assert cal.same_arch is cal.held_out["same_arch"]
        lo, hi = cal.fpr_lofo_interval
        assert lo <= cal.fpr_lofo <= hi
        assert cal.tpr_by_family["ftll"] == Rate.of(2, 2) and cal.tpr_by_family["distill"].k == 0
        assert cal.tpr_interval == Rate.of(1, 2).interval
        assert Calibration.from_json(json.loads(json.dumps(cal.to_json()))) == cal


def test_how_many_negatives_support_an_fpr():
    assert (min_negatives(0.01), min_negatives(0.05)) == (99, 19)
    (one, five) = calibrate([3] * 35, ["a"] * 35, [50], 100)
    assert not one.supported and five.supported
    assert one.tau_method == "binomial fit (extrapolation: 35 negatives cannot support 1 %)"
    assert five.tau_method == "empirical order statistic of 35 negatives"
    (one,) = calibrate([3] * 99, ["a"] * 99, [50], 100, fprs=[0.01], splits=5)
    assert one.supported and one.fpr_lofo is None  # one family: nothing to leave out


class _Fixed:
    """A suspect that answers fixed labels."""

    def __init__(self, labels: list[int]) -> None:
        self.labels = torch.tensor(labels)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.labels


def test_verify_carries_the_p_value_and_the_verdict_at_an_fpr():
    fp = Fingerprint(torch.zeros(10, 1, 2, 2), torch.arange(10) % 3)
    null = fit_null([1, 2, 0, 3, 1, 2, 1, 0, 2, 1], 10)
    plain = verify(fp, _Fixed([0, 1, 2, 0, 0, 0, 0, 0, 0, 0]))
    assert plain.matches == "1111001001" and plain.matched == 6 and plain.p_value is None
    with pytest.raises(ValueError, match="null model"):
        plain.verdict(0.01)
    pirate = verify(fp, _Fixed((torch.arange(10) % 3).tolist()), null=null)
    assert pirate.p_value == null.p_value(10) < 1e-4 and pirate.verdict(0.01).decision
    assert pirate.p_value_empirical == pytest.approx(1 / 11)
    assert not verify(fp, _Fixed([1] * 10), null=null).verdict(0.05).decision
    for m in range(11):  # 10 negatives support neither rate: the fit, "p-value <= FPR"
        v = verify(fp, _Fixed([int(y) if i < m else (int(y) + 1) % 3
                                for i, y in enumerate(fp.y)]), null=null)
        assert v.verdict(0.05).decision == (v.p_value <= 0.05)
    with pytest.raises(ValueError, match="n=10"):
        verify(Fingerprint(fp.x[:5], fp.y[:5]), _Fixed([0] * 5), null=null)


def test_a_verdict_says_what_it_rests_on_and_is_not_a_bool():
    fp = Fingerprint(torch.zeros(10, 1, 2, 2), torch.arange(10) % 3)
    pirate = verify(fp, _Fixed((torch.arange(10) % 3).tolist()),
                    null=fit_null([1, 2, 0, 3, 1, 2, 1, 0, 2, 1], 10))
    v = pirate.verdict(0.01)
    assert (v.decision, v.fpr, v.negatives, v.matched, v.n) == (True, 0.01, 10, 10, 10)
    assert not v.supported and v.p_value == pirate.p_value
    assert v.tau_method == "binomial fit (extrapolation: 10 negatives cannot support 1 %)"
    assert v.note == ("10 negatives are too few to support 1 % on their own (99 needed): τ is "
                      "a binomial extrapolation")  # they vary less than a binomial would
    # the negatives' share at >= tau (0 of 10) with its Clopper-Pearson interval
    assert v.fpr_interval == (0.0, pytest.approx(0.3085, abs=1e-4))
    with pytest.raises(TypeError, match="read verdict.decision"):
        bool(v)
    with pytest.raises(TypeError):
        if v:  # old code that read the bool verdict fails loudly
            pass
    counts = [1, 2, 0, 3, 1, 2, 1, 0, 2, 1] * 12  # 120 negatives support 1 %: no model
    five = verify(fp, _Fixed([int(y) if i < 4 else (int(y) + 1) % 3
                              for i, y in enumerate(fp.y)]), null=fit_null(counts, 10))
    v = five.verdict(0.01)
    assert v.supported and v.note is None and v.tau == 0.4 and v.decision
    assert v.tau_method == "empirical order statistic of 120 negatives"
    assert v.fpr_interval == (0.0, pytest.approx(0.0303, abs=1e-4))
    assert not five.verdict(0.01, rule="fit").tau_method.startswith("empirical")
    with pytest.raises(ValueError, match="cannot support"):
        pirate.verdict(0.01, rule="empirical")


def _record(seed: int = 0) -> Record:
    rng = np.random.default_rng(seed)
    suspects = []
    for i, (role, kind, p) in enumerate([("positive", "ftll", 0.95)] * 6
                                        + [("negative", "same_arch", 0.2)] * 8
                                        + [("negative", "forest", 0.1)] * 4):
        hits = rng.random(50) < p
        suspects.append(SuspectResult(f"{kind}-{i}", role, kind, "cnn", i, hits.mean(),
                                      matches=as_text(hits)))
    pos = [s.matching_rate for s in suspects if s.role == "positive"]
    neg = [s.matching_rate for s in suspects if s.role == "negative"]
    return Record(Setting("digits", "ipguard", {"k": 3.0}, "train", "least_likely", n=50),
                  score(pos, neg), 1.0, suspects,
                  Extraction(1.0, success_rate=1.0, mean_l2=0.5, mean_iterations=3.0))


def test_a_record_keeps_its_verdicts_through_json():
    record = assess(_record(), reps=200)
    v = record.verdicts
    assert v is not None and v.null.negatives == 12 and [c.fpr for c in v.calibrations] == \
        [0.01, 0.05]
    lo, hi = v.intervals.get("aruc")
    assert lo <= record.aruc <= hi and v.intervals.reps == 200
    assert all(s.p_value is not None and s.p_value_empirical is not None
               for s in record.suspects)
    assert max(s.p_value for s in record.suspects if s.role == "positive") < 1e-6
    back = Record.from_json(json.loads(json.dumps(record.to_json())))
    assert back == record
    text = report(record)
    assert "p-value" in text and "FPR 1 %: tau =" in text and "ARUC 95 % interval [" in text
    assert "12 negatives are too few to support 1 % on their own (99 needed): τ is a " \
        "beta-binomial extrapolation" in text
    assert "Same architecture 5/8 [" in text and "ROC-AUC 1.00" in text
    # the record's ARUC interval: its suspects within their families and its points
    h = v.hierarchical
    assert h.over == "suspects within family and points (one target)" and h.reps == 200
    assert h.get("aruc")[0] <= record.aruc <= h.get("aruc")[1]
    assert h.get("aruc")[1] - h.get("aruc")[0] > hi - lo  # wider than the points' alone
    assert h.variances["aruc"]["targets"] == 0.0 and h.dominant() in ("suspects", "points")
    assert f"({h.dominant()} dominate)" in text
    assert interval_of(record, "aruc") == (h.get("aruc"), h.over)
    assert interval_of(record, "rate/ftll-0") == (v.intervals.get("rate/ftll-0"), "points")
    assert v.auc == {"all": 1.0, "ftll": 1.0}
    summary = wandb_summary(v)
    assert (summary["aruc_lo"], summary["aruc_hi"]) == h.get("aruc")
    assert (summary["aruc_points_lo"], summary["aruc_points_hi"]) == (lo, hi)
    assert summary["tau_method_fpr5"] == v.at(0.05).tau_method and summary["roc_auc"] == 1.0
    assert (summary["tpr_fpr1_lo"], summary["tpr_fpr1_hi"]) == v.at(0.01).tpr_interval
    assert summary["held_out_fpr_same_arch_fpr1_hi"] == v.at(0.01).same_arch.hi


def test_harder_negatives_count_in_the_fpr_but_not_in_the_headline():
    base = _record()
    close = [SuspectResult(f"half-{i}", "negative", "half", "cnn", i, 0.6,
                           in_default_selection=False, matches=as_text(np.arange(50) % 5 < 3))
             for i in range(3)]
    record = assess(dataclasses.replace(base, suspects=[*base.suspects, *close]), reps=50)
    v = record.verdicts
    assert v.null.negatives == 12 + 3
    # a threshold fitted without the harder family accuses all of them (0.6 is far above)
    assert v.at(0.05).by_family["half"] == 1.0
    without = assess(base, reps=50).verdicts
    assert v.at(0.05).tau > without.at(0.05).tau
    # the headline ARUC and its interval see the paper's negatives only
    assert v.intervals.get("mean_negatives") == without.intervals.get("mean_negatives")
    numbers = scores(record)
    assert numbers["harder_accused_fpr5"] == 1.0 and numbers["harder"] == 3


def test_records_made_before_verdicts_still_read_and_say_they_have_no_interval():
    old = read_records_dir(FIXTURE / "fig6")  # schema 1
    assert old and all(r.verdicts is None for r in old)
    assert all(s.matches is None and s.p_value is None for r in old for s in r.suspects)
    verdicts = verdicts_of(old[0])  # recomputed from the rates; no interval without matches
    assert verdicts is not None and verdicts.intervals is None
    assert verdicts.null.negatives == sum(s.role == "negative" for s in old[0].suspects)
    text = report(old[0])
    assert "ARUC 95 % interval: none (no per-point matches" in text and "emp. p" in text
    data = _record().to_json()  # schema 2 before per-point matches
    del data["verdicts"]
    for s in data["suspects"]:
        for name in ("matches", "p_value", "p_value_empirical"):
            del s[name]
    again = Record.from_json(data)
    assert again.verdicts is None and again.suspects[0].matches is None
    assert verdicts_of(again).intervals is None


# A record's verdicts as they were stored before thresholds said how they were made, with
# Clopper-Pearson intervals, ROC-AUCs and the hierarchical interval.
OLD_VERDICTS = {
    "null": {"fit": "beta-binomial, maximum likelihood", "n": 100, "mean": 0.12, "rho": 0.02,
             "counts": [10, 14, 9, 30, 12]},
    "calibrations": [{"fpr": 0.01, "tau": 0.31, "tpr": 1.0, "positives": 18, "negatives": 35,
                      "fpr_lofo": 0.114, "fpr_random": 0.038, "splits": 200,
                      "by_family": {"same_arch": 0.2, "lenet": 0.0}, "supported": False}],
    "intervals": {"over": "points", "level": 0.95, "reps": 1000, "seed": 0,
                  "values": {"aruc": [0.5, 0.6]}}}


def test_verdicts_stored_before_they_said_how_tau_was_made_still_load_and_report():
    v = Verdicts.from_json(json.loads(json.dumps(OLD_VERDICTS)))
    (c,) = v.calibrations
    assert (c.tau, c.by_family, c.supported) == (0.31, {"same_arch": 0.2, "lenet": 0.0}, False)
    assert c.tau_method is None and c.rule is None and c.tpr_interval is None
    assert c.held_out == {} and c.tpr_by_family == {} and c.same_arch is None
    assert v.hierarchical is None and v.auc == {} and v.intervals.get("aruc") == (0.5, 0.6)
    lines = verdict_lines(v)
    assert "tau = 0.31 from the beta-binomial fit (stored before the method was recorded)" \
        in lines and "Same architecture 0.200" in lines
    assert "ARUC 95 % interval [0.50, 0.60]: bootstrap over the 100 points" in lines
    assert "35 negatives are too few to support 1 %" in lines
    assert Verdicts.from_json(v.to_json()) == v
