"""95 % intervals by the bootstrap (docs/verdicts.md): one function, ``bootstrap``, serves every
interval the bench, the tables and the figures print.

The n fingerprinting points are a sample of the points Extract could have found: a replicate
draws n point indices with replacement, once, and every suspect's matching rate (and from them
the ARUC) is recomputed on those same points. Over seeds, where several ran, the seeds are
resampled too (``nested``: each drawn seed brings one of its own point replicates; seeds alone
where the records hold no per-point matches). The interval is the percentile interval."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LEVEL = 0.95
REPS = 1000
# Elements of one batch of resampled data: bounds the memory of a replicate batch (~20 MB).
BATCH_ELEMENTS = 20_000_000


def bootstrap(data: Any, statistic: Callable[[np.ndarray], np.ndarray], level: float = LEVEL,
              reps: int = REPS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The ``level`` percentile interval of ``statistic`` under resampling the units (axis 0)
    of ``data`` with replacement, ``reps`` times (seeded: the same call gives the same
    interval). ``statistic`` is vectorised: it takes a batch of resamples (replicates, units,
    ...) and returns one value, or a vector of values, per replicate. Returns (lo, hi) arrays
    of the statistic's shape (0-d for a scalar statistic)."""
    return percentile(replicates(data, statistic, reps, seed), level)


def replicates(data: Any, statistic: Callable[[np.ndarray], np.ndarray], reps: int = REPS,
               seed: int = 0) -> np.ndarray:
    """The ``reps`` bootstrap replicates of ``statistic`` behind ``bootstrap``: (reps, ...)."""
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    values = np.asarray(data)
    units = len(values)
    if units == 0:
        raise ValueError("nothing to resample: data has no units")
    indices = np.random.default_rng(seed).integers(0, units, size=(reps, units))
    batch = max(1, BATCH_ELEMENTS // max(1, values.size))
    return np.concatenate([np.asarray(statistic(values[indices[i:i + batch]]), dtype=float)
                           for i in range(0, reps, batch)])


def nested(per_unit: Sequence[np.ndarray], level: float = LEVEL, reps: int = REPS,
           seed: int = 0) -> tuple[float, float]:
    """The two-stage bootstrap of a mean over units (seeds) whose own values were
    bootstrapped (over their points): a replicate draws the units with replacement and, for
    each draw, one of that unit's ``replicates``; its value is their mean."""
    table = np.stack([np.asarray(r, dtype=float) for r in per_unit])  # (units, replicates)
    rng = np.random.default_rng(seed)
    units, own = table.shape
    draws = table[rng.integers(0, units, (reps, units)), rng.integers(0, own, (reps, units))]
    lo, hi = percentile(draws.mean(axis=1), level)
    return float(lo), float(hi)


def percentile(values: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The central ``level`` interval of replicates (axis 0): the percentile interval."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail], axis=0)
    return lo, hi


def mean_interval(values: Sequence[float], level: float = LEVEL, reps: int = REPS,
                  seed: int = 0) -> tuple[float, float]:
    """The interval of a mean over units (seeds): ``bootstrap`` of ``values``' mean."""
    lo, hi = bootstrap(np.asarray(values, dtype=float), lambda b: b.mean(axis=1), level, reps,
                       seed)
    return float(lo), float(hi)


def bits(matches: str) -> np.ndarray:
    """A suspect's per-point matches ('1' matched, '0' not) as a boolean array."""
    return np.frombuffer(matches.encode("ascii"), dtype=np.uint8) == ord("1")


def as_text(matched: Any) -> str:
    """Per-point matches (booleans) as the record stores them: a string of '0' and '1'."""
    return "".join("1" if m else "0" for m in np.asarray(matched, dtype=bool).ravel())


@dataclass(frozen=True)
class Intervals:
    """A record's intervals: ``values`` maps a number's name (``aruc``, ``mean_positives``,
    ``rate/<suspect>`` ...) to its (lo, hi); ``over`` says what was resampled (``points``)."""

    over: str
    level: float
    reps: int
    seed: int
    values: dict[str, tuple[float, float]] = field(default_factory=dict)

    def get(self, name: str) -> tuple[float, float] | None:
        return self.values.get(name)

    def to_json(self) -> dict[str, Any]:
        return {"over": self.over, "level": self.level, "reps": self.reps, "seed": self.seed,
                "values": {k: list(v) for k, v in self.values.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Intervals | None:
        if not data:
            return None
        return cls(str(data["over"]), float(data["level"]), int(data["reps"]),
                   int(data["seed"]), {k: (float(v[0]), float(v[1]))
                                       for k, v in (data.get("values") or {}).items()})
