"""Records rebuilt from W&B runs, which mirror the local store, through the public API
(``wandb.Api()``; offline runs after ``wandb sync``). The local store stays the source of
truth; this module never reads W&B's private file format.

A bench run logs its config (the resolved bench config plus ``ipguard``: the setting, key,
sweep), a summary and the ``matching_rates`` table; R(tau)/U(tau) are recomputed from the rates
with the same function the bench uses."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ipguard.core.extract import PAPER_N
from ipguard.core.metrics import PAPER_R, score
from ipguard.results.record import Extraction, Provenance, Record, SuspectResult, rates
from ipguard.results.setting import Setting
from ipguard.results.tracking import run_group
from ipguard.zoo.suspects import Selection, in_paper

log = logging.getLogger(__name__)


def record_from_wandb(config: Mapping[str, Any], summary: Mapping[str, Any],
                      table: Mapping[str, Any] | None) -> Record:
    """Rebuild a record from what a bench run logged to W&B."""
    meta = dict(config.get("ipguard") or {})
    if not meta:
        raise ValueError("not an ipguard bench run (no 'ipguard' config section)")
    bench = {k: v for k, v in config.items() if k != "ipguard"}
    suspects = []
    if table is not None:
        cols = list(table["columns"])
        for row in table["data"]:
            item = dict(zip(cols, row, strict=True))
            item["hyper"] = json.loads(item.get("hyper") or "{}")
            suspects.append(SuspectResult.from_json(item))
    if "setting" in meta:
        setting = Setting.from_json(meta["setting"])
    else:  # runs logged before the typed record: rebuild the setting from the bench config
        params = meta.get("params")
        if params is None:
            params = {k: v for k, v in bench.get("method", {}).items() if k != "_target_"}
        setting = Setting(
            dataset=str(meta.get("dataset")), method=str(meta.get("method")), params=params,
            init=str(bench.get("init")), label=str(bench.get("label")),
            n=int(bench.get("n") or PAPER_N), seed=int(bench.get("seed") or 0),
            r=int((bench.get("metrics") or {}).get("r") or PAPER_R),
            selection=Selection.from_json(bench.get("suspects")))
    headline = all_admitted = None
    neg = rates(suspects, "negative", headline_only=True)
    chosen = rates(suspects, "positive", headline_only=True)
    admitted = [s.matching_rate for s in suspects if s.role == "positive" and in_paper(s.kind)]
    if chosen and neg:
        headline = score(chosen, neg, r=setting.r)
        all_admitted = score(admitted, neg, r=setting.r)
    return Record(
        setting=setting, headline=headline, all_admitted=all_admitted,
        effectiveness=_num(summary.get("effectiveness")), suspects=suspects,
        extraction=Extraction(seconds=_num(summary.get("extraction_seconds")),
                              success_rate=_num(summary.get("success_rate")),
                              mean_l2=_num(summary.get("mean_l2")),
                              mean_iterations=_num(summary.get("mean_iterations"))),
        verify_seconds=summary.get("verify_seconds"),
        provenance=Provenance(sweep=str(meta.get("sweep") or "adhoc"), config=bench,
                              source="wandb"),
        key=str(meta.get("key") or ""),
    )


def _num(value: Any) -> float:
    return float(value) if value is not None else math.nan


def load_wandb_api(path: str, dataset: str, sweeps: Iterable[str], download_dir: str | Path,
                   api: Any = None) -> list[Record]:
    """Records of the named sweeps rebuilt from W&B through the public API (``entity/project``
    in ``path``): finished bench runs grouped by dataset and sweep."""
    if api is None:
        import wandb

        api = wandb.Api(timeout=60)
    out = []
    for sweep in sweeps:
        runs = api.runs(path, filters={"group": run_group(dataset, sweep), "jobType": "bench",
                                       "state": "finished"}, order="+created_at")
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


def _plain(summary: Any) -> dict[str, Any]:
    """W&B's summary object as nested plain dicts."""
    items = summary.items() if hasattr(summary, "items") else dict(summary).items()
    return {k: _plain(v) if hasattr(v, "items") else v for k, v in items}


def _latest_per_key(records: list[Record]) -> list[Record]:
    """One record per (sweep, key): a point rerun with force=true appears once (the last)."""
    by_key: dict[tuple[str, str], Record] = {}
    for record in records:
        by_key[(record.sweep, record.key)] = record
    return [by_key[k] for k in sorted(by_key)]
