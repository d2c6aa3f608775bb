"""SAC-w and SAC-m (Guan, Liang and He, "Are You Stealing My Model? Sample Correlation for
Fingerprinting Deep Neural Networks", NeurIPS 2022; github.com/guanjiyang/SAC).

A model is represented by the correlations among its outputs on n fixed samples, not by the
outputs themselves. With o_i the model's output on sample x_i, the correlation matrix
(the authors' code, ``correlation``: a cosine distance scaled to [0, 1]) is

    C(i, j) = (1 - cos(o_i, o_j)) / 2,

and the distance between the target's and the suspect's matrices is their mean absolute
(L1) difference, as the authors compute it:

    d = (1 / n^2) * sum_{i,j} |C_t(i, j) - C_s(i, j)|   in [0, 1].

The score is the similarity 1 - d. SAC-w takes n samples the target classifies wrongly
(shared with :mod:`ipguard.core.schemes.misclassified`); SAC-m takes n CutMix-augmented
owner samples (each with a box of another owner sample pasted in).

Outputs: the authors correlate the raw network outputs (the logits). A suspect's API gives
probabilities, which fix the logits up to a common shift; ``output="logits"`` (the default)
takes o_i = log p_i - mean(log p_i), the logits minus their mean, for target and suspect alike;
``output="prob"`` correlates the probability vectors. Access: probabilities (a label-only
suspect raises ``NeedsProbabilities``). The score lies in [0, 1] but is not a rate of agreeing
answers (an independent model scores close to 1 too): ARUC with the paper's uniform
thresholds is not meaningful; use AUC or TPR at a fixed FPR.

Defaults: n = 100 (the authors' CutMix set holds 100 images; SAC-w uses the misclassified
images it finds, "cut_mix_50" is a variant). The authors paste a fixed box of 0.2 of the
image's side near a corner; on 8x8 digits that box is under a pixel (empty), so SAC-m uses
CutMix as Yun et al. define it (a box of side sqrt(1 - lambda), lambda ~ Beta(1, 1))."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ipguard.core.extract import PAPER_N
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
from ipguard.core.schemes.misclassified import cutmix, misclassified
from ipguard.core.schemes.suspect import SuspectAPI


def correlation_matrix(out: torch.Tensor) -> torch.Tensor:
    """C(i, j) = (1 - cos(o_i, o_j)) / 2 for the rows o_i of ``out`` (n, classes): (n, n),
    symmetric, 0 on the diagonal, in [0, 1]."""
    unit = F.normalize(out.double(), dim=1)
    return ((1 - unit @ unit.T) / 2).clamp(0, 1)


def correlation_distance(c_target: torch.Tensor, c_suspect: torch.Tensor) -> float:
    """SAC's distance: the mean absolute difference of two correlation matrices."""
    return float((c_target - c_suspect).abs().mean())


@dataclass(repr=False)
class SampleCorrelation(SchemeBase):
    """What SAC-w and SAC-m share: the correlation matrix of the target's outputs on the
    samples is the fingerprint; a suspect scores 1 - the L1 distance of its matrix to it.
    n: the samples; output: "logits" (centred log-probabilities) or "prob"."""

    n: int = PAPER_N
    output: str = "logits"
    access = "prob"
    is_rate = False

    def __post_init__(self) -> None:
        check_positive("scheme.n", self.n, integer=True)
        check_output(self.output)

    @abstractmethod
    def samples(self, target: nn.Module, owner_x: torch.Tensor, owner_y: torch.Tensor,
                generator: torch.Generator) -> torch.Tensor:
        """The n samples the correlations are taken on."""

    def build(self, target: nn.Module, owner_x: torch.Tensor, owner_y: torch.Tensor,
              aux: Auxiliary | None, generator: torch.Generator,
              ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        x = self.samples(target, owner_x, owner_y, generator)
        theirs = represent(probabilities(target, x), self.output)
        return {"x": x, "correlation": correlation_matrix(theirs)}, {}

    def similarity(self, fp: SchemeFingerprint, api: SuspectAPI) -> float:
        mine = correlation_matrix(represent(api.probabilities(fp["x"]), self.output))
        return 1.0 - correlation_distance(fp["correlation"], mine)

    def queries(self, tensors: dict[str, torch.Tensor]) -> int:
        return len(tensors["x"])


@dataclass(repr=False)
class SACW(SampleCorrelation):
    """SAC-w: n owner samples the target classifies wrongly (CutMix images it gets wrong added
    when there are too few, see :func:`~ipguard.core.schemes.misclassified.misclassified`)."""

    augment: bool = True
    name = "sac_w"
    paper_name = "SAC-w"

    def samples(self, target: nn.Module, owner_x: torch.Tensor, owner_y: torch.Tensor,
                generator: torch.Generator) -> torch.Tensor:
        x, _, _ = misclassified(target, owner_x, owner_y, self.n, generator, self.augment)
        return x


@dataclass(repr=False)
class SACM(SampleCorrelation):
    """SAC-m: n owner samples, each CutMix-ed with another owner sample."""

    name = "sac_m"
    paper_name = "SAC-m"

    def samples(self, target: nn.Module, owner_x: torch.Tensor, owner_y: torch.Tensor,
                generator: torch.Generator) -> torch.Tensor:
        a = sample(len(owner_x), self.n, generator)
        b = a[torch.randperm(len(a), generator=generator)]
        mixed, _ = cutmix(owner_x[a], owner_x[b], generator)
        return mixed


__all__ = ["correlation_matrix", "correlation_distance", "SampleCorrelation", "SACW", "SACM"]
