"""The misclassification baseline ("AKH" in QuRD, Godinot et al., AAAI 2025, github.com/grodino/
QuRD): the fingerprint is n of the owner's inputs that the target labels wrongly, with the
target's (wrong) labels; a suspect derived from the target repeats its mistakes, an
independent model mostly labels them otherwise. Verification counts agreements (QuRD: one
minus the Hamming distance of the label vectors):

    score = (1/n) * #{k : C_s(x_k) = C_t(x_k)},   C_t(x_k) != y_k for every k

Access: labels. The score is a rate in [0, 1]: robustness, uniqueness and ARUC (Eq. 7) apply.

A well-trained target gets few of its owner's inputs wrong. Like QuRD, the scheme then adds
CutMix images (Yun et al., ICCV 2019: a box of one input pasted into another, the box's side
sqrt(1 - lambda) of the image's, lambda ~ Beta(1, 1)), but keeps only those the target labels
wrongly, the true label being that of the input covering most of the image, so that every
point is a mistake of the target. QuRD mixes the misclassified inputs among themselves, adds
flipped copies and keeps them unchecked; flips are left out here (a flipped digit is not that
digit) and the mixes are of any two owner inputs (a target may get none of them wrong)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ipguard.core.extract import PAPER_N
from ipguard.core.schemes.base import Auxiliary, SchemeBase, check_positive, outputs, sample
from ipguard.core.schemes.fingerprint import SchemeFingerprint
from ipguard.core.schemes.suspect import SuspectAPI
from ipguard.utils.errors import IPGuardError

# CutMix's Beta(alpha, alpha), alpha = 1 in Yun et al. (lambda uniform in [0, 1]).
CUTMIX_ALPHA = 1.0


def cutmix(xa: torch.Tensor, xb: torch.Tensor, generator: torch.Generator,
           alpha: float = CUTMIX_ALPHA) -> tuple[torch.Tensor, torch.Tensor]:
    """CutMix (Yun et al., 2019) of each xa[k] with xb[k]: a box of side sqrt(1 - lambda) times
    the image's, centred uniformly and clipped to the image, is taken from xb. Returns the mixed
    images and the fraction of each that is still xa (the adjusted lambda)."""
    n, _, h, w = xa.shape
    seed = int(torch.randint(2**62, (1,), generator=generator))
    lam = torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, n)).float()
    cut = (1 - lam).sqrt()
    half_w, half_h = (w * cut).long() // 2, (h * cut).long() // 2
    cx = torch.randint(w, (n,), generator=generator)
    cy = torch.randint(h, (n,), generator=generator)
    x1, x2 = (cx - half_w).clamp(0, w), (cx + half_w).clamp(0, w)
    y1, y2 = (cy - half_h).clamp(0, h), (cy + half_h).clamp(0, h)
    rows, cols = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
    box = ((rows >= y1[:, None, None]) & (rows < y2[:, None, None])
           & (cols >= x1[:, None, None]) & (cols < x2[:, None, None]))
    mixed = torch.where(box[:, None], xb, xa)
    return mixed, 1 - box.flatten(1).float().mean(dim=1)


def misclassified(target: nn.Module, x: torch.Tensor, y: torch.Tensor, n: int,
                  generator: torch.Generator, augment: bool = True, rounds: int = 50,
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n inputs the target labels wrongly: the owner's own first (in random order), then, with
    ``augment``, CutMix images of owner inputs it labels wrongly. Returns the inputs, their
    true labels (a CutMix image's: the label of the input covering most of it) and whether each
    is a CutMix image. Raises when fewer than n can be found."""
    wrong = (outputs(target, x).argmax(dim=1) != y).nonzero().squeeze(1)
    order = wrong[torch.randperm(len(wrong), generator=generator)]
    found, labels = [x[order]], [y[order]]
    count = len(order)
    for _ in range(rounds if augment else 0):
        if count >= n:
            break
        a, b = sample(len(x), 4 * n, generator), sample(len(x), 4 * n, generator)
        mixed, kept = cutmix(x[a], x[b], generator)
        truth = torch.where(kept >= 0.5, y[a], y[b])
        mistakes = outputs(target, mixed).argmax(dim=1) != truth
        found.append(mixed[mistakes])
        labels.append(truth[mistakes])
        count += int(mistakes.sum())
    if count < n:
        raise IPGuardError(f"the target labels only {count} owner inputs wrongly "
                           f"{'(CutMix included) ' if augment else ''}but the scheme needs {n}: "
                           "lower n or give more owner data")
    is_mix = torch.arange(n) >= len(order)
    return torch.cat(found)[:n], torch.cat(labels)[:n], is_mix


@dataclass(repr=False)
class Misclassified(SchemeBase):
    """n: the inputs (QuRD's budget; 100 here, the paper's n); augment: add CutMix images the
    target gets wrong when its owner's own mistakes are too few."""

    n: int = PAPER_N
    augment: bool = True
    name = "akh"
    paper_name = "AKH"
    access = "label"
    is_rate = True

    def __post_init__(self) -> None:
        check_positive("scheme.n", self.n, integer=True)

    def build(self, target: nn.Module, owner_x: torch.Tensor, owner_y: torch.Tensor,
              aux: Auxiliary | None, generator: torch.Generator,
              ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        x, truth, is_mix = misclassified(target, owner_x, owner_y, self.n, generator,
                                         self.augment)
        y = outputs(target, x).argmax(dim=1)
        tensors = {"x": x, "y": y, "truth": truth, "cutmix": is_mix}
        return tensors, {"cutmix": int(is_mix.sum())}

    def similarity(self, fp: SchemeFingerprint, api: SuspectAPI) -> float:
        return float((api.labels(fp["x"]) == fp["y"]).float().mean())

    def queries(self, tensors: dict[str, torch.Tensor]) -> int:
        return len(tensors["y"])


__all__ = ["CUTMIX_ALPHA", "cutmix", "misclassified", "Misclassified"]
