"""The results record of a bench run: one JSON file, written atomically, that figures and
tables are rebuilt from (W&B holds a mirror of the same numbers)."""

from __future__ import annotations

import platform
import subprocess
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ipguard.io import read_json, write_json

SCHEMA = "ipguard.results/1"
PACKAGES = ("torch", "torchvision", "lightning", "hydra-core", "omegaconf", "wandb",
            "scikit-learn", "numpy", "ipguard")


@dataclass
class SuspectResult:
    """One suspect's matching rate, with what it is (role, kind, pruning level)."""

    name: str
    role: str
    kind: str
    arch: str
    seed: int
    matching_rate: float
    test_accuracy: float | None = None
    hyper: dict[str, Any] = field(default_factory=dict)
    in_default_selection: bool = True


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def git_revision(cwd: str | Path | None = None) -> str | None:
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd or Path(__file__).parent,
                             capture_output=True, text=True, timeout=5, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd or Path(__file__).parent, capture_output=True, text=True,
                               timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def suspect_rows(suspects: list[SuspectResult]) -> list[dict[str, Any]]:
    return [asdict(s) for s in suspects]


def write_record(path: str | Path, record: dict[str, Any]) -> Path:
    return write_json(path, {"schema": SCHEMA, **record})


def read_record(path: str | Path) -> dict[str, Any]:
    record = read_json(path)
    if record.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not an ipguard results record (schema {record.get('schema')})")
    return record
