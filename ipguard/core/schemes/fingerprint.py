"""A scheme's fingerprint: the tensors its verification needs (queries, the target's answers
or statistics of them) and a JSON record of how it was made.

Saved as one safetensors file, the record as JSON in its header, written atomically
(:func:`ipguard.utils.io.atomic_write`); no pickle, so a fingerprint from someone else is safe
to load. The record always names the scheme, its hyper-parameters, the access a verification
needs, the queries it spends and the seconds generation took."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ipguard.utils.errors import IPGuardError
from ipguard.utils.io import atomic_write, is_pickle

FORMAT = "ipguard.scheme-fingerprint/1"
# What every record holds (``SchemeFingerprint.meta``), besides what a scheme adds.
REQUIRED = ("scheme", "access", "queries", "seconds", "seed", "params")


@dataclass
class SchemeFingerprint:
    """``tensors``: what verification needs (each scheme documents its own keys); ``meta``: the
    JSON record (``scheme``, ``access``, ``queries`` per verification, generation ``seconds``,
    ``seed``, ``params`` and whatever the scheme adds)."""

    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The record as its file will hold it (tuples become lists): a fingerprint read back
        # equals the one written.
        self.meta = json.loads(json.dumps(self.meta, default=_plain))
        missing = [k for k in REQUIRED if k not in self.meta]
        if missing:
            raise IPGuardError(f"a scheme fingerprint's record lacks {missing}")

    @property
    def scheme(self) -> str:
        return str(self.meta["scheme"])

    @property
    def access(self) -> str:
        """What a verification needs of the suspect: "label" or "prob"."""
        return str(self.meta["access"])

    @property
    def queries(self) -> int:
        """Inputs one verification sends to the suspect."""
        return int(self.meta["queries"])

    @property
    def seconds(self) -> float:
        """Wall-clock seconds generation took."""
        return float(self.meta["seconds"])

    def __getitem__(self, key: str) -> torch.Tensor:
        try:
            return self.tensors[key]
        except KeyError:
            raise IPGuardError(f"the {self.scheme} fingerprint holds no tensor {key!r} "
                               f"(it holds {sorted(self.tensors)})") from None

    def save(self, path: str | Path) -> Path:
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.tensors.items()}
        header = {"format": FORMAT, "meta": json.dumps(self.meta, default=_plain)}
        return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=header))

    @classmethod
    def load(cls, path: str | Path) -> SchemeFingerprint:
        """Read a file written by :meth:`save`; a pickle is refused unread."""
        path = Path(path)
        if not path.is_file():
            raise IPGuardError(f"scheme fingerprint not found: {path}")
        if is_pickle(path):
            raise IPGuardError(f"{path}: a pickle, refused unread (unpickling can run code); "
                               "a scheme fingerprint is a safetensors file")
        try:
            tensors = load_file(str(path))
            with safe_open(str(path), framework="pt") as fh:
                header = fh.metadata() or {}
            meta = json.loads(header.get("meta", "{}"))
        except (SafetensorError, OSError, ValueError) as exc:
            raise IPGuardError(f"{path}: not a readable scheme fingerprint ({exc})") from exc
        if header.get("format") != FORMAT:
            raise IPGuardError(f"{path}: format {header.get('format')!r} is not {FORMAT!r}")
        if not isinstance(meta, dict):
            raise IPGuardError(f"{path}: the record must be a JSON object")
        return cls(tensors, meta)


def _plain(obj: Any) -> Any:
    """JSON for what hyper-parameters hold besides plain values (tuples are lists already)."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


__all__ = ["FORMAT", "REQUIRED", "SchemeFingerprint"]
