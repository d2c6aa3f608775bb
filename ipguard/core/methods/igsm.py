"""Targeted IGSM (Eq. 2, Kurakin et al.): small signed-gradient steps inside an L-inf ball."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ipguard.core.methods.base import Method, MethodOutput, active_points, input_grad
from ipguard.utils.errors import ConfigError
from ipguard.utils.progress import Progress, expect


@dataclass(repr=False)
class IGSM(Method):
    """x_t = clip_[0,1](clip_{x_0, eps}(x_{t-1} - alpha * sign(grad_x J(C, j; x_{t-1})))).

    The accumulated noise is kept within eps of the initial point in every pixel (the L-inf
    ball of Kurakin et al.'s basic iterative method, which Eq. 2's clip_eps stands for). Each
    point stops as soon as the target predicts j (checked on the same forward pass that gives
    the next gradient) or after ``max_iter`` steps; finished points never move again.

    eps: the noise bound (pixel units; 0.3 suits 8x8 digits). alpha: the step, 1/255 in the
    paper (the smallest step an 8-bit image allows). max_iter: 1,000 in the paper."""

    eps: float = 0.3
    alpha: float = 1 / 255
    max_iter: int = 1000
    name = "igsm"
    paper_name = "IGSM"
    swept = "eps"

    def __post_init__(self) -> None:
        if not 0 < self.eps <= 1:
            raise ConfigError("method.eps", self.eps, "the noise bound is a pixel step in (0, 1]")
        if self.alpha <= 0:
            raise ConfigError("method.alpha", self.alpha, "the step size must be > 0")
        if self.max_iter < 1:
            raise ConfigError("method.max_iter", self.max_iter, "must be an integer >= 1")

    def __call__(
        self, model: nn.Module, x_init: torch.Tensor, i: torch.Tensor, j: torch.Tensor,
        progress: Progress | None = None,
    ) -> MethodOutput:
        progress = expect(progress, self.max_iter)
        x0 = x_init.detach()
        x = x0.clone()
        lower, upper = (x0 - self.eps).clamp(0, 1), (x0 + self.eps).clamp(0, 1)
        steps = torch.zeros(len(x), dtype=torch.long, device=x.device)
        active = torch.ones(len(x), dtype=torch.bool, device=x.device)
        for idx in active_points(active, progress):
            xa = x[idx].requires_grad_(True)
            logits = model(xa)
            done = logits.detach().argmax(dim=1) == j[idx]
            can_step = ~done & (steps[idx] < self.max_iter)
            active[idx[~can_step]] = False
            if not bool(can_step.any()):
                break
            grad = input_grad(F.cross_entropy(logits, j[idx], reduction="none"), xa)
            sel = idx[can_step]
            steps[sel] += 1
            moved = x[sel] - self.alpha * grad[can_step].sign()
            x[sel] = torch.minimum(torch.maximum(moved, lower[sel]), upper[sel])
        return MethodOutput(x=x, iterations=steps)
