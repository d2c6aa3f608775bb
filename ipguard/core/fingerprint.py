"""The fingerprint: points x in [0, 1], the target's labels y, and how they were made.

Saved as one safetensors file (tensors + JSON metadata in its header): no pickle, so a
fingerprint received from someone else is safe to load."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ipguard.utils.errors import IPGuardError
from ipguard.utils.io import atomic_write, is_pickle
from ipguard.utils.jsonfields import FieldTypeError, typed_fields

STATS = ("i", "j", "iterations", "success", "l2", "linf")
FORMAT = "ipguard.fingerprint/1"
REMAKE = "make a new one with `python -m ipguard.bench` (it writes fingerprint.safetensors)"


@dataclass
class FingerprintMeta:
    """How a fingerprint was made, as its file's header records it: the method and its
    hyper-parameters (``params``: open-ended, each method has its own), the combo, n, the seed,
    the target, and what extraction measured. A file made elsewhere may leave any of them out
    (None); keys this version does not know ride along in ``extra``."""

    method: str | None = None
    params: dict[str, Any] | None = None
    init: str | None = None
    label: str | None = None
    combo: str | None = None
    n: int | None = None
    seed: int | None = None
    seconds: float | None = None
    target: str | None = None
    device: str | None = None
    success_rate: float | None = None
    mean_l2: float | None = None
    mean_iterations: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The header's JSON object: the keys that are set, in this order, then ``extra``."""
        known = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**{k: v for k, v in known.items() if v is not None}, **self.extra}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str) -> FingerprintMeta:
        """The header's object, each known key checked against its type (a fingerprint may
        come from someone else)."""
        try:
            known = typed_fields(cls, data)
        except FieldTypeError as exc:
            raise IPGuardError(f"{source}: fingerprint metadata {exc} ({REMAKE})") from None
        names = {f.name for f in fields(cls)}
        return cls(**known, extra={k: v for k, v in data.items() if k not in names})



@dataclass
class Fingerprint:
    """``x`` (n, C, H, W) float32 in [0, 1], ``y`` (n,) int64 target labels, ``meta`` (how it
    was made) and per-point ``stats`` (initial label i, target label j, iterations, success, L2
    and L-inf distance to the initial point)."""

    x: torch.Tensor
    y: torch.Tensor
    meta: FingerprintMeta = field(default_factory=FingerprintMeta)
    stats: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate(self.x, self.y, source="fingerprint")

    def __len__(self) -> int:
        return len(self.y)

    def save(self, path: str | Path) -> Path:
        tensors = {"x": self.x.float().contiguous(), "y": self.y.long().contiguous()}
        tensors |= {f"stats.{k}": v.contiguous() for k, v in self.stats.items()}
        header = {"meta": json.dumps(self.meta.to_json(), default=str), "format": FORMAT}
        return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=header))

    @classmethod
    def load(cls, path: str | Path, input_shape: tuple[int, ...] | None = None,
             num_classes: int | None = None) -> Fingerprint:
        """Read a fingerprint file, refusing anything but a well-formed one: safetensors only
        (a pickle is refused unread), x (n, C, H, W) float in [0, 1] and y (n,) integer
        labels; ``input_shape``/``num_classes`` (the target's) are checked when given."""
        path = Path(path)
        if not path.is_file():
            raise IPGuardError(f"fingerprint file not found: {path} ({REMAKE})")
        if is_pickle(path):
            raise IPGuardError(f"{path}: not a readable safetensors fingerprint (a pickle file, "
                               f"refused unread because unpickling can run code; {REMAKE})")
        try:
            tensors = load_file(str(path))
            with safe_open(str(path), framework="pt") as fh:
                header = fh.metadata() or {}
        except (SafetensorError, OSError, ValueError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise IPGuardError(f"{path}: not a readable safetensors fingerprint ({first}; "
                               f"{REMAKE})") from exc
        fmt = header.get("format")
        if fmt is not None and fmt != FORMAT:
            raise IPGuardError(f"{path}: format {fmt!r} is not {FORMAT!r} ({REMAKE})")
        if "x" not in tensors or "y" not in tensors:
            raise IPGuardError(f"{path}: fingerprint must hold tensors 'x' and 'y' ({REMAKE})")
        try:
            raw_meta = json.loads(header.get("meta", "{}"))
        except json.JSONDecodeError as exc:
            raise IPGuardError(f"{path}: fingerprint metadata is not valid JSON ({exc}; "
                               f"{REMAKE})") from exc
        if not isinstance(raw_meta, dict):
            raise IPGuardError(f"{path}: fingerprint metadata must be a JSON object ({REMAKE})")
        meta = FingerprintMeta.from_json(raw_meta, str(path))
        stats = {k.removeprefix("stats."): v for k, v in tensors.items() if k.startswith("stats.")}
        x, y = tensors["x"], tensors["y"]
        try:
            validate(x, y, source=str(path))
        except IPGuardError as exc:
            raise IPGuardError(f"{exc} ({REMAKE})") from None
        if input_shape is not None and tuple(x.shape[1:]) != tuple(input_shape):
            raise IPGuardError(f"{path}: points of shape {tuple(x.shape[1:])}, but the target "
                               f"takes {tuple(input_shape)}: a fingerprint of another dataset? "
                               f"({REMAKE})")
        if num_classes is not None and len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise IPGuardError(f"{path}: labels outside 0..{num_classes - 1} ({REMAKE})")
        for name, value in stats.items():
            if value.shape[:1] != y.shape:
                raise IPGuardError(f"{path}: stats.{name} has shape {tuple(value.shape)}, not "
                                   f"({len(y)},) ({REMAKE})")
        return cls(x, y, meta, stats)


def validate(x: torch.Tensor, y: torch.Tensor, source: str) -> None:
    """A fingerprint must be float points in [0, 1] with one integer label each."""
    if x.dim() != 4:
        raise IPGuardError(f"{source}: x must be (n, C, H, W), got shape {tuple(x.shape)}")
    if not torch.is_floating_point(x):
        raise IPGuardError(f"{source}: x must be floating point, got {x.dtype}")
    if y.dim() != 1 or len(y) != len(x):
        raise IPGuardError(f"{source}: y must be ({len(x)},), got shape {tuple(y.shape)}")
    if len(x) == 0:
        raise IPGuardError(f"{source}: a fingerprint needs at least one point")
    if torch.is_floating_point(y) or y.dtype == torch.bool:
        raise IPGuardError(f"{source}: y must hold integer labels, got {y.dtype}")
    if len(x) and (x.min() < 0 or x.max() > 1 or not torch.isfinite(x).all()):
        raise IPGuardError(f"{source}: x must lie in [0, 1] (pixel space), got values outside")
