"""Conferrable adversarial examples (Lukas, Zhang and Kerschbaum, "Deep Neural Network
Fingerprinting by Conferrable Adversarial Examples", ICLR 2021).

A conferrable adversarial example x' with target label t transfers to the surrogates S of the
target (models derived from it) but not to the reference models R (trained independently):

    Transfer(M, x'; t) = Pr_{m in M}[m(x') = t]
    CONF(S, R, x'; t)  = Transfer(S, x'; t) * (1 - Transfer(R, x'; t))

Generation (the paper's ensemble method, C-IGM) optimises, over an L-inf ball of radius eps
around a seed x0 the target labels correctly, the loss

    L(x0, x') = l1 * H(1, max_t Sigma(x')_t) - l2 * H(M(x0), M(x')) + l3 * H(M(x'), S(x')),
    Sigma(x') = S(x') * (1 - R(x'))   (per class; S, R the mean softmax of S and of R)

with H the cross-entropy and M the target's softmax: make some label highly conferrable,
move the target away from its label of the seed, and have the surrogates agree with the
target on x'. The fingerprint keeps, of the examples that changed the target's label, the n
with the highest CONF for the target's new label t = M(x'); verification is the paper's
fingerprint retention: the fraction of them the suspect labels t (an error rate matched to
the target's). Access: labels. The score is a rate in [0, 1]: ARUC (Eq. 7) applies.

Simplified: the loss is minimised with signed-gradient steps projected onto the eps-ball
(PGD, as IGSM) where the paper's C-IGM uses its own iterative optimiser; the paper selects
examples by their conferrability, here the n most conferrable are kept (those that did not
change the target's label last). Weights and steps are ours, for digits: with l1 = l2 = l3 = 1
the second term, a cross-entropy that grows without bound as the target leaves its seed label,
sets the direction of every signed step, and the examples transfer to every model (mean CONF
0.19 on the test suite's MLPs); (l1, l2, l3) = (1, 0.01, 0.1) keeps CONF near 1 with the
target's label changed on every example. The surrogates and references are the owner's
(``Auxiliary``), trained by the zoo builder, never the suspects. eps: the paper's 0.025 is
for CINIC-10 and ImageNet32 colour images; on 8x8 digits with 17 grey levels no example that
small changes a label, so the default is 0.25."""

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
    MissingAuxiliary,
    SchemeBase,
    check_positive,
    device_of,
    outputs,
    sample,
)
from ipguard.core.schemes.fingerprint import SchemeFingerprint
from ipguard.core.schemes.suspect import SuspectAPI
from ipguard.utils.errors import ConfigError

TINY = 1e-12


