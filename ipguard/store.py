"""The results store: one JSON record per sweep point, under
``<results_dir>/<dataset>/<sweep>/<key>.json``.

The key is computed from the point's settings (method, combo, swept parameter, seed), so a
multirun job finds "its" record without any coordination: a finished point is skipped on rerun,
and a figure knows which points of a grid are missing. Records can also be rebuilt from W&B runs
(online through the public API, or offline from the ``.wandb`` files), which mirror the same
numbers."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ipguard.errors import IPGuardError
from ipguard.metrics import score
from ipguard.results import SCHEMA, read_record, write_record

log = logging.getLogger(__name__)

# The hyper-parameter each method's figure sweeps (Figures 3-6); None: nothing to sweep.
PRIMARY_PARAM: dict[str, str | None] = {
    "ipguard": "k", "cw_l2": "k", "fgsm": "eps", "igsm": "eps", "random": None,
    "ipguard_onepoint": "k",
}
# What makes two runs the same sweep point (a stored record with other values is recomputed).
# ``zoo`` is the zoo's identity (ipguard.zoo.Zoo.identity): a rebuilt zoo is another point.
IDENTITY = ("dataset", "method", "params", "init", "label", "n", "seed", "r", "selection",
            "zoo")


def primary_param(method: str, params: Mapping[str, Any]) -> str | None:
    """The swept parameter of ``method``: known methods by name, otherwise the only parameter
    (or None when the method has several and none is known to be the swept one)."""
    if method in PRIMARY_PARAM:
        return PRIMARY_PARAM[method]
    return next(iter(params)) if len(params) == 1 else None


def format_value(value: Any) -> str:
    """Short, exact-enough text for a parameter value in a file name (0.01, 3, 0.003922)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return format(float(value), ".6g")


def record_key(method: str, combo: str, params: Mapping[str, Any], seed: int) -> str:
    """``ipguard-TL-k=3-s0``: method, combo, swept parameter (all parameters when the method's
    swept one is unknown; none for Random), seed."""
    param = primary_param(method, params)
    parts = [method, combo.lstrip("-")]
    if param is not None:
        parts.append(f"{param}={format_value(params[param])}")
    elif method not in PRIMARY_PARAM:
        parts += [f"{k}={format_value(v)}" for k, v in sorted(params.items())]
    parts.append(f"s{seed}")
    return "-".join(p.replace("/", "_") for p in parts)


