"""The bench's ``scheme`` (``scheme=<name>``, conf/scheme/<name>.yaml): one of the field's
fingerprinting schemes (``ipguard.core.schemes``) that the bench runs instead of the method
(``ipguard.app.scheme_bench``). Its own module because the bench's schema module is at its size.

Typed as the methods are (``ipguard.app.schema.MethodConfig``): each scheme's schema
(``SCHEME_SCHEMAS``) is made from the scheme class's own dataclass fields, so its defaults
live in the class alone; conf/scheme/<name>.yaml names only the class (its ``_target_``); a
misspelt or mistyped field is refused in one line by ``ipguard.app.config.typed``. The paper's
five methods as a scheme (``Points``) have no schema here: they run as ``method=<name>``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from omegaconf import MISSING

from ipguard.core.schemes import SCHEMES, Points, SchemeBase
from ipguard.utils import targets
from ipguard.utils.errors import ConfigError

# Where a scheme's ``_target_`` may point: the public names of the schemes package.
PREFIXES = ("ipguard.core.schemes.",)


@dataclass
class SchemeConfig:
    """What every scheme config has: the class it builds. Each scheme's own schema
    (``SCHEME_SCHEMAS``) adds its hyper-parameters; ``typed`` builds the one its ``_target_``
    names (``variant``)."""

    _target_: str = MISSING

    @classmethod
    def variant(cls, data: Mapping[str, Any]) -> type[SchemeConfig]:
        """The schema of the scheme ``data`` names by its ``_target_``; any other name is
        refused with what is allowed."""
        target = str(data.get("_target_"))
        schema = BY_TARGET.get(target)
        if schema is None:
            targets.resolve_target("_target_", target, PREFIXES, "scheme")
            raise ConfigError("_target_", target, f"one of {sorted(BY_TARGET)}")
        return schema

    def spec(self) -> dict[str, Any]:
        """``{_target_: ..., **hyper-parameters}``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def build(self) -> SchemeBase:
        """The scheme: its class checked against the allow-list, its arguments against the
        class's, its values by the scheme itself (one-line ConfigErrors)."""
        cls, kwargs = targets.checked_target("scheme", self.spec(), PREFIXES, "scheme")
        scheme = cls(**kwargs)
        if not isinstance(scheme, SchemeBase):
            raise ConfigError("scheme._target_", self.spec()["_target_"],
                              f"a scheme class, one of {sorted(BY_TARGET)}")
        return scheme


def scheme_target(cls: type[SchemeBase]) -> str:
    """The ``_target_`` a config names the scheme by (its public name in the package)."""
    return f"{PREFIXES[0]}{cls.__name__}"


def scheme_schema(cls: type[SchemeBase]) -> type[SchemeConfig]:
    """A config schema for a scheme class from its own dataclass fields (types and defaults
    written once, in the scheme): ``_target_`` plus every hyper-parameter, tuples as lists."""
    fields = [("_target_", str, field(default=scheme_target(cls)))]
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if isinstance(default, tuple):
            value = list(default)
            fields.append((f.name, list[float], field(default_factory=lambda v=value: list(v))))
        else:
            fields.append((f.name, hints[f.name], field(default=default)))
    return dataclasses.make_dataclass(f"{cls.__name__}Config", fields, bases=(SchemeConfig,))


# Every scheme but the paper's methods (Points: method=<name> runs them), by registry name.
SCHEME_SCHEMAS = {name: scheme_schema(cls) for name, cls in SCHEMES.items()
                  if not issubclass(cls, Points)}
BY_TARGET = {scheme_target(SCHEMES[name]): schema for name, schema in SCHEME_SCHEMAS.items()}

__all__ = ["PREFIXES", "SCHEME_SCHEMAS", "SchemeConfig", "scheme_schema", "scheme_target"]
