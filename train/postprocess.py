"""The paper's post-processing of a pirated target (Section 5.1.2): what the positives are.

FTLL/FTAL fine-tune the last/all layers; RTLL/RTAL re-initialise the last layer and train
it/all layers; WP prunes the p fraction of smallest-magnitude weights; FP prunes, in each
convolution, the c fraction of filters with the smallest L1 norms. Pruned models are then
retrained briefly with their masks held, and each pruning level is a suspect only while the
test accuracy loss stays within the 3 % rule."""

from __future__ import annotations

from fractions import Fraction

import torch
from torch import nn

from ipguard.models.layers import last_linear
from ipguard.utils.errors import ConfigError

FINETUNE_KINDS = {
    # kind: (re-initialise the last layer, which layers train)
    "ftll": (False, "last"),
    "ftal": (False, "all"),
    "rtll": (True, "last"),
    "rtal": (True, "all"),
}


def prepare_finetune(model: nn.Module, kind: str, seed: int) -> str:
    """Re-initialise the last layer for RT*, and say which layers train ("last" or "all")."""
    if kind not in FINETUNE_KINDS:
        raise ConfigError("kind", kind, f"choose one of {sorted(FINETUNE_KINDS)}")
    reinit, trainable = FINETUNE_KINDS[kind]
    if reinit:
        torch.manual_seed(seed)
        last_linear(model)[1].reset_parameters()
    return trainable


def within_budget(target_accuracy: float, accuracy: float, max_loss: float = 0.03) -> bool:
    """The 3 % rule: a pruned model is a suspect while target accuracy - its accuracy <= 3 %."""
    return target_accuracy - accuracy <= max_loss + 1e-9


def pruning_levels(step: float, largest: float) -> list[float]:
    """p = 0.1, 0.2, ... or c = 1/16, 2/16, ... up to ``largest`` (exact, no float drift)."""
    if not 0 < step < 1:
        raise ConfigError("step", step, "a pruning step lies in (0, 1)")
    if not 0 < largest < 1:
        raise ConfigError("largest", largest, "the largest pruning level lies in (0, 1)")
    frac = Fraction(step).limit_denominator(1000)
    count = int(Fraction(largest).limit_denominator(1000) / frac + Fraction(1, 10**6))
    return [float(frac * m) for m in range(1, count + 1)]


def prunable_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    """Weights of convolutions and linear layers (biases and norms are not pruned)."""
    return {
        f"{name}.weight": m.weight
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d | nn.Linear)
    }


def weight_pruning_masks(model: nn.Module, p: float) -> dict[str, torch.Tensor]:
    """Global magnitude pruning: exactly round(p * N) of the N prunable weights, smallest |w|."""
    weights = prunable_weights(model)
    flat = torch.cat([w.detach().abs().flatten() for w in weights.values()])
    k = round(p * flat.numel())
    keep = torch.ones_like(flat)
    if k > 0:
        keep[torch.argsort(flat, stable=True)[:k]] = 0
    masks, offset = {}, 0
    for name, w in weights.items():
        masks[name] = keep[offset : offset + w.numel()].view_as(w).clone()
        offset += w.numel()
    return masks


def prunable_convs(model: nn.Module) -> dict[str, nn.Conv2d]:
    """Convolutions whose filters FP may prune. A model can exclude some (e.g. the last
    convolution of each residual block, as the paper does) with ``filter_prune_exclude``."""
    exclude = set(getattr(model, "filter_prune_exclude", ()))
    return {
        name: m
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d) and name not in exclude and m.groups == 1
    }


def filter_pruning_masks(model: nn.Module, c: float) -> dict[str, torch.Tensor]:
    """In each prunable convolution, zero the round(c * filters) filters of smallest L1 norm,
    with their bias and the batch norm that follows (so a pruned channel outputs zero)."""
    modules = dict(model.named_modules())
    names = list(modules)
    masks: dict[str, torch.Tensor] = {}
    for name, conv in prunable_convs(model).items():
        filters = conv.out_channels
        k = round(c * filters)
        l1 = conv.weight.detach().abs().flatten(1).sum(dim=1)
        keep = torch.ones(filters)
        if k > 0:
            keep[torch.argsort(l1, stable=True)[:k]] = 0
        masks[f"{name}.weight"] = keep.view(-1, 1, 1, 1).expand_as(conv.weight).clone()
        if conv.bias is not None:
            masks[f"{name}.bias"] = keep.clone()
        bn = _following_batchnorm(modules, names, name, filters)
        if bn is not None:
            masks[f"{bn}.weight"] = keep.clone()
            masks[f"{bn}.bias"] = keep.clone()
    return masks


def _following_batchnorm(
    modules: dict[str, nn.Module], names: list[str], conv: str, channels: int
) -> str | None:
    """The batch norm registered right after ``conv`` over the same channels, if any."""
    pos = names.index(conv)
    for name in names[pos + 1 :]:
        m = modules[name]
        if isinstance(m, nn.BatchNorm2d) and m.num_features == channels:
            return name
        if isinstance(m, nn.Conv2d | nn.Linear):
            return None
    return None


def pruned_fraction(model: nn.Module, masks: dict[str, torch.Tensor]) -> float:
    """Fraction of masked weights that are zero in the model (for checks and the metadata)."""
    params = dict(model.named_parameters())
    zero = sum(int((params[n] == 0).sum()) for n in masks if n.endswith("weight"))
    total = sum(params[n].numel() for n in masks if n.endswith("weight"))
    return zero / max(total, 1)
