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
# The paper's names (Section 5.1.3) for the methods' ``name``s, and its names for datasets.
METHOD_NAMES = {"random": "Random", "fgsm": "FGSM", "igsm": "IGSM", "cw_l2": "CW-L2",
                "ipguard": "IPGuard", "ipguard_onepoint": "IPGuard (one point)"}
METHOD_ORDER = ("random", "fgsm", "igsm", "cw_l2", "ipguard")
DATASET_NAMES = {"digits": "Digits", "mnist": "MNIST", "cifar10": "CIFAR-10",
                 "cifar100": "CIFAR-100", "imagenet": "ImageNet"}
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


def method_name(method: str) -> str:
    """'IPGuard' for 'ipguard', and so on; unknown methods keep their own name."""
    return METHOD_NAMES.get(method, method)


def dataset_name(dataset: str) -> str:
    return DATASET_NAMES.get(dataset, dataset)


def method_sort_key(method: str) -> tuple[int, str]:
    """The paper's order: Random, FGSM, IGSM, CW-L2, IPGuard, then any other method."""
    return (METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER), method)


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
