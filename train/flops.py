"""FLOPs of a network, before and after pruning, for the FP suspects' metadata.

Counted as Li et al. (2017), whose filter pruning the paper uses: multiply-accumulates of the
convolutions and linear layers for one input (normalisation, activations and pooling are left
out). A pruned filter removes its own work and, because the channel it wrote is now zero, the
work of the next layer on that channel; weights zeroed by weight pruning are counted as removed
too (the work a sparse kernel would skip)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class FlopCount:
    """``dense``: the unpruned network's multiply-accumulates; ``effective``: those left once
    pruned filters, dead input channels and zero weights are skipped."""

    dense: int
    effective: int

    @property
    def reduction(self) -> float:
        """The fraction of FLOPs pruning removed (Li et al.'s "FLOP pruned")."""
        return 1.0 - self.effective / self.dense if self.dense else 0.0


@torch.no_grad()
def count_flops(
    model: nn.Module, input_shape: Sequence[int], probes: int = 4, seed: int = 0
) -> FlopCount:
    """Multiply-accumulates of ``model`` on one ``input_shape`` (C, H, W) input.

    An input channel of a layer counts as dead when the convolution run just before it, with
    as many filters, has that filter all zero, and the channel is exactly zero for ``probes``
    random inputs (so the batch norm after the filter was pruned too). Both are required: a
    ReLU may silence a live channel on a few inputs, and a zero filter may feed a branch that
    is not this layer's input."""
    layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    runs: list[tuple[nn.Module, torch.Tensor, int]] = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        x = inputs[0].detach()
        if isinstance(module, nn.Conv2d):
            zero = x.abs().amax(dim=(0, 2, 3)) == 0
            positions = output.shape[-2] * output.shape[-1]
        else:
            zero = x.abs().reshape(-1, x.shape[-1]).amax(dim=0) == 0
            positions = x.numel() // x.shape[0] // x.shape[-1]
        runs.append((module, zero, positions))

    handles = [m.register_forward_hook(hook) for m in layers]
    was_training = model.training
    model.eval()
    try:
        generator = torch.Generator().manual_seed(seed)
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        model(torch.rand(probes, *input_shape, generator=generator).to(device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    dense = effective = 0
    counted: set[nn.Module] = set()
    pruned_filters: torch.Tensor | None = None  # of the convolution run last
    for m, zero, positions in runs:
        if m not in counted:  # a module run twice (shared weights) is counted once
            counted.add(m)
            dead = _dead_inputs(zero, pruned_filters)
            dense += m.weight.numel() * positions
            effective += int(_live_weights(m, ~dead.to(m.weight.device)).sum()) * positions
        if isinstance(m, nn.Conv2d):
            pruned_filters = (m.weight.detach().flatten(1) == 0).all(dim=1).cpu()
    return FlopCount(dense=int(dense), effective=int(effective))


def _dead_inputs(zero: torch.Tensor, pruned_filters: torch.Tensor | None) -> torch.Tensor:
    """Input channels (or flattened features) that are zero and come from a pruned filter."""
    zero = zero.cpu()
    if pruned_filters is None or len(zero) % len(pruned_filters):
        return torch.zeros_like(zero)
    per_channel = len(zero) // len(pruned_filters)  # a flattened C x H x W map: H*W per channel
    return zero & pruned_filters.repeat_interleave(per_channel)


def _live_weights(m: nn.Module, live_inputs: torch.Tensor) -> torch.Tensor:
    """Which weights do work: non-zero and reading a live input channel."""
    w = m.weight.detach() != 0
    if isinstance(m, nn.Linear):
        return w & live_inputs[None, :]
    groups = m.groups
    per_group = m.in_channels // groups
    # filter o reads the input channels of its group: an (out, in/groups) view of live inputs
    group_of = torch.arange(m.out_channels, device=w.device) // (m.out_channels // groups)
    reads = live_inputs.view(groups, per_group)[group_of]
    return w & reads[:, :, None, None]
