"""The bench's ``scheme`` is typed like its ``method``: each scheme's schema (SCHEME_SCHEMAS) is
made from the scheme class, so its defaults live there alone; conf/scheme/<name>.yaml names
only the class; a misspelt or mistyped field is refused in one line; the schemes sweep runs
every paper method and every scheme."""

from __future__ import annotations

import dataclasses

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from ipguard.app.config import CONF_DIR, SWEEPS_DIR, typed
from ipguard.app.schema import BenchConfig
from ipguard.app.scheme_config import SCHEME_SCHEMAS, SchemeConfig
from ipguard.app.sweeps import read_sweeps, sweep_grid
from ipguard.core.schemes import SCHEMES, Points
from ipguard.utils.errors import ConfigError, IPGuardError

from conftest import compose_cfg

FIELD_SCHEMES = sorted(name for name, cls in SCHEMES.items() if not issubclass(cls, Points))


def _typed(tmp_path, overrides: list[str]) -> BenchConfig:
    return typed(compose_cfg("bench", overrides, tmp_path), BenchConfig)


def _plain(cls: type) -> dict:
    out = {}
    for f in dataclasses.fields(cls):
        value = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def test_every_field_scheme_has_a_schema_made_from_its_class():
    assert sorted(SCHEME_SCHEMAS) == FIELD_SCHEMES
    for name, schema in SCHEME_SCHEMAS.items():
        node = OmegaConf.to_container(OmegaConf.structured(schema))
        assert node.pop("_target_") == f"ipguard.core.schemes.{SCHEMES[name].__name__}"
        assert node == _plain(SCHEMES[name]), name


def test_every_scheme_config_is_a_scheme_or_none():
    assert {p.stem for p in (CONF_DIR / "scheme").glob("*.yaml")} == {*FIELD_SCHEMES, "none"}


@pytest.mark.parametrize("name", FIELD_SCHEMES)
def test_a_scheme_config_names_its_class_and_no_default(name):
    node = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "scheme" / f"{name}.yaml"))
    assert node.pop("defaults") == [f"/schema/scheme/{name}@_here_", "_self_"]
    assert node == {"_target_": f"ipguard.core.schemes.{SCHEMES[name].__name__}"}


@pytest.mark.parametrize("name", FIELD_SCHEMES)
def test_a_scheme_composes_types_and_builds_its_class(tmp_path, name):
    cfg = _typed(tmp_path, [f"scheme={name}"])
    assert type(cfg.scheme) is SCHEME_SCHEMAS[name] and isinstance(cfg.scheme, SchemeConfig)
    scheme = cfg.scheme.build()
    assert type(scheme) is SCHEMES[name] and scheme.params() == SCHEMES[name]().params()


@pytest.mark.parametrize("overrides", [[], ["scheme=none"]])
def test_without_a_scheme_the_bench_runs_the_method(tmp_path, overrides):
    assert _typed(tmp_path, overrides).scheme is None


@pytest.mark.parametrize("overrides, key, schema", [
    (["scheme=akh", "scheme.nn=3"], "scheme.nn", "MisclassifiedConfig"),
    (["scheme=zest", "+scheme.n=3"], "scheme.n", "ZestConfig"),
])
def test_an_unknown_scheme_field_is_refused_in_one_line(tmp_path, overrides, key, schema):
    with pytest.raises(IPGuardError) as exc:
        _typed(tmp_path, overrides)
    assert str(exc.value).startswith(f"unknown setting {key!r}: {schema} has no such key")
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("overrides, field, valid", [
    (["scheme=cae", "scheme.n=abc"], "scheme.n", "must be an integer"),
    (["scheme=modeldiff", "scheme.eps=far"], "scheme.eps", "must be a number"),
    (["scheme=sac_w", "scheme.augment=maybe"], "scheme.augment", "true or false"),
    (["scheme=cae", "scheme._target_=ipguard.core.schemes.Nope"], "scheme._target_", "CAE"),
])
def test_a_mistyped_scheme_field_is_refused_in_one_line(tmp_path, overrides, field, valid):
    with pytest.raises(ConfigError) as exc:
        _typed(tmp_path, overrides)
    text = str(exc.value)
    assert text.startswith(f"invalid {field}=") and valid in text and "\n" not in text, text


@pytest.mark.parametrize("overrides, field", [
    (["scheme=cae", "scheme.n=0"], "scheme.n"),
    (["scheme=sac_m", "scheme.output=logit"], "scheme.output"),
])
def test_a_value_the_scheme_refuses_is_one_line_when_built(tmp_path, overrides, field):
    cfg = _typed(tmp_path, overrides)
    with pytest.raises(ConfigError) as exc:
        cfg.scheme.build()
    assert str(exc.value).startswith(f"invalid {field}=") and "\n" not in str(exc.value)


def test_a_scheme_given_as_plain_data_is_typed_too(tmp_path):
    data = OmegaConf.to_container(compose_cfg("bench", [], tmp_path))
    data["scheme"] = {"_target_": "ipguard.core.schemes.SACW", "n": 50}
    cfg = typed(OmegaConf.create(data), BenchConfig)
    assert type(cfg.scheme) is SCHEME_SCHEMAS["sac_w"] and cfg.scheme.build().n == 50
    data["scheme"] = {"_target_": "ipguard.core.schemes.SACW", "eps": 0.1}
    with pytest.raises(IPGuardError, match="unknown setting 'scheme.eps': SACWConfig"):
        typed(OmegaConf.create(data), BenchConfig)


def test_the_schemes_sweep_runs_every_paper_method_and_every_scheme():
    (sweep,) = [s for s in read_sweeps(SWEEPS_DIR) if s.name == "schemes"]
    assert sweep.method is None and set(sweep.params) == {"method", "scheme"}
    params = OmegaConf.load(SWEEPS_DIR / "schemes.yaml").hydra.sweeper.params
    parser = OverridesParser.create()
    grid = {k: list(parser.parse_override(f"{k}={v}").sweep_iterator()) for k, v in
            params.items()}
    assert grid["method"] == ["random", "fgsm", "igsm", "cw_l2", "ipguard"]
    assert grid["scheme"] == ["none", *sorted(FIELD_SCHEMES, key=list(SCHEMES).index)]
    assert sweep_grid(SWEEPS_DIR / "schemes.yaml").values == {}  # no method parameter swept
