"""User-facing errors: one clear line that says what was wrong and how to fix it."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


class IPGuardError(Exception):
    """An expected failure caused by input (config, files, data); printed without a traceback."""


class ConfigError(IPGuardError, ValueError):
    """A config value is invalid: names the field, the bad value and the valid choices."""

    def __init__(self, field: str, value: object, valid: str) -> None:
        super().__init__(f"invalid {field}={value!r}: {valid}")
        self.field, self.value, self.valid = field, value, valid

    def __reduce__(self) -> tuple[type, tuple[str, object, str]]:
        # Cluster launchers (submitit) pickle a job's exception to show it in the sweep.
        return (type(self), (self.field, self.value, self.valid))


class MissingZooError(IPGuardError, FileNotFoundError):
    """The zoo (or one of its members) the run needs has not been built."""


def debug_enabled() -> bool:
    return os.environ.get("IPGUARD_DEBUG", "") not in ("", "0", "false")


def _in_multirun() -> bool:
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    except Exception:  # noqa: BLE001 - outside Hydra: a plain call
        return False


def friendly_errors(fn: F) -> F:
    """Turn IPGuardError into one line on stderr and exit code 2 (set IPGUARD_DEBUG=1 for the
    full traceback). In a multirun the error is re-raised after the line, so that the launcher
    marks this job failed and the other jobs of the sweep still run."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - we re-raise anything that is not ours
            err: BaseException | None = exc
            while err is not None and not isinstance(err, IPGuardError):
                err = err.__cause__ or err.__context__
            if err is None:
                raise
            if debug_enabled():
                # Hydra would shorten the traceback to its last frame: ask it for all of it
                os.environ["HYDRA_FULL_ERROR"] = "1"
                raise
            print(f"error: {err}", file=sys.stderr)
            if _in_multirun():
                raise
            sys.exit(2)

    return wrapper  # type: ignore[return-value]
