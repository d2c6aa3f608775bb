"""The shape every fingerprinting method shares (modelled on torchattacks' attack objects).

A method holds its hyper-parameters and is called on a batch:
``method(model, x_init, i, j) -> MethodOutput``. ``model`` maps pixels in [0, 1] to logits,
``x_init`` (n, C, H, W) are the initial points, ``i`` their labels predicted by the target and
``j`` the target labels. Methods work on the whole batch with per-point masks; they never loop
over points in Python and never update the model's parameters. A method that iterates reports
each iteration (and how many points are still active) to the optional ``progress``
(:class:`ipguard.utils.progress.Progress`), setting its ``total`` first."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import MISSING, asdict, dataclass, fields, is_dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ipguard.utils.errors import ConfigError
from ipguard.utils.progress import Progress


@dataclass
class MethodOutput:
    """Points found (n, C, H, W) in [0, 1] and the gradient iterations each point used."""

    x: torch.Tensor
    iterations: torch.Tensor


class Method(ABC):
    """Base class: subclasses are dataclasses of hyper-parameters that declare what the suite
    needs to know about them (everything else reads these, never a table of its own):

    name: the short name records and keys use; paper_name / math_name: how tables and figures
    print it; swept: the parameter its figure sweeps (None: nothing to sweep); tuned_as: the
    method whose sweeps choose its setting (itself unless it is a variant of another)."""

    name: ClassVar[str] = "method"
    paper_name: ClassVar[str] = ""
    math_name: ClassVar[str] = ""
    swept: ClassVar[str | None] = None
    tuned_as: ClassVar[str] = ""

    @abstractmethod
    def __call__(
        self, model: nn.Module, x_init: torch.Tensor, i: torch.Tensor, j: torch.Tensor,
        progress: Progress | None = None,
    ) -> MethodOutput: ...

    def params(self) -> dict[str, object]:
        """Hyper-parameters, for the fingerprint's metadata and the results record."""
        if is_dataclass(self):
            return {f.name: getattr(self, f.name) for f in fields(self)}
        return {}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The hyper-parameters' default values (a setting's key names only the others)."""
        if not is_dataclass(cls):
            return {}
        out: dict[str, Any] = {}
        for f in fields(cls):
            if f.default is not MISSING:
                out[f.name] = f.default
            elif f.default_factory is not MISSING:
                out[f.name] = f.default_factory()
        return out

    @classmethod
    def title(cls) -> str:
        return cls.paper_name or cls.name

    @classmethod
    def math_title(cls) -> str:
        return cls.math_name or cls.title()

    @classmethod
    def tuning_name(cls) -> str:
        return cls.tuned_as or cls.name

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


# How figures print a swept parameter (matplotlib mathtext).
PARAM_MATH = {"k": r"$k$", "eps": r"$\epsilon$"}


def input_grad(loss: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """d(sum of per-point losses)/dx without touching parameter gradients."""
    (grad,) = torch.autograd.grad(loss.sum(), x)
    return grad


def active_points(active: torch.Tensor, progress: Progress) -> Iterator[torch.Tensor]:
    """The indices of the points still marked in ``active``, anew for each iteration, until
    none is left; the caller clears a point's mark when it stops. Each iteration the caller
    finishes counts one on ``progress``, with the points it worked on (already on the host:
    ``nonzero`` synchronises anyway)."""
    while True:
        idx = active.nonzero().squeeze(1)
        if len(idx) == 0:
            return
        yield idx
        progress.update(1, active=len(idx))


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


__all__ = ["Method", "MethodOutput", "PARAM_MATH", "input_grad", "active_points", "check_adam",
           "adam_step", "asdict"]
