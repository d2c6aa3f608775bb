"""Targeted FGSM (Eq. 1): one signed-gradient step of size eps towards the target label."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ipguard.core.methods.base import Method, MethodOutput, input_grad
from ipguard.utils.errors import ConfigError
from ipguard.utils.progress import Progress


@dataclass(repr=False)
class FGSM(Method):
    """x' = clip_[0,1](x - eps * sign(grad_x J(C, j; x))), J the cross-entropy C was trained with.

    Every pixel whose gradient is non-zero moves by exactly eps (less only where the clip to
    [0, 1] bites), so the L-inf distance to the start is eps. One gradient: ``iterations`` is 1.

    eps: the noise bound, in pixel units ([0, 1] domain); 0.3 suits 8x8 digits (conf)."""

    eps: float = 0.3
    name = "fgsm"
    paper_name = "FGSM"
    swept = "eps"

    def __post_init__(self) -> None:
        if not 0 < self.eps <= 1:
            raise ConfigError("method.eps", self.eps, "the noise bound is a pixel step in (0, 1]")

    def __call__(
        self, model: nn.Module, x_init: torch.Tensor, i: torch.Tensor, j: torch.Tensor,
        progress: Progress | None = None,
    ) -> MethodOutput:
        x = x_init.detach().clone().requires_grad_(True)
        loss = F.cross_entropy(model(x), j, reduction="none")
        grad = input_grad(loss, x)
        x_adv = (x.detach() - self.eps * grad.sign()).clamp_(0, 1)
        iterations = torch.ones(len(x_init), dtype=torch.long, device=x_init.device)
        return MethodOutput(x=x_adv, iterations=iterations)
