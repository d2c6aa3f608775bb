"""A zoo on disk: one folder per member, with its weights and a ``member.json``.

``zoo/<dataset>/<role>/<name>/member.json`` records name, role (target / positive / negative,
or ``rejected`` for the pruning step that broke the 3 % rule), kind, architecture, seed,
parent, test accuracy, parameter counts and training seconds, plus the model's constructor
(``model``: a ``_target_`` and its arguments) so that the weights can be loaded without pickle."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from ipguard.classifier import Classifier, ForestClassifier, TorchClassifier
from ipguard.errors import IPGuardError, MissingZooError
from ipguard.io import write_json
from ipguard.models.forest import TreeEnsemble

ROLES = ("target", "positive", "negative", "rejected")
MEMBER_FILE = "member.json"
WEIGHTS_FILE = "weights.safetensors"
FOREST_FILE = "forest.safetensors"
# Only constructors from these packages may be named in a member.json (no arbitrary callables).
ALLOWED_TARGET_PREFIXES = ("ipguard.models.", "torchvision.models.")


@dataclass
class Member:
    name: str
    role: str
    kind: str
    arch: str
    seed: int
    parent: str | None = None
    test_accuracy: float | None = None
    parameters: int | None = None
    nonzero_parameters: int | None = None
    train_seconds: float | None = None
    hyper: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] | None = None
    path: str | None = None

    @property
    def dir(self) -> Path:
        if self.path is None:
            raise ValueError(f"member {self.name} has no folder yet")
        return Path(self.path)

    @property
    def is_forest(self) -> bool:
        return self.arch == "forest"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        return data

    def save(self) -> None:
        write_json(self.dir / MEMBER_FILE, self.to_json())

    @classmethod
    def load(cls, folder: str | Path) -> Member:
        file = Path(folder) / MEMBER_FILE
        try:
            data = json.loads(file.read_text())
        except FileNotFoundError as exc:
            raise MissingZooError(f"{file} is missing: rebuild this member") from exc
        except json.JSONDecodeError as exc:
            raise IPGuardError(f"{file} is not valid JSON ({exc}): delete the folder and "
                               "rebuild the member with `python -m train.zoo`") from exc
        known = set(cls.__dataclass_fields__) - {"path"}
        missing = {"name", "role", "kind", "arch", "seed"} - set(data)
        if missing or not isinstance(data, dict):
            raise IPGuardError(f"{file} lacks fields {sorted(missing)}: delete the folder and "
                               "rebuild the member with `python -m train.zoo`")
        if data["role"] not in ROLES:
            raise IPGuardError(f"{file}: role {data['role']!r} is not one of {ROLES}")
        return cls(**{k: v for k, v in data.items() if k in known}, path=str(Path(folder)))

    def build_module(self) -> nn.Module:
        """The architecture, untrained, from the recorded constructor."""
        if not self.model or "_target_" not in self.model:
            raise IPGuardError(f"{self.dir / MEMBER_FILE}: no model constructor recorded")
        return build_from_spec(self.model)

    def load_module(self) -> nn.Module:
        """The trained network, weights read with safetensors (never pickle)."""
        module = self.build_module()
        file = self.dir / WEIGHTS_FILE
        state = _read_safetensors(file, load_file)
        try:
            module.load_state_dict(state)
        except RuntimeError as exc:
            raise IPGuardError(f"{file} does not fit architecture {self.arch} ({exc}): "
                               "rebuild the member with `python -m train.zoo`") from exc
        return module.eval()

    def load_classifier(self, device: str = "cpu") -> Classifier:
        """The member as a label-only API, what Verify queries."""
        if self.is_forest:
            file = self.dir / FOREST_FILE
            return ForestClassifier(_read_safetensors(file, TreeEnsemble.load))
        return TorchClassifier(self.load_module(), device=device)


def build_from_spec(spec: dict[str, Any]) -> nn.Module:
    """Call ``spec['_target_'](**rest)``, restricted to model constructors of known packages."""
    target = str(spec["_target_"])
    if not target.startswith(ALLOWED_TARGET_PREFIXES):
        raise IPGuardError(f"model constructor {target!r} is not allowed: only "
                           f"{ALLOWED_TARGET_PREFIXES} may build zoo members")
    module_name, _, attr = target.rpartition(".")
    fn = getattr(importlib.import_module(module_name), attr)
    return fn(**{k: v for k, v in spec.items() if k != "_target_"})


def _read_safetensors(file: Path, reader: Any) -> Any:
    if not file.is_file():
        raise MissingZooError(f"{file} is missing: rebuild this member with `python -m train.zoo`")
    try:
        return reader(file)
    except (SafetensorError, OSError, ValueError) as exc:
        raise IPGuardError(f"{file} is truncated or corrupt ({exc}): delete its folder and "
                           "rebuild the member with `python -m train.zoo`") from exc


@dataclass
class Zoo:
    """The members found under one dataset's zoo folder."""

    root: Path
    members: list[Member]

    @property
    def target(self) -> Member:
        targets = [m for m in self.members if m.role == "target"]
        if len(targets) != 1:
            raise MissingZooError(f"{self.root}: expected one target, found {len(targets)}")
        return targets[0]

    def suspects(self) -> Iterator[Member]:
        """Positives then negatives, in a stable order; rejected pruning steps are left out."""
        for role in ("positive", "negative"):
            yield from (m for m in self.members if m.role == role)

    def find(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)


def member_dir(zoo_root: str | Path, role: str, name: str) -> Path:
    return Path(zoo_root) / role / name


def is_built(folder: str | Path) -> bool:
    """A member is built once its member.json exists (it is written last, atomically)."""
    return (Path(folder) / MEMBER_FILE).is_file()


def load_zoo(root: str | Path, build_command: str = "python -m train.zoo") -> Zoo:
    """Read every member.json under ``root``; a missing zoo says how to build it."""
    root = Path(root)
    files = sorted(root.glob(f"*/*/{MEMBER_FILE}")) if root.is_dir() else []
    if not files:
        raise MissingZooError(f"no zoo at {root}: build it first with `{build_command}`")
    members = [Member.load(f.parent) for f in files]
    members.sort(key=lambda m: (ROLES.index(m.role), *_kind_order(m), m.seed, m.name))
    zoo = Zoo(root, members)
    _ = zoo.target
    return zoo


_KIND_ORDER = ["target", "ftll", "ftal", "rtll", "rtal", "wp", "fp", "same_arch"]


def _kind_order(m: Member) -> tuple[int, float, str]:
    pos = _KIND_ORDER.index(m.kind) if m.kind in _KIND_ORDER else len(_KIND_ORDER)
    level = float(m.hyper.get("p", m.hyper.get("c", 0.0)))
    return pos, level, m.arch


def save_weights(module: nn.Module, folder: str | Path) -> None:
    from safetensors.torch import save_file

    from ipguard.io import atomic_write

    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write(Path(folder) / WEIGHTS_FILE, lambda tmp: save_file(state, str(tmp)))


def load_state(file: str | Path) -> dict[str, torch.Tensor]:
    return _read_safetensors(Path(file), load_file)
