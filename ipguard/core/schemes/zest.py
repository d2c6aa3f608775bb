"""Zest (Jia, Choquette-Choo, Chandrasekaran and Papernot, "A Zest of LIME: Towards
Architecture-Independent Model Distances", ICLR 2022; github.com/cleverhans-lab/
Zest-Model-Distance).

A model is represented by LIME's local linear explanations of its outputs around R reference
samples. For reference x_r, split into F superpixels, S binary masks z in {0, 1}^F (the first
all ones) switch superpixels off (replaced by the data's mean image); the model's outputs on
the S masked images are regressed on the masks by least squares, as the authors' code does:

    W_r = (Z_r^T Z_r)^+ Z_r^T Y_r     (F, classes),  Z_r (S, F) the masks, Y_r (S, classes)

The signature is the R explanations stacked, (R * F, classes), computed on the same masked
images for every model. Two signatures are compared class by class after aligning classes
greedily (the authors' ``lime_align``: repeatedly pair the two closest class columns), by the
cosine distance of the flattened signatures (one of the four distances the authors' code
offers, with L1, L2 and L-inf; the one QuRD uses):

    d = 1 - cos(vec W_t, vec W_s),    score = 1 - d = cos(vec W_t, vec W_s)   in [-1, 1].

Outputs: the authors' code regresses the network's raw outputs (the logits). A suspect's API
gives probabilities, which fix the logits up to a common shift; ``output="logits"`` (the
default) regresses log p - mean(log p), the logits minus their mean, for target and suspect
alike; ``output="prob"`` the probabilities (as LIME explains a classifier). Access:
probabilities. The score is not a rate: ARUC does not apply; use AUC or TPR at a fixed FPR.

Why Zest of the three the suite could add (UAP-based fingerprinting, Peng et al., CVPR 2022;
ADV-TRA, NeurIPS 2024; Zest): Zest has no training step and few settings, all stated in the
paper and its code (128 references, 1,000 masks each, plain least squares, cosine distance),
and its whole computation is batched linear algebra, quick on 8x8 digits on a CPU. UAP
fingerprinting trains a contrastive encoder on the UAPs of many positive and negative models
of the owner's and ADV-TRA tunes multi-step adversarial trajectories with schedules the papers
leave to the implementation; neither can be reproduced faithfully at this size without them.

Defaults: R = 128 and S = 1,000 as the paper's code. Superpixels: the authors segment each
reference with quickshift (kernel 4, ratio 0.2, max_dist 200), made for 32x32 colour images
(its kernel is half an 8x8 digit, and scikit-image is not a dependency here); instead each
image is cut into a ``grid`` x ``grid`` of equal cells (4 x 4 = 16 superpixels of 2 x 2
pixels on digits), the same cells for every reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ipguard.core.schemes.base import (
    Auxiliary,
    SchemeBase,
    check_output,
    check_positive,
    probabilities,
    represent,
    sample,
)
from ipguard.core.schemes.fingerprint import SchemeFingerprint
from ipguard.core.schemes.suspect import SuspectAPI
from ipguard.utils.errors import ConfigError

# Masked images built and sent at once: references per chunk (bounds memory for large images).
CHUNK_PIXELS = 1 << 24


def grid_segments(height: int, width: int, grid: int) -> torch.Tensor:
    """(H, W) superpixel ids 0..grid^2-1: a grid of (nearly) equal cells, row-major."""
    rows = torch.arange(height) * grid // height
    cols = torch.arange(width) * grid // width
    return rows[:, None] * grid + cols[None, :]


def masked_images(x: torch.Tensor, masks: torch.Tensor, segments: torch.Tensor,
                  fill: torch.Tensor) -> torch.Tensor:
    """For references x (R, C, H, W) and masks (R, S, F): the R * S images in which each
    switched-off superpixel shows ``fill`` (C,) instead, (R * S, C, H, W)."""
    on = F.one_hot(segments, masks.shape[-1]).to(x.dtype)            # (H, W, F)
    keep = torch.einsum("rsf,hwf->rshw", masks.to(x.dtype), on)[:, :, None]
    images = x[:, None] * keep + fill[None, None, :, None, None] * (1 - keep)
    return images.flatten(0, 1)


def lime_weights(masks: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Least squares per reference: (Z^T Z)^+ Z^T Y for masks (R, S, F) and outputs (R, S, K):
    (R, F, K)."""
    z = masks.double()
    return torch.linalg.pinv(z.mT @ z) @ z.mT @ y.double()