def transfer(labels: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Transfer(M, x; t): for labels (models, n) of the models M, the fraction labelling each
    point t (n,)."""
    return (labels == t[None]).double().mean(dim=0)


def conferrability(surrogate_labels: torch.Tensor, reference_labels: torch.Tensor,
                   t: torch.Tensor) -> torch.Tensor:
    """CONF(S, R, x; t) = Transfer(S, x; t) * (1 - Transfer(R, x; t)), per point (n,)."""
    return transfer(surrogate_labels, t) * (1 - transfer(reference_labels, t))


def ensemble_conferrability(surrogate_probs: torch.Tensor,
                            reference_probs: torch.Tensor) -> torch.Tensor:
    """Sigma(x) = mean_S s(x) * (1 - mean_R r(x)) per class, for softmax outputs (models, n,
    classes): the ensemble's differentiable conferrability of every label, (n, classes)."""
    return surrogate_probs.mean(dim=0) * (1 - reference_probs.mean(dim=0))


def cae_loss(p_seed: torch.Tensor, p_target: torch.Tensor, p_surrogates: torch.Tensor,
             p_references: torch.Tensor, weights: tuple[float, float, float]) -> torch.Tensor:
    """The per-point loss L(x0, x') above from softmax outputs: the target's on the seed and on
    x' (n, classes), the surrogates' and references' on x' (models, n, classes)."""
    l1, l2, l3 = weights
    sigma = ensemble_conferrability(p_surrogates, p_references)
    conferrable = -torch.log(sigma.max(dim=1).values + TINY)          # H(1, max_t Sigma_t)
    away = -(p_seed * torch.log(p_target + TINY)).sum(dim=1)          # H(M(x0), M(x'))
    agree = -(p_target * torch.log(p_surrogates.mean(0) + TINY)).sum(dim=1)  # H(M(x'), S(x'))
    return l1 * conferrable - l2 * away + l3 * agree


def softmaxes(models: tuple[nn.Module, ...], x: torch.Tensor) -> torch.Tensor:
    return torch.stack([F.softmax(m(x.to(device_of(m))).to(x.device), dim=1) for m in models])


@torch.no_grad()
def labels_of(models: tuple[nn.Module, ...], x: torch.Tensor) -> torch.Tensor:
    return torch.stack([outputs(m, x).argmax(dim=1) for m in models])


@dataclass(repr=False)
class CAE(SchemeBase):
    """n: the fingerprint's examples (100); candidates: seeds optimised per example kept;
    eps: the L-inf ball; alpha: the step; max_iter: the steps; weights: (l1, l2, l3)."""

    n: int = PAPER_N
    candidates: int = 2
    eps: float = 0.25
    alpha: float = 0.005
    max_iter: int = 100
    weights: tuple[float, float, float] = (1.0, 0.01, 0.1)
    name = "cae"
    paper_name = "CAE"
    access = "label"
    is_rate = True
    needs_auxiliary = True

    def __post_init__(self) -> None:
        for field, value in (("n", self.n), ("candidates", self.candidates),
                             ("max_iter", self.max_iter)):
            check_positive(f"scheme.{field}", value, integer=True)
        check_positive("scheme.alpha", self.alpha)
        if not 0 < self.eps <= 1:
            raise ConfigError("scheme.eps", self.eps, "the L-inf bound is a pixel step in (0, 1]")
        self.weights = tuple(float(w) for w in self.weights)  # type: ignore[assignment]

    def build(self, target: nn.Module, owner_x: torch.Tensor, owner_y: torch.Tensor,
              aux: Auxiliary | None, generator: torch.Generator,
              ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        surrogates, references = self.auxiliary(aux)
        for m in surrogates + references:
            m.eval()
        correct = (outputs(target, owner_x).argmax(dim=1) == owner_y).nonzero().squeeze(1)
        seeds = correct[sample(len(correct), self.n * self.candidates, generator)]
        x0 = owner_x[seeds]
        x_adv = self.optimise(target, surrogates, references, x0)
        t = outputs(target, x_adv).argmax(dim=1)
        conf = conferrability(labels_of(surrogates, x_adv), labels_of(references, x_adv), t)
        moved = t != owner_y[seeds]
        keep = torch.argsort(conf + moved.double(), descending=True, stable=True)[: self.n]
        tensors = {"x": x_adv[keep], "y": t[keep], "conf": conf[keep], "moved": moved[keep]}
        return tensors, {"mean_conf": float(conf[keep].mean()),
                         "moved": float(moved[keep].double().mean()),
                         "surrogates": len(surrogates), "references": len(references)}

    def auxiliary(self, aux: Auxiliary | None) -> tuple[tuple[nn.Module, ...], ...]:
        if aux is None or not aux.surrogates or not aux.references:
            raise MissingAuxiliary("CAE needs the owner's surrogate models (derived from the "
                                   "target) and reference models (independent): pass "
                                   "aux=Auxiliary(surrogates=[...], references=[...])")
        return tuple(aux.surrogates), tuple(aux.references)

    def optimise(self, target: nn.Module, surrogates: tuple[nn.Module, ...],
                 references: tuple[nn.Module, ...], x0: torch.Tensor) -> torch.Tensor:
        """PGD on the CAE loss: every point takes ``max_iter`` signed steps of ``alpha``,
        projected onto the eps-ball around its seed and onto [0, 1]."""
        device = device_of(target)
        x0 = x0.to(device)
        with torch.no_grad():
            p_seed = F.softmax(target(x0), dim=1)
        x = x0.clone()
        for _ in range(self.max_iter):
            x.requires_grad_(True)
            loss = cae_loss(p_seed, F.softmax(target(x), dim=1), softmaxes(surrogates, x),
                            softmaxes(references, x), self.weights)  # type: ignore[arg-type]
            x = x.detach() - self.alpha * input_grad(loss, x).sign()
            x = torch.minimum(torch.maximum(x, x0 - self.eps), x0 + self.eps).clamp(0, 1)
        return x.detach().cpu()

    def similarity(self, fp: SchemeFingerprint, api: SuspectAPI) -> float:
        return float((api.labels(fp["x"]) == fp["y"]).float().mean())

    def queries(self, tensors: dict[str, torch.Tensor]) -> int:
        return len(tensors["y"])


__all__ = ["transfer", "conferrability", "ensemble_conferrability", "cae_loss", "CAE"]
