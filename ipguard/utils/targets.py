"""``_target_`` names from configs and member.json files, resolved only inside an allow-list:
a config or a downloaded zoo must never name ``os.system``. No schema can make this check (it
needs the import), so it lives here, next to the signature check of the arguments."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from ipguard.utils.errors import ConfigError

METHODS = ("ipguard.core.methods.",)
LOADERS = ("ipguard.data.",)
MODELS = ("ipguard.models.", "torchvision.models.")


def resolve_target(field: str, target: Any, prefixes: tuple[str, ...], kind: str) -> Any:
    """The callable a ``_target_`` names, restricted to ``prefixes``: it must be public and
    defined in one of those packages (a name they merely import, ``save_file`` say, is
    refused, and so is a torchvision name that is not a model builder). An unknown name
    lists what the module offers."""
    text = str(target)
    module_name, _, attr = text.rpartition(".")
    if not text.startswith(prefixes) or any(not part or part.startswith("_")
                                            for part in text.split(".")):
        raise ConfigError(field, text, f"{_article(kind)} {kind} from {list(prefixes)} "
                          "(public names only)")
    try:
        module = importlib.import_module(module_name)
    except (ImportError, ValueError) as exc:
        raise ConfigError(field, text, f"no module {module_name} ({exc})") from exc
    fn = getattr(module, attr, None)
    defined = str(getattr(fn, "__module__", "") or "")
    if fn is None or inspect.ismodule(fn) or not callable(fn) or \
            not defined.startswith(prefixes):
        offered = _public_callables(module)
        raise ConfigError(field, text, f"{module_name} has no {kind} {attr!r}"
                          + (f"; it offers {offered}" if offered else ""))
    if module_name == "torchvision.models":
        import torchvision.models as tvm

        if attr not in tvm.list_models(module=tvm):
            raise ConfigError(field, text, "a torchvision model builder "
                              "(torchvision.models.list_models())")
    return fn


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _public_callables(module: Any) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items() if not n.startswith("_")
                 and (inspect.isfunction(v) or inspect.isclass(v))
                 and getattr(v, "__module__", None) == module.__name__]
    return sorted(n for n in names if n[:1].isalpha())


def check_call(field: str, fn: Any, kwargs: Mapping[str, Any]) -> None:
    """The arguments fit ``fn``'s signature (an unknown or missing argument, named)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(**kwargs)
    except TypeError as exc:
        params = [p for p in sig.parameters if p not in ("self", "args", "kwargs")]
        raise ConfigError(field, dict(kwargs), f"{exc}; {getattr(fn, '__name__', fn)} takes "
                          f"{params}") from exc


def checked_target(field: str, spec: Any, prefixes: tuple[str, ...], kind: str
                   ) -> tuple[Any, dict[str, Any]]:
    """The allowed callable of a ``{_target_: ..., **kwargs}`` spec and its arguments, checked
    against its signature (nothing is called)."""
    if not isinstance(spec, Mapping) or "_target_" not in spec:
        raise ConfigError(field, spec, f"{_article(kind)} {kind} config with _target_")
    fn = resolve_target(f"{field}._target_", spec["_target_"], prefixes, kind)
    kwargs = {k: v for k, v in spec.items() if k != "_target_"}
    check_call(field, fn, kwargs)
    return fn, kwargs


def build_method(spec: Mapping[str, Any], field: str = "method") -> Any:
    """A fingerprinting method from its config: an allowed class, known arguments, values its
    constructor accepts (the methods raise ConfigError for k < 0, eps outside (0, 1], ...)."""
    cls, kwargs = checked_target(field, spec, METHODS, "method")
    return cls(**kwargs)


def check_loader(spec: Mapping[str, Any], field: str = "dataset.loader") -> None:
    checked_target(field, spec, LOADERS, "dataset loader")


def check_model(spec: Mapping[str, Any], field: str) -> Any:
    """A model constructor from an allowed package, with arguments it takes; torchvision
    architectures are looked up by name (nothing is built or downloaded)."""
    fn, kwargs = checked_target(field, spec, MODELS, "architecture")
    if str(spec["_target_"]).endswith("imagenet.torchvision_classifier"):
        import torchvision.models as tvm

        arch = kwargs.get("arch")
        if arch not in tvm.list_models(module=tvm):
            raise ConfigError(f"{field}.arch", arch, "a torchvision classification model, e.g. "
                              "resnet50, vgg16, inception_v3 (torchvision.models.list_models())")
    return fn


def build_model(spec: Mapping[str, Any], field: str = "model") -> Any:
    """Call an allowed model constructor (a member.json names only such)."""
    fn = check_model(spec, field)
    return fn(**{k: v for k, v in spec.items() if k != "_target_"})