def align_classes(w_a: torch.Tensor, w_b: torch.Tensor) -> torch.Tensor:
    """w_b's class columns reordered to match w_a's (both (rows, K)): the closest pair of
    columns by cosine distance first, then the closest of those left, and so on."""
    a, b = F.normalize(w_a.double(), dim=0), F.normalize(w_b.double(), dim=0)
    dist = 1 - a.T @ b                                                # (K, K)
    order = torch.empty(dist.shape[0], dtype=torch.long)
    for _ in range(dist.shape[0]):
        j, k = divmod(int(dist.argmin()), dist.shape[1])
        order[j] = k
        dist[j, :] = torch.inf
        dist[:, k] = torch.inf
    return w_b[:, order]


def signature_similarity(w_a: torch.Tensor, w_b: torch.Tensor, align: bool = True) -> float:
    """cos(vec W_a, vec W_b) of two signatures (R, F, K), classes aligned first."""
    flat_a, flat_b = w_a.reshape(-1, w_a.shape[-1]), w_b.reshape(-1, w_b.shape[-1])
    if align:
        flat_b = align_classes(flat_a, flat_b)
    return float(F.cosine_similarity(flat_a.reshape(1, -1).double(),
                                     flat_b.reshape(1, -1).double(), eps=1e-12))


@dataclass(repr=False)
class Zest(SchemeBase):
    """references: R; samples: S masks per reference; grid: superpixels per side; align:
    align classes before comparing (the paper's alignment, for models whose label orders may
    differ); output: "logits" (centred log-probabilities) or "prob"."""

    references: int = 128
    samples: int = 1000
    grid: int = 4
    align: bool = True
    output: str = "logits"
    name = "zest"
    paper_name = "Zest"
    access = "prob"
    is_rate = False

    def __post_init__(self) -> None:
        for field, value in (("references", self.references), ("samples", self.samples),
                             ("grid", self.grid)):
            check_positive(f"scheme.{field}", value, integer=True)
        check_output(self.output)
        if self.samples < self.grid**2:
            raise ConfigError("scheme.samples", self.samples, f"at least as many masks as "
                              f"superpixels ({self.grid**2}) to fit each explanation")

    def build(self, target: nn.Module, owner_x: torch.Tensor, owner_y: torch.Tensor,
              aux: Auxiliary | None, generator: torch.Generator,
              ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        _, _, h, w = owner_x.shape
        if self.grid > min(h, w):
            raise ConfigError("scheme.grid", self.grid, f"at most the image's side ({min(h, w)})")
        x = owner_x[sample(len(owner_x), self.references, generator)]
        masks = torch.randint(0, 2, (self.references, self.samples, self.grid**2),
                              generator=generator, dtype=torch.uint8)
        masks[:, 0] = 1
        tensors = {"x": x, "masks": masks, "segments": grid_segments(h, w, self.grid),
                   "fill": owner_x.mean(dim=(0, 2, 3))}
        tensors["signature"] = self.signature(
            tensors, lambda q: represent(probabilities(target, q), self.output))
        return tensors, {}

    def signature(self, tensors: dict[str, torch.Tensor], answer: Any) -> torch.Tensor:
        """The stacked explanations (R, F, K) of the model behind ``answer`` (images ->
        what the scheme compares), its queries sent a chunk of references at a time."""
        x, masks = tensors["x"], tensors["masks"]
        per_ref = masks.shape[1] * x[0].numel()
        step = max(1, CHUNK_PIXELS // per_ref)
        weights = []
        for start in range(0, len(x), step):
            xs, ms = x[start:start + step], masks[start:start + step]
            y = answer(masked_images(xs, ms, tensors["segments"], tensors["fill"]))
            weights.append(lime_weights(ms, y.reshape(len(xs), ms.shape[1], -1)))
        return torch.cat(weights)

    def similarity(self, fp: SchemeFingerprint, api: SuspectAPI) -> float:
        mine = self.signature(fp.tensors, lambda q: represent(api.probabilities(q), self.output))
        return signature_similarity(fp["signature"], mine, self.align)

    def queries(self, tensors: dict[str, torch.Tensor]) -> int:
        return int(tensors["masks"].shape[0] * tensors["masks"].shape[1])


__all__ = ["grid_segments", "masked_images", "lime_weights", "align_classes",
           "signature_similarity", "Zest"]
