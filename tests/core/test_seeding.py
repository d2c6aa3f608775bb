"""The four combos of Table 3: T/R initial points and R/L target labels."""

import pytest
import torch

from ipguard.core.seeding import combo_suffix, initial_points, target_labels
from ipguard.utils.errors import ConfigError


def test_combo_suffixes_follow_table_3():
    assert combo_suffix("train", "random") == "-TR"
    assert combo_suffix("train", "least_likely") == "-TL"
    assert combo_suffix("random", "random") == "-RR"
    assert combo_suffix("random", "least_likely") == "-RL"
    with pytest.raises(ConfigError, match="init='test'.*random.*train"):
        combo_suffix("test", "random")
    with pytest.raises(ConfigError, match="label='most_likely'"):
        combo_suffix("train", "most_likely")


def test_train_init_draws_distinct_training_examples():
    train_x = torch.arange(50, dtype=torch.float32).view(50, 1, 1, 1) / 50
    x = initial_points("train", 20, torch.Generator().manual_seed(0), train_x=train_x)
    assert x.shape == (20, 1, 1, 1)
    rows = {float(v) for v in x.flatten()}
    assert len(rows) == 20 and rows <= {float(v) for v in train_x.flatten()}


def test_random_init_is_uniform_in_unit_box():
    x = initial_points("random", 4000, torch.Generator().manual_seed(0), input_shape=(1, 8, 8))
    assert x.shape == (4000, 1, 8, 8)
    assert x.min() >= 0 and x.max() <= 1
    assert abs(x.mean().item() - 0.5) < 0.01
    assert abs(x.var().item() - 1 / 12) < 0.005


def test_least_likely_label_is_argmin_logit():
    logits = torch.tensor([[3.0, -1.0, 0.5], [0.0, 2.0, -4.0]])
    assert target_labels("least_likely", logits, torch.Generator()).tolist() == [1, 2]


def test_random_label_never_equals_initial_prediction_and_covers_others():
    logits = torch.randn(3000, 10, generator=torch.Generator().manual_seed(1))
    j = target_labels("random", logits, torch.Generator().manual_seed(2))
    i = logits.argmax(1)
    assert torch.all(j != i)
    assert set(j.tolist()) == set(range(10))


def test_same_seed_same_points():
    a = initial_points("random", 5, torch.Generator().manual_seed(7), input_shape=(1, 2, 2))
    b = initial_points("random", 5, torch.Generator().manual_seed(7), input_shape=(1, 2, 2))
    assert torch.equal(a, b)
