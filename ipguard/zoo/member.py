"""A zoo on disk: one folder per member, with its weights and a ``member.json``.

``zoo/<dataset>/<role>/<name>/member.json`` records name, role (target / positive / negative,
``rejected`` for the pruning step that broke the 3 % rule, or ``auxiliary`` for the owner's
own models a scheme builds its fingerprint with, never a suspect), kind, architecture, seed,
parent, test accuracy, parameter counts and training seconds, plus the model's constructor
(``model``: a ``_target_`` and its arguments) so that the weights can be loaded without pickle."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from torch import nn

from ipguard.core.classifier import Classifier, ForestClassifier, TorchClassifier
from ipguard.models.forest import TreeEnsemble
from ipguard.utils.errors import IPGuardError, MissingZooError
from ipguard.utils.io import atomic_write, is_pickle, remove_stale_tmp, write_json

ROLES = ("target", "positive", "negative", "rejected", "auxiliary")
MEMBER_FILE = "member.json"
WEIGHTS_FILE = "weights.safetensors"
FOREST_FILE = "forest.safetensors"


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
    weights_sha256: str | None = None  # of the weights (or forest) file, set when saved
    path: str | None = None

    @property
    def dir(self) -> Path:
        if self.path is None:
            raise ValueError(f"member {self.name} has no folder yet")
        return Path(self.path)

    @property
    def is_forest(self) -> bool:
        return self.arch == "forest"

    @property
    def weights_file(self) -> Path:
        return self.dir / (FOREST_FILE if self.is_forest else WEIGHTS_FILE)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        return data

    def save(self) -> None:
        """Write member.json (after the weights: its presence marks the member complete),
        recording the weights' SHA-256 so that results can name the exact zoo they measured."""
        if self.weights_file.is_file():
            self.weights_sha256 = file_sha256(self.weights_file)
        write_json(self.dir / MEMBER_FILE, self.to_json())

    @classmethod
    def load(cls, folder: str | Path) -> Member:
        file = Path(folder) / MEMBER_FILE
        fix = f"delete {Path(folder)} and rebuild the member with `{BUILD_COMMAND}`"
        try:
            data = json.loads(file.read_text())
        except FileNotFoundError as exc:
            raise MissingZooError(f"{file} is missing: {fix}") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IPGuardError(f"{file} is not valid JSON ({exc}): {fix}") from exc
        if not isinstance(data, dict):
            raise IPGuardError(f"{file} holds a {type(data).__name__}, not an object: {fix}")
        missing = {"name", "role", "kind", "arch", "seed"} - set(data)
        if missing:
            raise IPGuardError(f"{file} lacks fields {sorted(missing)}: {fix}")
        if data["role"] not in ROLES:
            raise IPGuardError(f"{file}: role {data['role']!r} is not one of {ROLES}: {fix}")
        for key, types in _FIELD_TYPES.items():
            if key in data and not isinstance(data[key], types) or \
                    isinstance(data.get(key), bool) and bool not in types:
                raise IPGuardError(f"{file}: field {key!r} = {data[key]!r} has the wrong type: "
                                   f"{fix}")
        known = set(cls.__dataclass_fields__) - {"path"}
        return cls(**{k: v for k, v in data.items() if k in known}, path=str(Path(folder)))

    def build_module(self) -> nn.Module:
        """The architecture, untrained, from the recorded constructor."""
        file = self.dir / MEMBER_FILE
        if not isinstance(self.model, dict) or "_target_" not in self.model:
            raise IPGuardError(f"{file}: no model constructor recorded: delete {self.dir} and "
                               f"rebuild the member with `{BUILD_COMMAND}`")
        try:
            return build_from_spec(self.model)
        except IPGuardError as exc:
            raise IPGuardError(f"{file}: {exc}") from exc

    def load_module(self) -> nn.Module:
        """The trained network, weights read with safetensors (never pickle)."""
        module = self.build_module()
        file = self.dir / WEIGHTS_FILE
        state = _read_safetensors(file, load_file)
        try:
            module.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise IPGuardError(f"{file} does not fit architecture {self.arch} ({first}): delete "
                               f"{self.dir} and rebuild the member with `{BUILD_COMMAND}`"
                               ) from exc
        return module.eval()

    def check_files(self) -> None:
        """The weights (or forest) file exists, is safetensors and is complete; cheap (reads
        the header, which covers the file's length), so a whole zoo is checked up front."""
        _read_safetensors(self.weights_file, _tensor_names)

    def load_classifier(self, device: str = "cpu") -> Classifier:
        """The member as a label-only API, what Verify queries."""
        if self.is_forest:
            file = self.dir / FOREST_FILE
            ensemble = _read_safetensors(file, TreeEnsemble.load)
            check_forest(ensemble, file)
            return ForestClassifier(ensemble)
        return TorchClassifier(self.load_module(), device=device)


