"""The entry points' contract with users: bad input is one line, ``error: ...``, exit code 2,
whether Hydra finds it while composing the config (a wrong type or choice) or the job finds it
(a range, a missing zoo, a broken file). ``IPGUARD_DEBUG=1`` shows the traceback instead.

    @hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="bench")
    @task
    def _main(cfg): ...
    main = entry(_main)
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from ipguard.app.config import config_error, register
from ipguard.utils.errors import IPGuardError

F = TypeVar("F", bound=Callable[..., Any])
HYDRA_HINT = "\nSet the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace."


def debug_enabled() -> bool:
    return os.environ.get("IPGUARD_DEBUG", "") not in ("", "0", "false")


def _in_multirun() -> bool:
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    except Exception:  # noqa: BLE001 - outside Hydra: a plain call
        return False


def ipguard_error(exc: BaseException) -> IPGuardError | None:
    """The suite's own error in ``exc``'s chain (Hydra and launchers may wrap it)."""
    err: BaseException | None = exc
    while err is not None and not isinstance(err, IPGuardError):
        err = err.__cause__ or err.__context__
    return err


def task(fn: F) -> F:
    """Inside a Hydra job: an IPGuardError becomes one line on stderr and exit code 2. In a
    multirun the error is re-raised after the line, so that the launcher marks this job failed
    while the other jobs of the sweep still run."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> object:
        _requeue_outlives_sigterm()
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - anything not ours is re-raised
            err = ipguard_error(exc)
            if err is None or debug_enabled():
                raise
            print(f"error: {err}", file=sys.stderr, flush=True)
            _to_job_log(f"error: {err}")
            if _in_multirun():
                exc.ipguard_reported = True  # type: ignore[attr-defined]
                raise
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _requeue_outlives_sigterm() -> None:
    """In a SLURM job of hydra/launcher=slurm(_gpu): let the requeue at the time limit finish.
    submitit's handler of the signal SLURM sends before the limit runs ``scontrol requeue``, and
    SLURM, requeueing, sends SIGTERM to every process of the job, that ``scontrol`` too; killed
    before it exits, submitit takes the requeue for failed and the job ends with an error though
    SLURM requeued it. From that signal on SIGTERM is ignored (``scontrol`` inherits that): the
    job is ending anyway."""
    import signal
    import threading

    if os.environ.get("SUBMITIT_EXECUTOR") != "slurm":
        return
    signum = getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"), None)
    requeue = signal.getsignal(signum) if signum is not None else None
    if (not callable(requeue) or getattr(requeue, "outlives_sigterm", False)
            or threading.current_thread() is not threading.main_thread()):
        return

    def handler(sig: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        requeue(sig, frame)

    handler.outlives_sigterm = True  # type: ignore[attr-defined]
    signal.signal(signum, handler)


def _to_job_log(line: str) -> None:
    """The error in the job's own log file too (``<output dir>/<job>.log``), where a sweep's
    user looks first; the console already has it, so only file handlers get it."""
    import logging

    record = logging.LogRecord("ipguard", logging.ERROR, __file__, 0, line, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def entry(hydra_main: Callable[[], Any],
          register_more: Callable[[], None] | None = None) -> Callable[[], Any]:
    """A console entry point around a ``@hydra.main`` function: registers the schemas and
    sweeps (and, with ``register_more``, the caller's own), and reports composition errors
    (``n=abc``, ``init=middle``) as one line too. Hydra's own messages (an unknown config-group
    option) stay Hydra's, exit code 1."""

    @functools.wraps(hydra_main)
    def main() -> Any:
        register()
        if register_more is not None:
            register_more()
        users = os.environ.get("HYDRA_FULL_ERROR")
        os.environ["HYDRA_FULL_ERROR"] = "1"  # let Hydra's errors reach this frame
        try:
            return hydra_main()
        except Exception as exc:  # noqa: BLE001 - reported below, never swallowed silently
            if users or debug_enabled():
                raise
            _report(exc)
        finally:
            if users is None:
                os.environ.pop("HYDRA_FULL_ERROR", None)

    return main


def _report(exc: Exception) -> None:
    from hydra.errors import CompactHydraException, MissingConfigException

    err = ipguard_error(exc) or (None if isinstance(exc, MissingConfigException)
                                 else config_error(exc))
    if err is not None:
        if not getattr(exc, "ipguard_reported", False):  # a multirun job printed it already
            print(f"error: {err}", file=sys.stderr, flush=True)
        sys.exit(2)
    if isinstance(exc, CompactHydraException):  # as Hydra prints its own errors
        print(str(exc), file=sys.stderr)
        if exc.__cause__ is not None:
            print(str(exc.__cause__), file=sys.stderr)
    else:
        traceback.print_exception(exc)
    print(HYDRA_HINT, file=sys.stderr, flush=True)
    sys.exit(1)
