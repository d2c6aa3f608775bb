"""The hierarchical bootstrap of the ARUC (Eq. 7) and of mean matching rates (docs/verdicts.md).

A zoo's suspects are a sample too: which negatives and positives were trained is as much chance
as which points Extract found, and between zoos it is the larger part. Resampling the points
alone treats the suspects as fixed and gives intervals several times too narrow for the
question "what ARUC would another zoo of these families give". A replicate here resamples, in
order, the targets (with replacement; nothing to do with one target), then within each target
each family's members with replacement (positives and negatives alike), then the point
indices, and recomputes every statistic. The variance with each level resampled alone says
which level dominates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ipguard.core import intervals
from ipguard.core.intervals import LEVEL, REPS, percentile
from ipguard.core.metrics import PAPER_R, arucs

LEVELS = ("targets", "suspects", "points")
STATISTICS = ("aruc", "mean_positives", "mean_negatives", "difference")
ONE_TARGET = "one target: the target level contributes nothing"


@dataclass(frozen=True)
class TargetHits:
    """One target's fingerprint against its suspects: ``hits`` (points, suspects) booleans,
    each suspect's ``families`` (its kind) and ``roles`` ('positive' or 'negative')."""

    hits: np.ndarray
    families: tuple[str, ...]
    roles: tuple[str, ...]

    def __post_init__(self) -> None:
        hits = np.asarray(self.hits, dtype=bool)
        if hits.ndim != 2 or hits.shape[0] == 0:
            raise ValueError(f"hits must be (points, suspects), got shape {hits.shape}")
        if not len(self.families) == len(self.roles) == hits.shape[1]:
            raise ValueError("need one family and one role per suspect (column of hits)")
        if not {"positive", "negative"} <= set(self.roles) or set(self.roles) - {
                "positive", "negative"}:
            raise ValueError("roles are 'positive' or 'negative', with at least one of each")
        object.__setattr__(self, "hits", hits)

    @property
    def groups(self) -> list[np.ndarray]:
        """The suspects' columns per (role, family), positives first: what is resampled."""
        keys = list(dict.fromkeys(zip(self.roles, self.families, strict=True)))
        keys.sort(key=lambda k: k[0] != "positive")
        return [np.array([i for i, rf in enumerate(zip(self.roles, self.families, strict=True))
                          if rf == k]) for k in keys]


