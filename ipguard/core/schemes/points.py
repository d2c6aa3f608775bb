"""The paper's five methods as a scheme (IPGuard, Cao et al., AsiaCCS 2021, Sections 4.1-4.2):
Extract finds n points near the target's classification boundary with one of the methods
(Random, FGSM, IGSM, CW-L2, IPGuard); Verify sends them to the suspect's label-only API and
counts the labels that agree with the target's.

    score = m / n,  m = #{k : C_s(x_k) = y_k}   (the matching rate, Section 4.1)

Access: labels. The score is a rate in [0, 1]: robustness, uniqueness and ARUC (Eq. 7) apply.
The scheme is a thin wrapper: ``generate`` is :func:`ipguard.core.extract.extract` on the
owner's data and ``score`` is :func:`ipguard.core.verify.verify`'s matching rate, to the bit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ipguard.core.extract import PAPER_N, extract
from ipguard.core.fingerprint import Fingerprint, FingerprintMeta
from ipguard.core.methods import IPGuard, Method
from ipguard.core.schemes.base import Auxiliary, SchemeBase, check_positive
from ipguard.core.schemes.fingerprint import SchemeFingerprint
from ipguard.core.schemes.suspect import SuspectAPI
from ipguard.core.seeding import check_combo
from ipguard.core.verify import verify

STATS = "stats."


@dataclass(repr=False)
class Points(SchemeBase):
    """method: the point-finding method (its own hyper-parameters and defaults); init/label:
    the combo of Table 3 ("train"/"random", "random"/"least_likely"); n: the points (the
    paper's 100); device: where extraction runs. ``name`` is the method's name ("ipguard",
    "fgsm", ...), so the scheme and the method read alike in records; ``kind`` is "points"."""

    method: Method = field(default_factory=IPGuard)
    init: str = "train"
    label: str = "least_likely"
    n: int = PAPER_N
    device: str = "cpu"
    kind = "points"
    access = "label"
    is_rate = True

    def __post_init__(self) -> None:
        check_combo(self.init, self.label)
        check_positive("scheme.n", self.n, integer=True)
        self.name = self.method.name  # type: ignore[misc]
        self.paper_name = self.method.title()  # type: ignore[misc]

    def title(self) -> str:  # type: ignore[override]
        return self.paper_name or self.name

    def build(self, target: nn.Module, owner_x: torch.Tensor, owner_y: torch.Tensor,
              aux: Auxiliary | None, generator: torch.Generator,
              ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        seed = int(generator.initial_seed())
        fp = extract(target, self.method, init=self.init, label=self.label, n=self.n,
                     seed=seed, train_x=owner_x, input_shape=tuple(owner_x.shape[1:]),
                     device=self.device)
        tensors = {"x": fp.x, "y": fp.y} | {STATS + k: v for k, v in fp.stats.items()}
        return tensors, {"combo": fp.meta.combo, "fingerprint": fp.meta.to_json()}

    def fingerprint(self, fp: SchemeFingerprint) -> Fingerprint:
        """The paper's fingerprint (points, labels, statistics, metadata) inside ``fp``."""
        meta = FingerprintMeta.from_json(fp.meta.get("fingerprint", {}), "scheme fingerprint")
        stats = {k.removeprefix(STATS): v for k, v in fp.tensors.items() if k.startswith(STATS)}
        return Fingerprint(fp["x"], fp["y"], meta, stats)

    def similarity(self, fp: SchemeFingerprint, api: SuspectAPI) -> float:
        return verify(self.fingerprint(fp), api).matching_rate

    def queries(self, tensors: dict[str, torch.Tensor]) -> int:
        return len(tensors["y"])

    def params(self) -> dict[str, Any]:
        out = super().params()
        out.pop("device", None)
        return out


__all__ = ["Points"]
