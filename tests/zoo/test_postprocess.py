"""Post-processing of the target (Section 5.1.2): the 3 % rule, WP and FP masks, FT/RT."""

import pytest
import torch
from torch import nn

from ipguard.models.digits import small_cnn, vgg_small
from ipguard.models.layers import last_linear
from ipguard.utils.errors import ConfigError
from train.module import apply_masks
from train.postprocess import (
    filter_pruning_masks,
    prepare_finetune,
    pruned_fraction,
    pruning_levels,
    weight_pruning_masks,
    within_budget,
)


def test_three_percent_rule():
    assert within_budget(0.90, 0.87)            # loss 0.03: still a suspect
    assert within_budget(0.90, 0.95)            # accuracy may rise
    assert not within_budget(0.90, 0.8699)      # loss > 0.03: not a suspect
    assert not within_budget(0.98, 0.94, max_loss=0.03)
    assert within_budget(0.98, 0.94, max_loss=0.05)


def test_pruning_levels_are_exact_steps():
    assert pruning_levels(0.1, 0.5) == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert pruning_levels(1 / 16, 7 / 16) == [m / 16 for m in range(1, 8)]
    assert len(pruning_levels(0.1, 0.9)) == 9
    with pytest.raises(ConfigError, match="step"):
        pruning_levels(0.0, 0.5)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_weight_pruning_reaches_requested_sparsity_on_smallest_weights(p):
    torch.manual_seed(0)
    model = small_cnn(10, 1, 8, [0.3], [0.4])
    masks = weight_pruning_masks(model, p)
    before = torch.cat([w.detach().abs().flatten() for n, w in model.named_parameters()
                        if n in masks])
    apply_masks(model, masks)
    assert pruned_fraction(model, masks) == pytest.approx(p, abs=1e-4)
    kept = torch.cat([m.flatten() for m in masks.values()]).bool()
    assert before[~kept].max() <= before[kept].min()  # global magnitude order


@pytest.mark.parametrize("c", [1 / 16, 7 / 16])
def test_filter_pruning_removes_smallest_l1_filters_in_each_conv(c):
    torch.manual_seed(0)
    model = vgg_small(10, 1, 8, [0.3], [0.4])
    masks = filter_pruning_masks(model, c)
    convs = {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    l1 = {n: m.weight.detach().abs().flatten(1).sum(1) for n, m in convs.items()}
    apply_masks(model, masks)
    for name, conv in convs.items():
        zero = (conv.weight.flatten(1).abs().sum(1) == 0)
        assert int(zero.sum()) == round(c * conv.out_channels)
        assert l1[name][zero].max() <= l1[name][~zero].min()
    # a pruned channel is silent after conv + batch norm + ReLU
    model.eval()
    first = model.net[:3](model.normalize(torch.rand(4, 1, 8, 8)))
    dead = convs["net.0"].weight.flatten(1).abs().sum(1) == 0
    assert torch.all(first[:, dead] == 0)


def test_filter_pruning_respects_excluded_convs():
    model = small_cnn(10, 1, 8, [0.3], [0.4])
    model.filter_prune_exclude = ("net.2",)
    masks = filter_pruning_masks(model, 0.5)
    assert "net.2.weight" not in masks and "net.0.weight" in masks


def test_retraining_and_finetuning_touch_the_last_layer_as_the_paper_says():
    torch.manual_seed(0)
    model = small_cnn(10, 1, 8, [0.3], [0.4])
    head = last_linear(model)[1]
    before = head.weight.detach().clone()
    assert prepare_finetune(model, "ftll", seed=1) == "last"
    assert torch.equal(head.weight, before)            # FT keeps the trained head
    assert prepare_finetune(model, "rtal", seed=1) == "all"
    assert not torch.equal(head.weight, before)        # RT re-initialises it
    with pytest.raises(ConfigError, match="kind"):
        prepare_finetune(model, "ftxx", seed=1)
