"""95 % intervals by the bootstrap (ipguard.core.intervals; docs/verdicts.md, "Intervals").

- Coverage on a case with a known answer: the 95 % interval of a Bernoulli mean (n = 60, 100)
  covers the true p in 95 % of 1,000 trials within 2.5 points (the binomial standard error of
  1,000 trials is 0.7 points; the percentile bootstrap's own error at these n about 1); the
  80 % one in 77-87 % (a binomial's discreteness makes a percentile interval conservative, by
  about 3.5 points here).
- Every suspect is resampled on the same points: two suspects with the same matches give a
  difference of exactly 0 in every replicate.
- Seeded, independent of the batching, and the two-stage bootstrap over seeds keeps the points'
  uncertainty (two seeds that agree still get the width of their points)."""

from __future__ import annotations

import numpy as np
import pytest

from ipguard.core import intervals
from ipguard.core.intervals import as_text, bits, bootstrap, mean_interval, nested, replicates


def _mean(batch: np.ndarray) -> np.ndarray:
    return batch.mean(axis=1)


@pytest.mark.parametrize("p, n, level, low, high", [
    (0.3, 100, 0.95, 0.925, 0.975), (0.5, 60, 0.95, 0.925, 0.975), (0.3, 100, 0.8, 0.77, 0.87)])
def test_the_interval_of_a_bernoulli_mean_covers_p_as_often_as_its_level(p, n, level, low,
                                                                         high):
    trials = 1000
    rng = np.random.default_rng(0)
    covered = 0
    for trial in range(trials):
        lo, hi = bootstrap(rng.random(n) < p, _mean, level=level, reps=500, seed=trial)
        covered += bool(lo <= p <= hi)
    assert low <= covered / trials <= high, covered / trials


def test_every_suspect_is_resampled_on_the_same_points():
    rng = np.random.default_rng(1)
    a = rng.random(100) < 0.5
    hits = np.stack([a, a, rng.random(100) < 0.5], axis=1)  # (points, suspects)
    lo, hi = bootstrap(hits, lambda b: b[:, :, 0].mean(1) - b[:, :, 1].mean(1), reps=300)
    assert lo == hi == 0.0
    lo, hi = bootstrap(hits, lambda b: b[:, :, 0].mean(1) - b[:, :, 2].mean(1), reps=300)
    assert hi - lo > 0.1  # another suspect's matches do vary against the first's


def test_a_vector_statistic_gets_an_interval_per_value_and_the_same_seed_the_same(monkeypatch):
    x = np.random.default_rng(2).random((50, 3))
    lo, hi = bootstrap(x, _mean, reps=200, seed=7)
    assert lo.shape == hi.shape == (3,) and (lo < x.mean(0)).all() and (x.mean(0) < hi).all()
    again = bootstrap(x, _mean, reps=200, seed=7)
    monkeypatch.setattr(intervals, "BATCH_ELEMENTS", 10)  # one replicate per batch
    batched = bootstrap(x, _mean, reps=200, seed=7)
    for other in (again, batched):
        assert np.array_equal(other[0], lo) and np.array_equal(other[1], hi)
    assert not np.array_equal(bootstrap(x, _mean, reps=200, seed=8)[0], lo)


def test_the_two_stage_bootstrap_keeps_the_points_uncertainty():
    rng = np.random.default_rng(3)
    per_seed = [rng.normal(0.5, 0.03, 1000) for _ in range(2)]  # two seeds that agree
    lo, hi = nested(per_seed)
    assert 0.06 < hi - lo < 0.11  # ~ 2 * 1.96 * 0.03 / sqrt(2) = 0.083
    lo, hi = mean_interval([float(r.mean()) for r in per_seed])
    assert hi - lo < 0.01  # the seeds alone see almost nothing


def test_matches_are_stored_as_text_and_read_back():
    hits = np.array([True, False, True, True])
    assert as_text(hits) == "1011" and np.array_equal(bits("1011"), hits)
    assert replicates(hits, _mean, reps=5).shape == (5,)
    with pytest.raises(ValueError, match="level"):
        bootstrap(hits, _mean, level=1.5)
    with pytest.raises(ValueError, match="no units"):
        bootstrap(np.array([]), _mean)
