"""Records of stores made before the typed record: the flat schema ``ipguard.results/1``, read
as schema 2 so that every old store still loads (tests/data/figures_v1 holds such records).
Nothing writes schema 1 any more."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SCHEMA_V1 = "ipguard.results/1"
PROVENANCE_KEYS = ("sweep", "output_dir", "fingerprint_file", "finished_at", "wandb", "config",
                   "versions", "git", "source")


def v1_as_v2(data: Mapping[str, Any]) -> dict[str, Any]:
    """Schema 1 kept the setting and the provenance flat at the top, and the scores under
    ``metrics`` (``default``, ``all_within_budget``)."""
    metrics = data.get("metrics") or {}
    provenance = {k: data[k] for k in PROVENANCE_KEYS if data.get(k) is not None}
    return {**data, "setting": data, "provenance": provenance,
            "scores": {"headline": metrics.get("default"),
                       "all_admitted": metrics.get("all_within_budget")}}
