"""Hydra wiring: the schemas and sweeps registered in the ConfigStore, the resolvers the YAML
files use, the typed view of a composed config, and composition errors as one line.

Call ``register()`` before composing (the entry points and the tests' ``compose`` do). A package
built on ipguard registers its own schemas beside these (``train.schema.register`` stores the
zoo builder's ``train_schema``)."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from ipguard.utils.errors import ConfigError, IPGuardError

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]


def _shipped(folder: str, package: str) -> Path:
    """A folder of the checkout (``conf``, ``sweeps``) where there is one, else the copy the
    installed package carries (``ipguard._conf``, ``ipguard._sweeps``)."""
    here = REPO / folder
    if here.is_dir():
        return here
    from importlib.util import find_spec

    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"ipguard is installed without its {folder}/ ({package}): reinstall it")
    return Path(next(iter(spec.submodule_search_locations)))


CONF_DIR = _shipped("conf", "ipguard._conf")
SWEEPS_DIR = _shipped("sweeps", "ipguard._sweeps")
_REGISTERED = False


def register() -> None:
    """Register the resolvers, the config schemas and the paper's sweeps (``sweeps/*.yaml``
    as the ``sweep`` group), once per process."""
    global _REGISTERED
    register_resolvers()
    if _REGISTERED:
        return
    from hydra.core.config_store import ConfigStore

    from ipguard.app.schema import METHOD_SCHEMAS, BenchConfig
    from ipguard.app.scheme_config import SCHEME_SCHEMAS
    from ipguard.app.sweeps import figures_schema

    cs = ConfigStore.instance()
    cs.store(name="bench_schema", node=BenchConfig)
    cs.store(name="figures_schema", node=figures_schema(SWEEPS_DIR))
    for name, schema in METHOD_SCHEMAS.items():
        cs.store(group="schema/method", name=name, node=schema)
    for name, schema in SCHEME_SCHEMAS.items():
        cs.store(group="schema/scheme", name=name, node=schema)
    for file in sorted(SWEEPS_DIR.glob("*.yaml")):
        cs.store(group="sweep", name=file.stem, node=OmegaConf.load(file), package="_global_")
    for name, node in experiments().items():
        cs.store(group="experiment", name=name, node=node, package="_global_")
    _REGISTERED = True


def experiments() -> dict[str, dict[str, Any]]:
    """One preset per paper sweep and dataset, ``experiment=<sweep>_<dataset>`` (fig6_cifar10,
    table4_fashion_mnist, zoo_digits): it pins the dataset (and so the zoo), the sweep and the
    W&B group. Made from the files of sweeps/ and conf/dataset/, so a new one of either has its
    presets at once; a file conf/experiment/<name>.yaml adds one of your own."""
    from ipguard.results.tracking import run_group

    out = {}
    for sweep in sorted(p.stem for p in SWEEPS_DIR.glob("*.yaml")):
        for dataset in sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml")):
            out[f"{sweep}_{dataset}"] = {
                "defaults": [{"override /dataset": dataset}, {"override /sweep": sweep}],
                "logger": {"group": run_group(dataset, sweep)}}
    return out


def register_resolvers() -> None:
    from ipguard.core.seeding import combo_suffix

    if not OmegaConf.has_resolver("ipguard.combo"):
        # ${ipguard.combo:${init},${label}} -> "TL" (Table 3's suffix without the dash)
        OmegaConf.register_new_resolver(
            "ipguard.combo", lambda init, label: combo_suffix(str(init), str(label)).lstrip("-"))
    if not OmegaConf.has_resolver("ipguard.join"):
        OmegaConf.register_new_resolver("ipguard.join", lambda items: "+".join(map(str, items)))
    if not OmegaConf.has_resolver("ipguard.cpu_precision"):
        # ${ipguard.cpu_precision:}: bf16-mixed on CPUs with native bf16, else 32-true
        OmegaConf.register_new_resolver("ipguard.cpu_precision", _cpu_precision)
    if not OmegaConf.has_resolver("ipguard.env"):
        # ${ipguard.env:WANDB_MODE,offline}: like oc.env, but a variable set to "" counts as
        # unset (an `export WANDB_MODE=` in a shell profile must not break a run)
        OmegaConf.register_new_resolver("ipguard.env", env_or_default)


def _cpu_precision() -> str:
    from ipguard.app.runtime import cpu_precision  # imports torch: only when a config asks

    return cpu_precision()


def env_or_default(name: str, default: Any = None) -> Any:
    """The environment variable ``name``, or ``default`` when it is unset or empty."""
    import os

    return os.environ.get(name) or default


# --------------------------------------------------------------------------- the typed view
def typed(cfg: DictConfig | Mapping[str, Any], schema: type[T], path: str = "") -> T:
    """``cfg`` as an instance of its schema dataclass: types checked (whether or not the
    config was composed over the schema), interpolations resolved, every ``__post_init__`` run.
    Any problem is a one-line ConfigError naming the field's full path."""
    structured, cfg = _with_members(schema, cfg, path)
    try:
        merged = OmegaConf.merge(structured, cfg)
        data = OmegaConf.to_container(merged, resolve=True, throw_on_missing=True)
    except (OmegaConfBaseException, ValueError) as exc:
        raise config_error(exc, path) or ConfigError(path or "config", "?", str(exc)) from exc
    return build(schema, data, path)


