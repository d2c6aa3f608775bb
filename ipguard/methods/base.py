"""The shape every fingerprinting method shares (modelled on torchattacks' attack objects).

A method holds its hyper-parameters and is called on a batch:
``method(model, x_init, i, j) -> MethodOutput``. ``model`` maps pixels in [0, 1] to logits,
``x_init`` (n, C, H, W) are the initial points, ``i`` their labels predicted by the target and
``j`` the target labels. Methods work on the whole batch with per-point masks; they never loop
over points in Python and never update the model's parameters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields, is_dataclass

import torch
from torch import nn

from ipguard.errors import ConfigError


@dataclass
class MethodOutput:
    """Points found (n, C, H, W) in [0, 1] and the gradient iterations each point used."""

    x: torch.Tensor
    iterations: torch.Tensor


class Method(ABC):
    """Base class: subclasses are dataclasses of hyper-parameters with a ``name``."""

    name: str = "method"

    @abstractmethod
    def __call__(
        self, model: nn.Module, x_init: torch.Tensor, i: torch.Tensor, j: torch.Tensor
    ) -> MethodOutput: ...

    def params(self) -> dict[str, object]:
        """Hyper-parameters, for the fingerprint's metadata and the results record."""
        if is_dataclass(self):
            return {f.name: getattr(self, f.name) for f in fields(self)}
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def input_grad(loss: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """d(sum of per-point losses)/dx without touching parameter gradients."""
    (grad,) = torch.autograd.grad(loss.sum(), x)
    return grad


def active_points(active: torch.Tensor) -> Iterator[torch.Tensor]:
    """The indices of the points still marked in ``active``, anew for each iteration, until
    none is left; the caller clears a point's mark when it stops."""
    while True:
        idx = active.nonzero().squeeze(1)
        if len(idx) == 0:
            return
        yield idx


def check_adam(lr: float, max_iter: int, betas: tuple[float, float]) -> tuple[float, float]:
    """Validate the Adam settings of a method (one line naming the field); return ``betas``
    as floats (Hydra hands over a list)."""
    if lr <= 0:
        raise ConfigError("method.lr", lr, "Adam's learning rate must be > 0")
    if max_iter < 1:
        raise ConfigError("method.max_iter", max_iter, "must be an integer >= 1")
    return float(betas[0]), float(betas[1])


def adam_step(
    m: torch.Tensor,
    v: torch.Tensor,
    idx: torch.Tensor,
    grad: torch.Tensor,
    t: torch.Tensor,
    lr: float,
    betas: tuple[float, float],
    eps: float,
) -> torch.Tensor:
    """One Adam step for the points ``idx`` only, each with its own moments (``m``, ``v``,
    updated in place) and its own step count ``t`` (broadcastable to ``grad``). Returns the
    update to subtract. Points outside ``idx`` keep their moments, so a stopped point never
    moves (a shared ``torch.optim.Adam`` would keep moving it by momentum)."""
    b1, b2 = betas
    m[idx] = b1 * m[idx] + (1 - b1) * grad
    v[idx] = b2 * v[idx] + (1 - b2) * grad * grad
    m_hat = m[idx] / (1 - b1**t)
    v_hat = v[idx] / (1 - b2**t)
    return lr * m_hat / (v_hat.sqrt() + eps)


__all__ = ["Method", "MethodOutput", "input_grad", "active_points", "check_adam", "adam_step",
           "asdict"]
