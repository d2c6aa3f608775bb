"""The bench's ``method`` is typed like every other field: the schema of the method its
``_target_`` names (METHOD_SCHEMAS, made from the method class) refuses an unknown key or a value
of the wrong type with one line, whether the config was composed over that schema or not, and
before any data, zoo or W&B run is touched."""

from __future__ import annotations

import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from ipguard.app.bench import run_bench
from ipguard.app.config import typed
from ipguard.app.schema import METHOD_SCHEMAS, BenchConfig, MethodConfig
from ipguard.core.methods import METHODS
from ipguard.utils.errors import ConfigError, IPGuardError

from conftest import REPO, compose_cfg
from helpers import env


def _typed(tmp_path, overrides: list[str]) -> BenchConfig:
    return typed(compose_cfg("bench", overrides, tmp_path), BenchConfig)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_the_method_is_its_own_schema_and_builds_the_class(tmp_path, name):
    cfg = _typed(tmp_path, [f"method={name}", "dataset=digits"])
    assert type(cfg.method) is METHOD_SCHEMAS[name] and isinstance(cfg.method, MethodConfig)
    method = cfg.method.build()
    assert type(method) is METHODS[name] and method.params() == METHODS[name]().params()


@pytest.mark.parametrize("overrides, key, schema", [
    (["method.kk=3"], "method.kk", "IPGuardConfig"),
    (["+method.kk=3"], "method.kk", "IPGuardConfig"),   # added with +: still not a field
    (["method=fgsm", "+method.k=3"], "method.k", "FGSMConfig"),
    (["method=random", "+method.lr=0.1"], "method.lr", "RandomConfig"),
])
def test_an_unknown_method_field_is_refused_when_typed(tmp_path, overrides, key, schema):
    with pytest.raises(IPGuardError) as exc:
        _typed(tmp_path, overrides)
    assert str(exc.value).startswith(f"unknown setting {key!r}: {schema} has no such key")
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("overrides, field, value, valid", [
    (["method.k=abc"], "method.k", "'abc'", "must be a number"),
    (["method.max_iter=2.5"], "method.max_iter", "2.5", "must be an integer"),
    (["method=cw_l2", "method.abort_early=maybe"], "method.abort_early", "'maybe'",
     "true or false"),
    (["method=random", "method.seed=abc"], "method.seed", "'abc'", "must be an integer"),
    (["method._target_=ipguard.core.methods.Nope"], "method._target_", "Nope", "IPGuard"),
])
def test_a_wrong_method_value_is_one_line_naming_it(tmp_path, overrides, field, value, valid):
    with pytest.raises(ConfigError) as exc:
        _typed(tmp_path, overrides)
    text = str(exc.value)
    assert text.startswith(f"invalid {field}=") and value in text and valid in text, text


def test_a_config_not_composed_over_the_schema_is_typed_too(tmp_path):
    """A method given as plain data (a saved config, a config built in Python) is checked by
    the schema its _target_ names."""
    data = OmegaConf.to_container(compose_cfg("bench", [], tmp_path))
    data["method"] = {"_target_": "ipguard.core.methods.FGSM", "eps": 0.1}
    cfg = typed(OmegaConf.create(data), BenchConfig)
    assert type(cfg.method) is METHOD_SCHEMAS["fgsm"] and cfg.method.eps == 0.1
    data["method"] = {"_target_": "ipguard.core.methods.FGSM", "k": 3.0}
    with pytest.raises(IPGuardError, match="unknown setting 'method.k': FGSMConfig"):
        typed(OmegaConf.create(data), BenchConfig)
    data["method"] = {"_target_": "ipguard.core.methods.IPGuard", "k": "far"}
    with pytest.raises(ConfigError, match=r"invalid method\.k='far': must be a number"):
        typed(data, BenchConfig)


def test_run_bench_refuses_an_unknown_method_field_before_any_work(tmp_path):
    cfg = compose_cfg("bench", ["n=5", "+method.kk=3"], tmp_path)
    with pytest.raises(IPGuardError, match="unknown setting 'method.kk'"):
        run_bench(cfg)
    assert not (tmp_path / "out" / "wandb").exists() and not (tmp_path / "results").exists()


@pytest.mark.parametrize("override, line", [
    ("method.k=abc", "error: invalid method.k='abc': must be a number"),
    ("+method.kk=3", "error: unknown setting 'method.kk': IPGuardConfig has no such key"),
])
def test_the_cli_prints_one_line_and_exits_2(tmp_path, override, line):
    proc = subprocess.run([sys.executable, "-m", "ipguard.bench", override, "logger=none",
                           f"hydra.run.dir={tmp_path}/run", f"paths.root_dir={tmp_path}"],
                          cwd=REPO, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].startswith(line), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
