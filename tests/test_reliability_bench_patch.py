"""Checks that go through ``run_bench`` once ipguard/bench.py calls the full validation
(``from ipguard.validation import check_bench_config``: patch "bench-validation" in the issue-7
report) and passes ``logger.init_timeout`` to W&B. Skipped until then; the same checks are
tested directly on ``ipguard.validation.check_bench_config`` in test_reliability_config.py."""

from __future__ import annotations

import pytest
import torch

import ipguard.bench
import ipguard.validation
from ipguard.errors import ConfigError

from conftest import compose_cfg

pytestmark = pytest.mark.skipif(
    ipguard.bench.check_bench_config is not ipguard.validation.check_bench_config,
    reason="needs patch bench-validation (issue 7 report)")


@pytest.mark.parametrize("override, message", [
    ("device=tpu", "invalid device='tpu'"),
    ("seed=-1", "invalid seed=-1"),
    ("n=2.5", "invalid n=2.5"),
    ("threads=0", "invalid threads=0"),
    ("logger=wandb logger.mode=sometimes", "invalid logger.mode='sometimes'"),
    ("+method.foo=1", "invalid method="),
])
def test_run_bench_refuses_before_wandb_data_or_zoo(tmp_path, override, message):
    """No zoo exists under tmp_path: a ConfigError (not MissingZooError) proves the check
    comes first, and no W&B run folder proves it comes before the tracker."""
    from ipguard.bench import run_bench

    cfg = compose_cfg("bench", ["n=5", *override.split()], tmp_path)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("+", r"\+")):
        run_bench(cfg)
    assert not (tmp_path / "out" / "wandb").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_run_bench_refuses_cuda_without_a_gpu(tmp_path):
    from ipguard.bench import run_bench

    with pytest.raises(ConfigError, match="no CUDA device"):
        run_bench(compose_cfg("bench", ["device=cuda", "logger=none"], tmp_path))


def test_wandb_init_timeout_reaches_the_tracker(tmp_path, monkeypatch):
    import ipguard.bench as bench

    seen = {}

    class Spy:
        def __init__(self, **kwargs):
            seen.update(kwargs)
            raise RuntimeError("stop here")

    monkeypatch.setattr(bench, "Tracker", Spy)
    cfg = compose_cfg("bench", ["logger=wandb", "logger.init_timeout=7", "n=5"], tmp_path)
    with pytest.raises(RuntimeError, match="stop here"):
        bench.run_bench(cfg)
    assert seen["init_timeout"] == 7.0


def _stored_best(tmp_path, params: dict) -> None:
    """A record in results/digits/fig6 naming ``params`` as IPGuard's best setting (as a
    results folder received from someone else might)."""
    from ipguard.results import write_record

    write_record(tmp_path / "results" / "digits" / "fig6" / "ipguard-TL-k=3-s0.json", {
        "key": "ipguard-TL-k=3-s0", "method": "ipguard", "combo": "-TL", "params": params,
        "init": "train", "label": "least_likely", "seed": 0, "aruc": 0.9, "auc": 0.9,
        "gap": 0.1, "config": {"method": {"_target_": "ipguard.methods.IPGuard"}}})


def test_a_stored_best_setting_is_validated_too(tmp_path):
    from ipguard.bench import run_bench

    _stored_best(tmp_path, {"k": -5.0, "lr": 0.001, "max_iter": 1000})
    cfg = compose_cfg("bench", ["n=5", "logger=none", "store.best_from=[fig6]"], tmp_path)
    with pytest.raises(ConfigError, match=r"invalid method\.k=-5\.0"):
        run_bench(cfg)


def test_a_stored_best_setting_cannot_replace_the_method_class(tmp_path):
    from ipguard.bench import with_best_setting

    _stored_best(tmp_path, {"_target_": "os.system", "k": 2.0})
    cfg = compose_cfg("bench", ["store.best_from=[fig6]"], tmp_path)
    best = with_best_setting(cfg)
    assert best.method._target_ == "ipguard.methods.IPGuard" and best.method.k == 2.0