BUILD_COMMAND = "python -m train.zoo"
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "role": (str,), "kind": (str,), "arch": (str,), "seed": (int,),
    "parent": (str, type(None)), "test_accuracy": (int, float, type(None)),
    "parameters": (int, type(None)), "nonzero_parameters": (int, type(None)),
    "train_seconds": (int, float, type(None)), "hyper": (dict,), "model": (dict, type(None)),
    "weights_sha256": (str, type(None)),
}


def file_sha256(file: str | Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_from_spec(spec: dict[str, Any]) -> nn.Module:
    """Call ``spec['_target_'](**rest)``, restricted to model constructors of known packages
    (a member.json naming anything else, ``os.system`` say, is refused before any import)."""
    from ipguard.utils.targets import build_model

    return build_model(spec, "model")


def _read_safetensors(file: Path, reader: Any) -> Any:
    """Read ``file`` as safetensors and nothing else: a pickle (``torch.save``) file is
    refused unread, since unpickling can run code that the file carries."""
    fix = f"delete {file.parent} and rebuild the member with `{BUILD_COMMAND}`"
    if not file.is_file():
        raise MissingZooError(f"{file} is missing: rebuild this member with `{BUILD_COMMAND}`")
    if is_pickle(file):
        raise IPGuardError(f"{file} is a pickle (torch.save) file, not safetensors; it is "
                           "refused unread because unpickling can run code: get the member as "
                           f"safetensors, or {fix}")
    try:
        return reader(file)
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IPGuardError(f"{file} is truncated or corrupt ({first}): {fix}") from exc


def _tensor_names(file: Path) -> list[str]:
    with safe_open(str(file), framework="numpy") as fh:
        return list(fh.keys())


def check_forest(ensemble: TreeEnsemble, file: Path) -> None:
    """A forest file's arrays must describe trees (children after their parent, features and
    classes in range): a tampered file must not hang or crash the evaluation."""
    left, right, feature = ensemble.left, ensemble.right, ensemble.feature
    trees, nodes = left.shape if left.ndim == 2 else (0, 0)
    bad = None
    if left.ndim != 2 or right.shape != left.shape or feature.shape != left.shape or \
            ensemble.threshold.shape != left.shape or ensemble.value.ndim != 3 or \
            ensemble.value.shape[:2] != left.shape:
        bad = "array shapes disagree"
    else:
        index = torch.arange(nodes).numpy()[None, :]
        for name, child in (("left", left), ("right", right)):
            inner = child != -1
            if ((child[inner] <= index.repeat(trees, 0)[inner]) | (child[inner] >= nodes)).any():
                bad = f"{name} children must point to later nodes"
        if bad is None and ((left == -1) != (right == -1)).any():
            bad = "a node has one child"
        if bad is None and (feature < 0).any():
            bad = "negative feature index"
    if bad is not None:
        raise IPGuardError(f"{file} is not a valid forest ({bad}): delete {file.parent} and "
                           f"rebuild the member with `{BUILD_COMMAND}`")


def save_member(member: Member, artifact: nn.Module | TreeEnsemble) -> Member:
    """Write a member into its folder (``member.path``): the network's weights, or a forest's
    trees, then its member.json with their SHA-256. Each file is written atomically and
    member.json comes last, so its presence marks the member complete; temporary files a run
    killed while writing this member left behind are cleared first."""
    folder = member.dir
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(folder)
    if member.is_forest != isinstance(artifact, TreeEnsemble):
        raise TypeError(f"member {member.name} (arch {member.arch}) cannot be saved from a "
                        f"{type(artifact).__name__}")
    if isinstance(artifact, TreeEnsemble):
        atomic_write(member.weights_file, artifact.save)
    else:
        save_weights(artifact, folder)
    member.save()
    return member


def save_weights(module: nn.Module, folder: str | Path) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write(Path(folder) / WEIGHTS_FILE, lambda tmp: save_file(state, str(tmp)))


def load_state(file: str | Path) -> dict[str, torch.Tensor]:
    return _read_safetensors(Path(file), load_file)
