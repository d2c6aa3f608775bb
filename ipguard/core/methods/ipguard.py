"""IPGuard's Extract step (Section 4.2): Adam on Eq. 5 until each point's loss is 0."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ipguard.core.methods.base import (
    Method,
    MethodOutput,
    active_points,
    adam_step,
    check_adam,
    input_grad,
)
from ipguard.utils.errors import ConfigError
from ipguard.utils.progress import Progress, expect


def boundary_loss(logits: torch.Tensor, i: torch.Tensor, j: torch.Tensor, k: float) -> torch.Tensor:
    """Eq. 5 per point: ReLU(Z_i - Z_j + k) + ReLU(max_{t != i, j} Z_t - Z_i).

    It is 0 exactly when Z_j >= Z_i + k and Z_i is the largest of the other logits: the point
    lies on j's side of the i/j boundary, k away in logit space."""
    rows = torch.arange(len(logits), device=logits.device)
    z_i = logits[rows, i]
    z_j = logits[rows, j]
    others = logits.clone()
    others[rows, i] = float("-inf")
    others[rows, j] = float("-inf")
    z_rest = others.max(dim=1).values
    if logits.shape[1] == 2:  # no third label: the second term vanishes
        z_rest = torch.full_like(z_i, float("-inf"))
    return torch.relu(z_i - z_j + k) + torch.relu(z_rest - z_i)


@dataclass(repr=False)
class IPGuard(Method):
    """Eq. 5 minimised with Adam over the input, batched with per-point stopping.

    Adam is written out so that each point has its own moments and stops for good when its
    loss is 0 (a shared ``torch.optim.Adam`` would keep moving finished points by momentum).
    Points are projected back to [0, 1] after every step.

    k: distance to the boundary in logits (robustness vs uniqueness).
    lr: Adam's step size in pixel units ([0, 1] domain).
    max_iter: iteration cap per point (1,000 in the paper).
    The defaults k = 3, lr = 0.001 are measured on digits (the best of 48 settings, -TL,
    n = 100; 0.01 and 0.1 overshoot: docs/results.md); other datasets set their own in
    conf/tuning/ipguard_<dataset>.yaml."""

    k: float = 3.0
    lr: float = 0.001
    max_iter: int = 1000
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    name = "ipguard"
    paper_name = "IPGuard"
    swept = "k"

    def __post_init__(self) -> None:
        if self.k < 0:
            raise ConfigError("method.k", self.k, "k must be >= 0 (distance to the boundary)")
        self.betas = check_adam(self.lr, self.max_iter, self.betas)

    def __call__(
        self, model: nn.Module, x_init: torch.Tensor, i: torch.Tensor, j: torch.Tensor,
        progress: Progress | None = None,
    ) -> MethodOutput:
        progress = expect(progress, self.max_iter)
        x = x_init.detach().clone().clamp_(0, 1)
        m = torch.zeros_like(x)
        v = torch.zeros_like(x)
        steps = torch.zeros(len(x), dtype=torch.long, device=x.device)
        active = torch.ones(len(x), dtype=torch.bool, device=x.device)
        for idx in active_points(active, progress):
            xa = x[idx].requires_grad_(True)
            loss = boundary_loss(model(xa), i[idx], j[idx], self.k)
            done = loss.detach() <= 0
            can_step = ~done & (steps[idx] < self.max_iter)
            grad = input_grad(loss, xa)
            # Finished (loss 0) and capped points leave the active set and keep their x.
            active[idx[~can_step]] = False
            sel = idx[can_step]
            if len(sel) == 0:
                break
            g = grad[can_step]
            steps[sel] += 1
            t = steps[sel].view(-1, *([1] * (x.dim() - 1))).float()
            step = adam_step(m, v, sel, g, t, self.lr, self.betas, self.eps)
            x[sel] = (x[sel] - step).clamp_(0, 1)
        return MethodOutput(x=x.detach(), iterations=steps)
