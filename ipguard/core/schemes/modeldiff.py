"""ModelDiff (Li, Zhang, Liu, Yang and Liu, "ModelDiff: Testing-Based DNN Similarity Comparison
for Model Reuse Detection", ISSTA 2021; github.com/yuanchun-li/ModelDiff).

A model is represented by its decision distance vector (DDV) on n input pairs (x_i, x'_i),
x'_i a perturbed version of x_i: the distance between its outputs on the two inputs of each
pair,

    DDV(f)_i = 1 - cos(f(x_i), f(x'_i)),   i = 1..n,

and two models are as similar as their DDVs point the same way:

    sim(f_t, f_s) = cos(DDV(f_t), DDV(f_s))   (the artifact: 1 - cosine distance of the
                                               L2-normalised DDVs, the same number).

Pairs. ``pairs="adversarial"`` (the default, as QuRD re-implements ModelDiff): x'_i is an
untargeted L-inf PGD adversarial example of x_i on the target (Madry et al.; foolbox's LinfPGD
settings: a random start, 40 steps of eps/30, pushing away from the target's label), so the
pair straddles one of the target's boundaries. ``pairs="normal"``: x'_i is another owner input,
as the artifact pairs its profiling inputs. The artifact's own generator mutates single pixels
of the seeds by +-epsilon to maximise the outputs' diversity and distance to the seeds; it is
not reproduced here (a random search of 1,000 mutations per comparison, tuned to two models at
once where a fingerprint knows only the target).

Outputs: the artifact compares the network's raw outputs (the logits). A suspect's API gives
probabilities, which fix the logits up to a common shift; ``output="logits"`` (the default)
compares log p - mean(log p), the logits minus their mean, for target and suspect alike;
``output="prob"`` the probability vectors (confident outputs then make most distances 0 or 1
and the DDVs of unrelated models alike). Access: probabilities. The score is a cosine in
[-1, 1], not a rate: ARUC with uniform thresholds is not meaningful; use AUC or TPR at a
fixed FPR.

Defaults: 100 pairs (the artifact uses 100 or 300; 100 is the suite's n); eps = 0.1 on the
[0, 1] pixel scale (QuRD's 0.03 is for 224x224 images; on 8x8 digits with 17 grey levels such
a ball holds almost no adversarial example; at 0.1 about two pairs in three straddle a
boundary of the target, while larger balls push every x' deep into another class, where all
models agree)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ipguard.core.extract import PAPER_N
from ipguard.core.methods.base import input_grad
from ipguard.core.schemes.base import (
    Auxiliary,
    SchemeBase,
    check_output,
    check_positive,
    device_of,
    outputs,
    probabilities,
    represent,
    sample,
)
from ipguard.core.schemes.fingerprint import SchemeFingerprint
from ipguard.core.schemes.suspect import SuspectAPI
from ipguard.utils.errors import ConfigError

PAIRS = ("adversarial", "normal")


def ddv(p: torch.Tensor, p_prime: torch.Tensor) -> torch.Tensor:
    """The decision distance vector: 1 - cos(o_i, o'_i) for each pair of output rows."""
    return 1 - F.cosine_similarity(p.double(), p_prime.double(), dim=1)


def ddv_similarity(ddv_a: torch.Tensor, ddv_b: torch.Tensor) -> float:
    """The cosine of two DDVs (0 when either is all zeros)."""
    return float(F.cosine_similarity(ddv_a.double()[None], ddv_b.double()[None], eps=1e-12))


def pgd(model: nn.Module, x: torch.Tensor, eps: float, steps: int, step: float,
        generator: torch.Generator) -> torch.Tensor:
    """Untargeted L-inf PGD with a random start away from the model's own labels of x: every
    point takes every step (a point already misclassified goes on moving away)."""
    device = device_of(model)
    x0 = x.to(device)
    labels = outputs(model, x).argmax(dim=1).to(device)
    noise = (torch.rand(x.shape, generator=generator) * 2 - 1) * eps
    adv = (x0 + noise.to(device)).clamp(0, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        grad = input_grad(F.cross_entropy(model(adv), labels, reduction="none"), adv)
        adv = adv.detach() + step * grad.sign()
        adv = torch.minimum(torch.maximum(adv, x0 - eps), x0 + eps).clamp(0, 1)
    return adv.detach().cpu()


@dataclass(repr=False)
class ModelDiff(SchemeBase):
    """n: the input pairs; pairs: "adversarial" or "normal"; eps, steps, rel_step: the PGD
    of adversarial pairs (ball, iterations, step as a fraction of eps); output: "logits"
    (centred log-probabilities) or "prob"."""

    n: int = PAPER_N
    pairs: str = "adversarial"
    eps: float = 0.1
    steps: int = 40
    rel_step: float = 0.01 / 0.3
    output: str = "logits"
    name = "modeldiff"
    paper_name = "ModelDiff"
    access = "prob"
    is_rate = False

    def __post_init__(self) -> None:
        check_positive("scheme.n", self.n, integer=True)
        check_positive("scheme.steps", self.steps, integer=True)
        check_positive("scheme.rel_step", self.rel_step)
        check_output(self.output)
        if self.pairs not in PAIRS:
            raise ConfigError("scheme.pairs", self.pairs, f"choose one of {list(PAIRS)}")
        if not 0 < self.eps <= 1:
            raise ConfigError("scheme.eps", self.eps, "the L-inf bound is a pixel step in (0, 1]")

    def build(self, target: nn.Module, owner_x: torch.Tensor, owner_y: torch.Tensor,
              aux: Auxiliary | None, generator: torch.Generator,
              ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        seeds = sample(len(owner_x), self.n, generator)
        x = owner_x[seeds]
        if self.pairs == "adversarial":
            x_prime = pgd(target, x, self.eps, self.steps, self.rel_step * self.eps, generator)
        else:
            others = (seeds + torch.randint(1, max(len(owner_x), 2), (self.n,),
                                            generator=generator)) % len(owner_x)
            x_prime = owner_x[others]
        p = probabilities(target, torch.cat([x, x_prime]))
        flips = (p[: self.n].argmax(1) != p[self.n:].argmax(1)).float().mean()
        o = represent(p, self.output)
        return ({"x": x, "x_prime": x_prime, "ddv": ddv(o[: self.n], o[self.n:])},
                {"label_changes": float(flips)})

    def similarity(self, fp: SchemeFingerprint, api: SuspectAPI) -> float:
        n = len(fp["x"])
        o = represent(api.probabilities(torch.cat([fp["x"], fp["x_prime"]])), self.output)
        return ddv_similarity(fp["ddv"], ddv(o[:n], o[n:]))

    def queries(self, tensors: dict[str, torch.Tensor]) -> int:
        return 2 * len(tensors["x"])


__all__ = ["PAIRS", "ddv", "ddv_similarity", "pgd", "ModelDiff"]
