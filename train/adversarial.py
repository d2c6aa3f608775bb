"""Projected gradient descent (Madry et al. 2018) as a training hook: every batch of an
adversarial fine-tuning is replaced by its PGD examples before the forward pass
(train.module.ClassifierModule's ``perturb``). Batched: one forward/backward per step for the
whole batch."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class PGD:
    """L-inf PGD in pixel space [0, 1]: a uniform random start in the epsilon-ball, then
    ``steps`` signed-gradient steps of ``step_size`` on the cross-entropy of the true
    labels, each projected back into the ball and the pixel range. The network is in eval
    mode while the attack runs (batch-norm statistics see only the training batches) and its
    parameters' gradients are untouched (gradients are taken for the input alone)."""

    epsilon: float
    steps: int
    step_size: float
    random_start: bool = True

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        modes = [(m, m.training) for m in model.modules()]
        model.eval()
        try:
            x = x.detach()
            low, high = (x - self.epsilon).clamp(0.0, 1.0), (x + self.epsilon).clamp(0.0, 1.0)
            adv = x.clone()
            if self.random_start:
                adv = adv + torch.empty_like(x).uniform_(-self.epsilon, self.epsilon)
                adv = torch.max(torch.min(adv, high), low)
            for _ in range(self.steps):
                adv.requires_grad_(True)
                with torch.enable_grad():
                    loss = F.cross_entropy(model(adv).float(), y)
                    (grad,) = torch.autograd.grad(loss, adv)
                adv = adv.detach() + self.step_size * grad.sign()
                adv = torch.max(torch.min(adv, high), low)
            return adv.detach()
        finally:
            for m, training in modes:
                m.train(training)
