"""Eq. 7 (ARUC), robustness/uniqueness, AUC and gap on hand-computed cases (Figure 2)."""

import numpy as np
import pytest

from ipguard.core.metrics import aruc, auc, gap, robustness, score, thresholds, uniqueness
from ipguard.utils.errors import ConfigError


def test_thresholds_are_right_endpoints_of_r_intervals():
    assert thresholds(4).tolist() == [0.25, 0.5, 0.75, 1.0]
    with pytest.raises(ConfigError, match="metrics.r"):
        thresholds(0)


def test_robustness_counts_rates_at_or_above_threshold():
    # a positive is verified when its matching rate >= tau
    assert robustness([0.5, 0.7, 1.0], np.array([0.5, 0.7, 0.71, 1.0])).tolist() == [
        1.0, 2 / 3, 1 / 3, 1 / 3]


def test_uniqueness_counts_rates_below_threshold():
    assert uniqueness([0.0, 0.3, 0.5], np.array([0.3, 0.31, 0.5, 0.51])).tolist() == [
        1 / 3, 2 / 3, 2 / 3, 1.0]


def test_rates_equal_to_threshold_despite_float_rounding():
    # 0.29 as 29/100 and as 0.1 * 2.9: the verdict must not depend on the last bit
    assert robustness([29 / 100], np.array([0.1 * 2.9])).tolist() == [1.0]


def test_aruc_perfect_case_is_one():
    # Figure 2 left: positives all match 1.0, negatives all 0.0 -> R = U = 1 for tau in (0, 1]
    assert aruc([1.0, 1.0], [0.0, 0.0], r=100) == 1.0


def test_aruc_mediocre_case_by_hand():
    # Figure 2 middle: positives at 0.6, negatives at 0.4. With r = 10:
    # tau = 0.1..0.4 -> R = 1, U = 0 (negatives 0.4 >= tau) -> min 0;
    # tau = 0.5, 0.6 -> R = 1, U = 1 -> 1; tau = 0.7..1.0 -> R = 0 -> 0. ARUC = 2/10.
    assert aruc([0.6], [0.4], r=10) == pytest.approx(0.2)
    # with r = 100 the band (0.4, 0.6] holds 20 thresholds: 0.41..0.60
    assert aruc([0.6], [0.4], r=100) == pytest.approx(0.20)


def test_aruc_bad_case_is_zero():
    # Figure 2 right: negatives match more than positives: no tau has both R and U large
    assert aruc([0.2, 0.3], [0.8, 0.9], r=100) == 0.0


def test_aruc_mixed_case_by_hand():
    # positives 1.0 and 0.5, negatives 0.0 and 0.25, r = 4: tau = .25 .5 .75 1
    # R = [1, 1, .5, .5]; U = [.5, 1, 1, 1]; min = [.5, 1, .5, .5] -> 2.5 / 4
    assert aruc([1.0, 0.5], [0.0, 0.25], r=4) == pytest.approx(0.625)


def test_auc_and_gap():
    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auc([0.5], [0.5]) == 0.5  # a tie counts half
    assert gap([0.9, 0.8], [0.1, 0.2]) == pytest.approx(0.6)
    assert gap([0.3], [0.5]) == pytest.approx(-0.2)


def test_score_matches_parts():
    pos, neg = [0.95, 0.7, 0.99], [0.1, 0.3, 0.05, 0.6]
    s = score(pos, neg, r=100)
    assert s.aruc == aruc(pos, neg, 100)
    assert s.auc == auc(pos, neg) and s.gap == gap(pos, neg)
    assert len(s.tau) == len(s.robustness) == len(s.uniqueness) == 100


def test_rates_outside_unit_interval_are_rejected():
    with pytest.raises(ValueError, match="positive"):
        aruc([1.2], [0.0])
    with pytest.raises(ValueError, match="negative"):
        aruc([1.0], [])


def test_aruc_equals_mean_gap_when_positives_and_negatives_separate():
    # With matching rates m/100, r = 100 and every positive above every negative,
    # Eq. 7 sums U(tau) up to the largest negative and R(tau) beyond it, which telescopes to
    # mean(positive rates) - mean(negative rates): the identity used to explain digits' ARUC.
    rng = np.random.default_rng(0)
    for _ in range(20):
        neg = rng.integers(0, 40, size=30) / 100
        pos = rng.integers(41, 101, size=15) / 100
        assert aruc(pos, neg, r=100) == pytest.approx(pos.mean() - neg.mean(), abs=1e-12)


def test_the_decomposition_is_the_aruc_when_the_sets_separate():
    from ipguard.results.area import decompose
    from ipguard.results.record import SuspectResult

    def suspect(role, kind, rate, headline=True):
        return SuspectResult(f"{kind}{rate}", role, kind, "a", 0, rate,
                             in_default_selection=headline)

    suspects = [suspect("positive", "ftll", 1.0), suspect("positive", "wp", 0.9),
                suspect("positive", "fp", 0.2, headline=False),
                suspect("negative", "same_arch", 0.1), suspect("negative", "same_arch", 0.3),
                suspect("negative", "forest", 0.05)]
    d = decompose(suspects)  # the headline's positives: 1.0 and 0.9
    assert d.separated and d.positives == pytest.approx(0.95)
    assert d.families == pytest.approx({"same_arch": 0.2, "forest": 0.05})
    assert d.difference == pytest.approx(aruc([1.0, 0.9], [0.1, 0.3, 0.05], r=100))
    every = decompose(suspects, headline_only=False)  # 0.2 overlaps the negatives
    assert not every.separated
    assert every.difference != pytest.approx(aruc([1.0, 0.9, 0.2], [0.1, 0.3, 0.05], r=100))
