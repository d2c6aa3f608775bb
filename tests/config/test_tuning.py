"""Method settings belong to the dataset: conf/tuning/<method>_<dataset>.yaml
sets a method's defaults for one dataset, keyed by both choices, so method= and dataset= stay
independent and the command line still wins."""

from __future__ import annotations

import pytest

from ipguard.app.config import CONF_DIR

from conftest import compose_cfg

TUNINGS = sorted(p.stem for p in (CONF_DIR / "tuning").glob("*.yaml"))
METHODS = {p.stem for p in (CONF_DIR / "method").glob("*.yaml")}
DATASETS = {p.stem for p in (CONF_DIR / "dataset").glob("*.yaml")}


@pytest.mark.parametrize("name", TUNINGS)
def test_every_tuning_names_a_method_and_a_dataset(name):
    method, dataset = next((m, name[len(m) + 1:]) for m in sorted(METHODS, key=len, reverse=True)
                           if name.startswith(f"{m}_"))
    assert dataset in DATASETS
    assert compose_cfg("bench", [f"method={method}", f"dataset={dataset}"]).method._target_


@pytest.mark.parametrize("dataset, method, k, lr", [
    ("digits", "ipguard", 3.0, 0.001),            # measured on digits
    ("fashion_mnist", "ipguard", 10.0, 0.001),    # measured on Fashion-MNIST
    ("cifar10", "ipguard", 3.0, 0.0005),          # the paper's 0.001 in tanh scaling, halved
    ("imagenet", "ipguard", 100.0, 0.05),
    ("cifar100", "cw_l2", 3.0, 0.001),            # the paper's, unchanged (same tanh variable)
    ("imagenet", "cw_l2", 3.0, 0.1),
    ("fashion_mnist", "ipguard_onepoint", 10.0, 0.001),   # IPGuard's own settings
])
def test_the_dataset_sets_the_methods_defaults(dataset, method, k, lr):
    cfg = compose_cfg("bench", [f"dataset={dataset}", f"method={method}"])
    assert (cfg.method.k, cfg.method.lr) == (k, lr)


def test_the_command_line_and_a_sweep_still_win():
    cfg = compose_cfg("bench", ["dataset=fashion_mnist", "method.k=2", "method.lr=0.01"])
    assert (cfg.method.k, cfg.method.lr) == (2.0, 0.01)
    cfg = compose_cfg("bench", ["experiment=fig5_cifar10"])
    assert cfg.method._target_ == "ipguard.core.methods.CWL2" and cfg.method.lr == 0.001