def identity(record: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that define a sweep point, normalised for comparison."""
    out = {k: record.get(k) for k in IDENTITY}
    return json.loads(json.dumps(out, sort_keys=True, default=str))


@dataclass
class ResultsStore:
    """The records of one sweep on one dataset: ``<root>/<key>.json``."""

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def find(self, key: str, want: Mapping[str, Any]) -> dict[str, Any] | None:
        """The finished record at ``key`` if it was made with the same settings, else None
        (a record made with other settings is named in a warning and will be overwritten)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            record = read_record(path)
        except (ValueError, json.JSONDecodeError) as exc:
            log.warning("%s is unreadable (%s): recomputing this point", path, exc)
            return None
        have = identity(record)
        if have != dict(want):
            differ = sorted(k for k in want if have.get(k) != want[k])
            log.warning("%s was made with other settings (%s): recomputing and overwriting it; "
                        "use another store.sweep to keep both", path, ", ".join(differ))
            return None
        return record

    def write(self, key: str, record: Mapping[str, Any]) -> Path:
        return write_record(self.path(key), dict(record))

    def records(self) -> list[dict[str, Any]]:
        return read_records_dir(self.root)


def read_records_dir(folder: str | Path) -> list[dict[str, Any]]:
    """Every readable record in ``folder`` (sorted by key); unreadable files are warned about."""
    out = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            record = read_record(path)
        except (ValueError, json.JSONDecodeError, OSError) as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        record.setdefault("key", path.stem)
        out.append(record)
    return out


def load_local(results_dir: str | Path, dataset: str, sweeps: Iterable[str]) -> list[dict]:
    """The records of the named sweeps of one dataset, from the local store."""
    out: list[dict[str, Any]] = []
    for sweep in sweeps:
        for record in read_records_dir(Path(results_dir) / dataset / sweep):
            record["sweep"] = sweep  # the folder it sits in is the sweep it belongs to
            out.append(record)
    return out


# --------------------------------------------------------------------------- choosing the best
@dataclass
class Point:
    """One setting of a method (parameters and combo) and its records, one per seed."""

    method: str
    combo: str
    params: dict[str, Any]
    records: list[dict[str, Any]]

    @property
    def param(self) -> str | None:
        return primary_param(self.method, self.params)

    @property
    def value(self) -> Any:
        return self.params.get(self.param) if self.param else None

    def mean(self, field: str) -> float:
        """The mean over seeds of a record's number (``extraction.seconds`` for nested ones)."""
        values = []
        for record in self.records:
            node: Any = record
            for part in field.split("."):
                node = node.get(part) if isinstance(node, Mapping) else None
            if node is not None:
                values.append(float(node))
        return sum(values) / len(values) if values else math.nan

    @property
    def aruc(self) -> float:
        return self.mean("aruc")

    @property
    def first(self) -> dict[str, Any]:
        """The record of the lowest seed (what a table shows when it shows one run)."""
        return min(self.records, key=lambda r: (int(r.get("seed") or 0), str(r.get("key"))))


def group_points(records: Iterable[Mapping[str, Any]]) -> list[Point]:
    """Records grouped by setting (method, combo, parameters); seeds are pooled."""
    points: dict[str, Point] = {}
    for record in records:
        params = dict(record.get("params") or {})
        combo = str(record.get("combo"))
        ident = json.dumps([record.get("method"), combo, params], sort_keys=True, default=str)
        if ident not in points:
            points[ident] = Point(str(record.get("method")), combo, params, [])
        points[ident].records.append(dict(record))
    return list(points.values())


def best_point(records: Iterable[Mapping[str, Any]], method: str | None = None,
               target: str | None = None) -> Point | None:
    """The setting with the best mean ARUC among those of ``method`` (its name) or ``target``
    (its class path, ``_target_`` in the method config); ties go to the larger gap, then the
    larger AUC, then the first key (stable)."""
    pool = [p for p in group_points(
        r for r in records if (method is None or r.get("method") == method)
        and (target is None or method_target(r) == target))]
    if not pool:
        return None
    return min(pool, key=lambda p: (-p.aruc, -p.mean("gap"), -p.mean("auc"),
                                    str(p.first.get("key"))))


def method_target(record: Mapping[str, Any]) -> str | None:
    return record.get("config", {}).get("method", {}).get("_target_")


def best_setting(results_root: str | Path, sweeps: Sequence[str], target: str) -> dict:
    """The record (lowest seed) of the setting that scored the best ARUC for the method class
    ``target`` in the named sweeps: what Tables 5-8 rerun."""
    records = [r for s in sweeps for r in read_records_dir(Path(results_root) / s)]
    best = best_point(records, target=target)
    if best is None:
        raise IPGuardError(
            f"no results of {target} in sweeps {list(sweeps)} under {results_root}: run those "
            "sweeps first (see sweeps/README.md), e.g. `python -m ipguard.bench -m +sweep=fig6`")
    return best.first


# --------------------------------------------------------------------------- W&B as a source
def record_from_wandb(config: Mapping[str, Any], summary: Mapping[str, Any],
                      table: Mapping[str, Any] | None) -> dict[str, Any]:
    """Rebuild a results record from what a bench run logged to W&B: the config (the resolved
    bench config plus ``ipguard``: method, combo, key, sweep), the summary and the
    matching-rate table. R(tau)/U(tau) are recomputed from the rates (same function)."""
    meta = dict(config.get("ipguard") or {})
    if not meta:
        raise ValueError("not an ipguard bench run (no 'ipguard' config section)")
    suspects = []
    if table is not None:
        cols = list(table["columns"])
        for row in table["data"]:
            item = dict(zip(cols, row, strict=True))
            item["hyper"] = json.loads(item.get("hyper") or "{}")
            suspects.append(item)
    bench = {k: v for k, v in config.items() if k != "ipguard"}
    r = int(bench.get("metrics", {}).get("r", 100))
    params = meta.pop("params", None)
    if params is None:
        params = {k: v for k, v in bench.get("method", {}).items() if k != "_target_"}
    record: dict[str, Any] = {
        "schema": SCHEMA, **meta, "params": params,
        "param": {"name": meta.get("param"), "value": meta.get("value")},
        "n": bench.get("n"), "seed": bench.get("seed"),
        "init": bench.get("init"), "label": bench.get("label"),
        "aruc": _num(summary.get("aruc")), "auc": _num(summary.get("auc")),
        "gap": _num(summary.get("gap")), "effectiveness": _num(summary.get("effectiveness")),
        "extraction": {"seconds": _num(summary.get("extraction_seconds")),
                       "success_rate": _num(summary.get("success_rate")),
                       "mean_l2": _num(summary.get("mean_l2"))},
        "suspects": suspects, "config": bench, "source": "wandb",
    }
    chosen_pos = [s["matching_rate"] for s in suspects
                  if s["role"] == "positive" and s.get("in_default_selection", True)]
    neg = [s["matching_rate"] for s in suspects if s["role"] == "negative"]
    if chosen_pos and neg:
        record["metrics"] = {"default": score(chosen_pos, neg, r=r).__dict__}
    return record


def _num(value: Any) -> float:
    return float(value) if value is not None else math.nan


def load_wandb_offline(folder: str | Path, dataset: str, sweeps: Iterable[str]) -> list[dict]:
    """Records of the named sweeps rebuilt from the offline runs (``*.wandb`` files) under
    ``folder``: config and summary from the run file, the rates from its logged table."""
    from ipguard.wandb_records import read_records

    wanted = set(sweeps)
    out = []
    for run_file in sorted(Path(folder).rglob("*.wandb")):
        try:
            config, summary, finished = read_run(read_records(run_file))
        except Exception as exc:  # noqa: BLE001 - a damaged run file must not stop the figures
            log.warning("skipping W&B run %s: %s", run_file, exc)
            continue
        meta = config.get("ipguard") or {}
        if meta.get("dataset") != dataset or meta.get("sweep") not in wanted or not finished:
            continue
        table = None
        path = summary.get("matching_rates", {}).get("path")
        if path:
            table = json.loads((run_file.parent / "files" / path).read_text())
        out.append(record_from_wandb(config, summary, table))
    return _latest_per_key(out)


def read_run(records: list[Any]) -> tuple[dict, dict, bool]:
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    finished = False
    for rec in records:
        kind = rec.WhichOneof("record_type")
        if kind in ("run", "config"):  # the initial config rides on the run record
            updates = rec.run.config.update if kind == "run" else rec.config.update
            for item in updates:
                key = item.key or "/".join(item.nested_key)
                config[key] = json.loads(item.value_json)
        elif kind == "summary":
            for item in rec.summary.update:
                keys = [item.key] if item.key else list(item.nested_key)
                node = summary
                for k in keys[:-1]:
                    node = node.setdefault(k, {})
                node[keys[-1]] = json.loads(item.value_json)
        elif kind == "exit":
            finished = rec.exit.exit_code == 0
    config.pop("_wandb", None)
    return config, summary, finished


def load_wandb_api(path: str, dataset: str, sweeps: Iterable[str], download_dir: str | Path,
                   api: Any = None) -> list[dict]:
    """Records of the named sweeps rebuilt from W&B through the public API (``entity/project``
    in ``path``): finished bench runs tagged with the dataset, grouped by sweep."""
    if api is None:
        import wandb

        api = wandb.Api(timeout=60)
    out = []
    for sweep in sweeps:
        group = run_group(dataset, sweep)
        runs = api.runs(path, filters={"group": group, "jobType": "bench", "state": "finished"},
                        order="+created_at")
        for run in runs:
            config, summary = dict(run.config), _plain(run.summary)
            table = None
            ref = summary.get("matching_rates") or {}
            if ref.get("path"):
                target = Path(download_dir) / run.id
                run.file(ref["path"]).download(root=str(target), replace=True)
                table = json.loads((target / ref["path"]).read_text())
            out.append(record_from_wandb(config, summary, table))
    return _latest_per_key(out)


def run_group(dataset: str, sweep: str) -> str:
    """The W&B group of a sweep's runs (one per dataset, so a dashboard panel is one sweep)."""
    return f"{dataset}-{sweep}"


def _plain(summary: Any) -> dict[str, Any]:
    """W&B's summary object as nested plain dicts."""
    items = summary.items() if hasattr(summary, "items") else dict(summary).items()
    return {k: _plain(v) if hasattr(v, "items") else v for k, v in items}


def _latest_per_key(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (sweep, key): a point rerun with force=true appears once (the last)."""
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        by_key[(str(record.get("sweep")), str(record.get("key")))] = record
    return [by_key[k] for k in sorted(by_key)]