def build(schema: type[T], data: Mapping[str, Any], path: str = "") -> T:
    """Instantiate ``schema`` from plain data, nested dataclasses first, so that a
    ``ConfigError`` from any ``__post_init__`` carries the full path of its field."""
    hints = typing.get_type_hints(schema)
    kwargs = {}
    for f in dataclasses.fields(schema):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _build_value(hints[f.name], data[f.name], _join(path, f.name))
    try:
        return schema(**kwargs)
    except ConfigError as exc:
        raise ConfigError(_join(path, exc.field), exc.value, exc.valid) from None


def _build_value(hint: Any, value: Any, path: str) -> Any:
    if value is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _build_value(inner[0], value, path) if len(inner) == 1 else value
    if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        if hasattr(hint, "variant"):  # a family of schemas (MethodConfig): the member named
            return build(_variant(hint, value, path), value, path)
        return build(hint, value, path)
    if origin is dict and len(args) == 2 and isinstance(value, Mapping):
        return {k: _build_value(args[1], v, f"{path}.{k}") for k, v in value.items()}
    if origin is list and args and isinstance(value, list):
        return [_build_value(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(hint, type) and issubclass(hint, Enum) and not isinstance(value, hint):
        return hint(value)
    return value


def _with_members(schema: type, cfg: Any, path: str) -> tuple[DictConfig, Any]:
    """``schema`` as a structured config, and ``cfg`` to merge into it. A field whose schema is
    a family (``MethodConfig``: one schema per method) is typed as the member ``cfg`` names
    there, and ``cfg`` is then merged as plain data, so that the member's schema checks every
    key and value whether or not ``cfg`` was composed over it."""
    node = OmegaConf.structured(schema)
    hints = {k: _strip_optional(v) for k, v in typing.get_type_hints(schema).items()}
    families = [f.name for f in dataclasses.fields(schema) if hasattr(hints[f.name], "variant")]
    if not families or not isinstance(cfg, Mapping):
        return node, cfg
    data = OmegaConf.to_container(cfg, resolve=False) if isinstance(cfg, DictConfig) else cfg
    for name in families:  # a family may be optional (the bench's scheme: null or one)
        value = data.get(name)
        if isinstance(value, Mapping):
            node[name] = OmegaConf.structured(_variant(hints[name], value, _join(path, name)))
    return node, data


def _variant(hint: Any, value: Mapping[str, Any], path: str) -> type:
    """The schema of the family ``hint`` that ``value`` names (``MethodConfig.variant``)."""
    try:
        return hint.variant(value)
    except ConfigError as exc:
        raise ConfigError(_join(path, exc.field), exc.value, exc.valid) from None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def plain(cfg: Any) -> Any:
    """A config (DictConfig, dataclass or mapping) as JSON-ready containers, enums as text."""
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return plain({f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)})
    if isinstance(cfg, Mapping):
        return {k: plain(v) for k, v in cfg.items()}
    if isinstance(cfg, list | tuple):
        return [plain(v) for v in cfg]
    if isinstance(cfg, Enum):
        return cfg.value
    return cfg


# --------------------------------------------------------------------------- errors
_TYPE_WORDS = {int: "must be an integer", float: "must be a number", bool: "true or false",
               str: "must be text", Path: "must be a path"}


def config_error(exc: BaseException, path: str = "") -> IPGuardError | None:
    """The OmegaConf error in ``exc``'s chain (a Hydra composition error wraps it) as one
    line: the field's full key, the value, and what the schema accepts."""
    err: BaseException | None = exc
    while err is not None and not isinstance(err, OmegaConfBaseException):
        err = err.__cause__ or err.__context__
    if err is None:
        return None
    key = _join(path, str(getattr(err, "full_key", "") or "")) or "config"
    value = getattr(err, "value", None)
    if isinstance(err, MissingMandatoryValue):
        return ConfigError(key, "???", "a value is required here")
    if isinstance(err, ConfigKeyError | ConfigAttributeError):
        where = getattr(err, "object_type_str", None) or "this config"
        return IPGuardError(f"unknown setting {key!r}: {where} has no such key (check its "
                            "spelling; `--cfg job` lists the settings)")
    ref = _ref_type(err)
    if isinstance(ref, type) and issubclass(ref, Enum):
        valid = f"choose one of {sorted(m.value for m in ref)}"
    elif ref in _TYPE_WORDS:
        valid = _TYPE_WORDS[ref]
    else:
        valid = str(getattr(err, "msg", "") or err).splitlines()[0]
    return ConfigError(key, value, valid)


def _ref_type(err: OmegaConfBaseException) -> Any:
    """The type the schema expects for the failing value (its node's reference type)."""
    node = getattr(err, "child_node", None)
    if node is not None:
        ref = getattr(node, "_metadata", None)
        if ref is not None and ref.ref_type is not Any:
            return _strip_optional(ref.ref_type)
    msg = str(getattr(err, "msg", "") or "")
    for word, kind in (("Integer", int), ("Float", float), ("Boolean", bool)):
        if f"converted to {word}" in msg:
            return kind
    return None


def _strip_optional(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) and \
        len(args) == 1 else hint
