"""User-facing errors: one clear line that says what was wrong and how to fix it."""

from __future__ import annotations


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
