"""IPGuard one point at a time: the baseline that measures what batching gains (Table 8).

This is how public reimplementations run Extract: ``torch.optim.Adam`` over a single image
tensor, stepping until Eq. 5 is 0 or the iteration cap, then the next image. It solves the same
problem with the same k, lr and cap as :class:`ipguard.core.methods.IPGuard` (same Adam update, same
clip to [0, 1] after each step, same stopping test), so the points and iteration counts agree
and only the wall-clock differs. The loop over points is the point of this class; use
``IPGuard`` for real work."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ipguard.core.methods.base import MethodOutput, input_grad
from ipguard.core.methods.ipguard import IPGuard, boundary_loss
from ipguard.utils.progress import Progress, expect


@dataclass(repr=False)
class OnePointIPGuard(IPGuard):
    """IPGuard's Eq. 5 minimised for one point after another with ``torch.optim.Adam``."""

    name = "ipguard_onepoint"
    paper_name = "IPGuard (one point)"
    tuned_as = "ipguard"

    def __call__(
        self, model: nn.Module, x_init: torch.Tensor, i: torch.Tensor, j: torch.Tensor,
        progress: Progress | None = None,
    ) -> MethodOutput:
        progress = expect(progress, len(x_init), "point")
        xs, iterations = [], []
        for p in range(len(x_init)):
            x = x_init[p : p + 1].detach().clone().clamp_(0, 1).requires_grad_(True)
            optimizer = torch.optim.Adam([x], lr=self.lr, betas=self.betas, eps=self.eps)
            steps = 0
            while steps < self.max_iter:
                loss = boundary_loss(model(x), i[p : p + 1], j[p : p + 1], self.k)
                if loss.item() <= 0:
                    break
                # The input gradient only: model parameters get no .grad, as in every method.
                x.grad = input_grad(loss, x)
                optimizer.step()
                with torch.no_grad():
                    x.clamp_(0, 1)
                steps += 1
            xs.append(x.detach())
            iterations.append(steps)
            progress.update(1, iterations=steps)
        return MethodOutput(
            x=torch.cat(xs),
            iterations=torch.tensor(iterations, dtype=torch.long, device=x_init.device),
        )
