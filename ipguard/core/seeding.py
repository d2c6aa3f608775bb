"""The four combos of Table 3: initial point T/R and target label R/L."""

from __future__ import annotations

import torch

from ipguard.utils.errors import ConfigError

INITS = {"train": "T", "random": "R"}
LABELS = {"random": "R", "least_likely": "L"}


def combo_suffix(init: str, label: str) -> str:
    """'-TL' for init=train, label=least_likely, and so on (the paper's names)."""
    check_combo(init, label)
    return f"-{INITS[init]}{LABELS[label]}"


def check_combo(init: str, label: str) -> None:
    if init not in INITS:
        raise ConfigError("init", init, f"choose one of {sorted(INITS)} (T or R in Table 3)")
    if label not in LABELS:
        raise ConfigError("label", label, f"choose one of {sorted(LABELS)} (R or L in Table 3)")


def initial_points(
    init: str,
    n: int,
    generator: torch.Generator,
    train_x: torch.Tensor | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> torch.Tensor:
    """T: n training examples drawn at random (without replacement while possible);
    R: n points uniform in [0, 1]^d."""
    if init == "train":
        if train_x is None or len(train_x) == 0:
            raise ConfigError("init", init, "init=train needs training examples (train_x)")
        replace = n > len(train_x)
        if replace:
            idx = torch.randint(len(train_x), (n,), generator=generator)
        else:
            idx = torch.randperm(len(train_x), generator=generator)[:n]
        return train_x[idx].float().clone()
    if init == "random":
        if input_shape is None:
            if train_x is None:
                raise ConfigError("init", init, "init=random needs input_shape")
            input_shape = tuple(train_x.shape[1:])
        return torch.rand((n, *input_shape), generator=generator)
    raise ConfigError("init", init, f"choose one of {sorted(INITS)}")


def target_labels(
    label: str, logits: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """R: a label drawn uniformly among those != the initial prediction i;
    L: the least-likely label (smallest logit) of the initial point."""
    i = logits.argmax(dim=1)
    if label == "least_likely":
        return logits.argmin(dim=1)
    if label == "random":
        c = logits.shape[1]
        offset = torch.randint(1, c, (len(logits),), generator=generator)
        return (i.cpu() + offset) % c
    raise ConfigError("label", label, f"choose one of {sorted(LABELS)}")
