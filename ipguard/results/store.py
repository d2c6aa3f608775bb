"""The results store: one JSON record per setting, ``<results_dir>/<dataset>/<sweep>/<key>.json``.

The key comes from the setting (``Setting.key()``), so a multirun job finds "its" record without
coordination: a finished point is skipped on rerun, and a figure knows which points of a grid
are missing. A record measured on another build of the zoo is moved to ``.superseded/`` and the
point is recomputed, so one sweep folder never mixes two zoos. Choosing a method's best setting
(how Tables 4-8 and Figure 2 pick it, as the paper does) lives here too."""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipguard.results.record import Record
from ipguard.results.setting import Setting, canonical
from ipguard.utils.errors import IPGuardError
from ipguard.utils.io import read_json, write_json

log = logging.getLogger(__name__)
SUPERSEDED = ".superseded"


@dataclass
class ResultsStore:
    """The records of one sweep on one dataset: ``<root>/<key>.json``."""

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def find(self, setting: Setting) -> Record | None:
        """The finished record of ``setting``, or None. A record under the same key made on
        another zoo (or with settings a key cannot tell apart) is moved aside, with a
        warning, and the point will be recomputed."""
        path = self.path(setting.key())
        if not path.is_file():
            return None
        try:
            record = read_record(path)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            log.warning("%s is unreadable (%s): recomputing this point", path, exc)
            return None
        have, want = record.setting.identity(), setting.identity()
        if have != want:
            differ = sorted(k for k in want if have.get(k) != want[k])
            moved = self._supersede(path, record)
            log.warning("%s was measured with another %s: moved to %s; recomputing this point",
                        path, ", ".join(differ), moved)
            return None
        return record

    def _supersede(self, path: Path, record: Record) -> Path:
        tag = (record.setting.zoo or "unknown")[:12]
        dest = path.parent / SUPERSEDED / f"{path.stem}.{tag}.json"
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)
        return dest

    def write(self, record: Record) -> Path:
        return write_json(self.path(record.key), record.to_json())

    def records(self) -> list[Record]:
        return read_records_dir(self.root)


def read_record(path: str | Path) -> Record:
    """A record file of either schema; the file's name is its key when it names none."""
    path = Path(path)
    return Record.from_json(read_json(path), key=path.stem)


def write_record(path: str | Path, record: Record) -> Path:
    return write_json(path, record.to_json())


def read_records_dir(folder: str | Path) -> list[Record]:
    """Every readable record in ``folder`` and in its population's per-target folders
    (``target-s<seed>/``, sorted by file name), its sweep set to the folder's name;
    unreadable files are named in a warning and skipped."""
    folder = Path(folder)
    out = []
    for path in [*sorted(folder.glob("*.json")), *sorted(folder.glob("target-s*/*.json"))]:
        try:
            record = read_record(path)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError, OSError) as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        record.provenance.sweep = folder.name  # the folder it sits in is its sweep
        out.append(record)
    return out


def load_local(results_dir: str | Path, dataset: str, sweeps: Iterable[str]) -> list[Record]:
    """The records of the named sweeps of one dataset, from the local store."""
    return [r for sweep in sweeps for r in read_records_dir(Path(results_dir) / dataset / sweep)]


# --------------------------------------------------------------------------- choosing the best
@dataclass
class Point:
    """One setting of a method (parameters and combo) and its records, one per seed."""

    method: str
    combo: str
    params: dict[str, Any]
    records: list[Record]

    @property
    def setting(self) -> Setting:
        return self.first.setting

    @property
    def param(self) -> str | None:
        return self.setting.swept

    @property
    def value(self) -> Any:
        return self.params.get(self.param) if self.param else None

    def mean(self, number: Callable[[Record], float | None]) -> float:
        """The mean over seeds of a record's number (records without it are left out)."""
        values = [float(v) for v in map(number, self.records) if v is not None
                  and not math.isnan(float(v))]
        return sum(values) / len(values) if values else math.nan

    @property
    def aruc(self) -> float:
        return self.mean(lambda r: r.aruc)

    @property
    def first(self) -> Record:
        """The record of the lowest seed (what a table shows when it shows one run)."""
        return min(self.records, key=lambda r: (r.setting.seed, r.key))


def group_points(records: Iterable[Record]) -> list[Point]:
    """Records grouped by setting (method, combo, parameters); seeds are pooled."""
    points: dict[str, Point] = {}
    for record in records:
        s = record.setting
        ident = json.dumps([s.method, s.combo, canonical(s.params)], sort_keys=True)
        if ident not in points:
            points[ident] = Point(s.method, s.combo, dict(s.params), [])
        points[ident].records.append(record)
    return list(points.values())


def best_point(records: Iterable[Record], method: str | None = None,
               score: Callable[[Record], float] | None = None) -> Point | None:
    """The setting with the best mean ARUC (or mean ``score``: e.g. the ARUC on the
    validation half, ``ipguard.results.holdout``) among those of ``method``; ties go to the
    larger gap, then the larger AUC, then the first key (stable)."""
    pool = group_points(r for r in records if method is None or r.method == method)
    if not pool:
        return None
    rank = score or (lambda r: r.aruc)
    return min(pool, key=lambda p: (-p.mean(rank), -p.mean(lambda r: r.gap),
                                    -p.mean(lambda r: r.auc), p.first.key))


def best_setting(results_root: str | Path, sweeps: Sequence[str], method: str,
                 combo: str | None = None, score: Callable[[Record], float] | None = None
                 ) -> Record:
    """The record (lowest seed) of the best-ARUC (or best ``score``) setting of ``method`` in
    the named sweeps (among the records of ``combo``, e.g. '-TL', when given): what Tables
    5-8 and the seeds sweep rerun."""
    records = [r for s in sweeps for r in read_records_dir(Path(results_root) / s)
               if combo is None or r.combo == combo]
    best = best_point(records, method=method, score=score)
    if best is None:
        which = f"{method}{combo}" if combo else method
        raise IPGuardError(
            f"no results of {which} in sweeps {list(sweeps)} under {results_root}: run those "
            "sweeps first (see sweeps/README.md), e.g. `python -m ipguard.bench -m sweep=fig6`")
    return best.first