@dataclass(frozen=True)
class Hierarchical:
    """Percentile intervals (``values``: statistic -> (lo, hi)) with every level in ``over``
    resampled, and ``variances``: statistic -> level -> the bootstrap variance with that level
    alone resampled (0 for one target); ``notes`` say what could not vary."""

    over: str
    level: float
    reps: int
    seed: int
    values: dict[str, tuple[float, float]] = field(default_factory=dict)
    variances: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def get(self, name: str) -> tuple[float, float] | None:
        return self.values.get(name)

    def dominant(self, name: str = "aruc") -> str | None:
        """The level whose resampling alone varies ``name`` most."""
        found = self.variances.get(name)
        return max(found, key=lambda k: found[k]) if found else None

    def to_json(self) -> dict[str, Any]:
        return {"over": self.over, "level": self.level, "reps": self.reps, "seed": self.seed,
                "values": {k: list(v) for k, v in self.values.items()},
                "variances": {k: dict(v) for k, v in self.variances.items()},
                "dominant": self.dominant(), "notes": list(self.notes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Hierarchical | None:
        if not data:
            return None
        return cls(str(data["over"]), float(data["level"]), int(data["reps"]),
                   int(data["seed"]),
                   {k: (float(v[0]), float(v[1])) for k, v in data.get("values", {}).items()},
                   {k: {lv: float(x) for lv, x in v.items()}
                    for k, v in (data.get("variances") or {}).items()},
                   tuple(data.get("notes") or ()))


def describe(levels: Sequence[str], targets: int) -> str:
    """What a replicate resampled, in words (the ``over`` of an interval)."""
    words = {"targets": "targets", "suspects": "suspects within family", "points": "points"}
    named = [words[lv] for lv in LEVELS if lv in levels and (lv != "targets" or targets > 1)]
    if not named:
        return "nothing (one target)"
    text = ", ".join(named[:-1]) + (" and " if len(named) > 1 else "") + named[-1]
    return text + (" (one target)" if targets == 1 else "")


def hierarchical_bootstrap(targets: Sequence[TargetHits], r: int = PAPER_R,
                           level: float = LEVEL, reps: int = REPS, seed: int = 0,
                           levels: Sequence[str] = LEVELS,
                           decompose: bool = True) -> Hierarchical:
    """The ``level`` percentile intervals of the ARUC (Eq. 7 with ``r``), the mean rates of
    the positives, of the negatives, their difference and each family's mean (families every
    target has), averaged over targets, with ``levels`` resampled ``reps`` times (seeded,
    vectorised in batches of ``intervals.BATCH_ELEMENTS``). With ``decompose``, the variance
    with each level alone resampled."""
    if not targets:
        raise ValueError("the hierarchical bootstrap needs at least one target")
    if reps < 2 or set(levels) - set(LEVELS) or not levels:
        raise ValueError(f"need reps >= 2 and levels among {LEVELS}, got {reps}, {levels}")
    common = [f for f in dict.fromkeys(targets[0].families)
              if all(f in t.families for t in targets)]
    names = [*STATISTICS, *(f"mean_{f}" for f in common)]
    all_lv = _replicates(targets, common, r, reps, seed, set(levels))
    lo, hi = percentile(all_lv, level)
    notes = (ONE_TARGET,) if len(targets) == 1 else ()
    variances: dict[str, dict[str, float]] = {}
    if decompose:
        alone = {lv: _replicates(targets, common, r, reps, seed + 1 + i, {lv}).var(axis=0,
                                                                                   ddof=1)
                 for i, lv in enumerate(LEVELS)}
        if len(targets) == 1:  # exactly nothing, not the rounding of a mean of equal values
            alone["targets"] = np.zeros(len(names))
        variances = {name: {lv: float(alone[lv][j]) for lv in LEVELS}
                     for j, name in enumerate(names)}
    return Hierarchical(describe(levels, len(targets)), level, reps, seed,
                        {k: (float(a), float(b)) for k, a, b in zip(names, lo, hi, strict=True)},
                        variances, notes)


def _replicates(targets: Sequence[TargetHits], common: Sequence[str], r: int, reps: int,
                seed: int, levels: set[str]) -> np.ndarray:
    """(reps, statistics): each target's replicates, then the targets resampled (each draw of
    a target brings one of its own replicates) or averaged."""
    seeds = np.random.SeedSequence(seed).spawn(len(targets) + 1)
    inner = np.stack([_inner(t, common, r, reps, np.random.default_rng(s), levels)
                      for t, s in zip(targets, seeds, strict=False)])  # (targets, reps, stats)
    if "targets" not in levels or len(targets) == 1:
        return inner.mean(axis=0)
    rng = np.random.default_rng(seeds[-1])
    which = rng.integers(0, len(targets), (reps, len(targets)))
    if levels == {"targets"}:   # inner replicates are all the observed value
        return inner[which, 0].mean(axis=1)
    return inner[which, rng.integers(0, reps, (reps, len(targets)))].mean(axis=1)


def _inner(target: TargetHits, common: Sequence[str], r: int, reps: int,
           rng: np.random.Generator, levels: set[str]) -> np.ndarray:
    """(reps, statistics) of one target with its suspects (within family) and/or its points
    resampled; every index is drawn before batching, so the batch size changes nothing."""
    hits = target.hits.astype(float)
    points, _ = hits.shape
    groups = target.groups
    order = np.concatenate(groups)
    positive = np.array([target.roles[i] == "positive" for i in order])
    fams = np.array([target.families[i] for i in order])
    members = [fams == f for f in common]
    if "suspects" in levels:
        cols = np.concatenate([g[rng.integers(0, len(g), (reps, len(g)))] for g in groups],
                              axis=1)
    else:
        cols = np.broadcast_to(order, (reps, len(order)))
    draws = rng.integers(0, points, (reps, points)) if "points" in levels else None
    width = max(points, r) * len(order) + points
    batch = max(1, intervals.BATCH_ELEMENTS // max(1, width))
    out = []
    for i in range(0, reps, batch):
        size = len(cols[i:i + batch])
        if draws is None:
            every = np.broadcast_to(hits.mean(axis=0), (size, hits.shape[1]))
        else:
            offsets = draws[i:i + batch] + points * np.arange(size)[:, None]
            weights = np.bincount(offsets.ravel(), minlength=size * points).reshape(size,
                                                                                    points)
            every = weights @ hits / points  # (batch, suspects): rates on the drawn points
        rates = np.take_along_axis(every, cols[i:i + batch], axis=1)
        pos, neg = rates[:, positive], rates[:, ~positive]
        mp, mn = pos.mean(axis=1), neg.mean(axis=1)
        out.append(np.column_stack([arucs(pos, neg, r), mp, mn, mp - mn,
                                    *(rates[:, m].mean(axis=1) for m in members)]))
    return np.concatenate(out)
