"""W&B mirror of the local results. Offline by default; never blocks, never fails a job.

Every call is guarded: without network, with a bad API key or on a W&B error mid-run, the job
warns once and goes on, and the local results stay the source of truth."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
ZOO_SWEEP = "zoo"   # the sweep that builds the zoos (sweeps/zoo.yaml): its runs train members


def run_group(dataset: str, sweep: str) -> str:
    """The W&B group of a sweep's runs, one per dataset and sweep so that a dashboard panel
    shows one sweep (``digits-fig6``); the zoo's training runs are ``zoo-digits``. The one
    rule: the bench, the zoo builder, the presets and the W&B reader all ask here."""
    return f"zoo-{dataset}" if sweep == ZOO_SWEEP else f"{dataset}-{sweep}"


def zoo_group(dataset: str) -> str:
    """The W&B group of the zoo builder's training runs for ``dataset``."""
    return run_group(dataset, ZOO_SWEEP)


class Tracker:
    """One W&B run (or nothing, when disabled or when W&B fails)."""

    def __init__(
        self,
        enabled: bool = True,
        project: str = "ipguard",
        entity: str | None = None,
        mode: str = "offline",
        dir: str | os.PathLike[str] | None = None,
        name: str | None = None,
        group: str | None = None,
        job_type: str | None = None,
        tags: Sequence[str] = (),
        config: Mapping[str, Any] | None = None,
        init_timeout: float = 30.0,
    ) -> None:
        self.run: Any = None
        self.mode = mode
        if not enabled or mode == "disabled":
            return
        try:
            import wandb

            if dir is not None:
                Path(dir).mkdir(parents=True, exist_ok=True)
            self.run = wandb.init(
                project=project, entity=entity, mode=mode, dir=str(dir) if dir else None,
                name=name, group=group, job_type=job_type, tags=list(tags),
                config=dict(config or {}), reinit="finish_previous",
                settings=wandb.Settings(init_timeout=init_timeout, silent=True,
                                        console="off", x_disable_stats=True),
            )
        except Exception as exc:  # noqa: BLE001 - W&B must never fail the job
            self._warn("init", exc)
            return
        announce(self.run)

    @property
    def active(self) -> bool:
        return self.run is not None

    @property
    def run_dir(self) -> Path | None:
        return Path(self.run.dir).parent if self.run is not None else None

    def describe(self) -> dict[str, Any] | None:
        """Where this run lives (for the results record): id, project, group, mode, folder."""
        if self.run is None:
            return None
        try:
            return {"id": self.run.id, "project": self.run.project, "group": self.run.group,
                    "mode": self.mode, "dir": str(self.run_dir)}
        except Exception:  # noqa: BLE001
            return None

    def summary(self, values: Mapping[str, Any]) -> None:
        self._guard("summary", lambda: self.run.summary.update(dict(values)))

    def log(self, values: Mapping[str, Any]) -> None:
        self._guard("log", lambda: self.run.log(dict(values)))

    def table(self, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        def _do() -> None:
            import wandb

            self.run.log({key: wandb.Table(columns=list(columns), data=[list(r) for r in rows])})

        self._guard("table", _do)

    def image(self, key: str, path: str | os.PathLike[str]) -> None:
        def _do() -> None:
            import wandb

            self.run.log({key: wandb.Image(str(path))})

        self._guard("image", _do)

    def artifact(self, path: str | os.PathLike[str], name: str, type: str) -> None:
        def _do() -> None:
            import wandb

            art = wandb.Artifact(name=artifact_name(name), type=type)
            art.add_file(str(path))
            self.run.log_artifact(art)

        self._guard("artifact", _do)

    def finish(self, exit_code: int = 0) -> None:
        if self.run is None:
            return
        run, self.run = self.run, None
        finish_run(run, exit_code)

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.finish(exit_code=1 if exc_type else 0)

    def _guard(self, what: str, fn: Any) -> None:
        if self.run is None:
            return
        try:
            fn()
        except Exception as exc:  # noqa: BLE001
            self._warn(what, exc)

    def _warn(self, what: str, exc: BaseException) -> None:
        log.warning("W&B %s failed (%s: %s); local results are unaffected", what,
                    type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")


def artifact_name(name: str) -> str:
    """W&B artifact names allow letters, digits, '-', '_' and '.': map anything else to '_'."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:128]


def lightning_logger(
    logger_cfg: Mapping[str, Any] | None,
    name: str,
    group: str | None = None,
    tags: Sequence[str] = (),
    config: Mapping[str, Any] | None = None,
    save_dir: str | os.PathLike[str] | None = None,
    announce_offline: bool = True,
) -> Any:
    """A Lightning ``WandbLogger`` for one zoo member's training (job_type ``train``), or None
    when W&B is disabled or cannot start (training then logs to CSV only). Pass it to the
    Trainer next to the CSV logger and call :func:`finish_lightning_logger` after ``fit``.
    ``announce_offline`` False: an offline run is not announced, for a caller that collects
    its runs' :func:`offline_run_dir` and says once how to upload them all."""
    lg = dict(logger_cfg or {})
    if not lg.get("enabled", False) or lg.get("mode") == "disabled":
        return None
    try:
        import wandb
        from lightning.pytorch.loggers import WandbLogger

        folder = save_dir or lg.get("dir")
        if folder is not None:
            Path(folder).mkdir(parents=True, exist_ok=True)
        logger = WandbLogger(
            name=name, project=lg.get("project", "ipguard"), entity=lg.get("entity"),
            save_dir=str(folder) if folder is not None else ".", mode=lg.get("mode", "offline"),
            group=lg.get("group") or group, job_type="train", tags=list(tags),
            config=dict(config or {}), reinit="finish_previous", log_model=False,
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True),
        )
        run = logger.experiment  # start the run now, so a failure is caught here
        if announce_offline or offline_run_dir(run) is None:
            announce(run)
        return logger
    except Exception as exc:  # noqa: BLE001 - W&B must never fail the job
        log.warning("W&B logger for %s failed (%s: %s); training logs to CSV only", name,
                    type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        return None


def finish_lightning_logger(logger: Any, exit_code: int = 0) -> None:
    """Finish the member's W&B run (one run per member, also when its training failed)."""
    if logger is None:
        return
    try:
        run = logger.experiment
    except Exception as exc:  # noqa: BLE001
        log.warning("W&B finish failed (%s); local logs are unaffected", exc)
        return
    finish_run(run, exit_code)


def announce(run: Any) -> str | None:
    """Say where the run is, as W&B users expect: its URL when online, the exact
    ``wandb sync`` command when offline. Returns the line (None when it cannot be told)."""
    folder = offline_run_dir(run)
    try:
        line = (f"W&B offline run {run.id}: upload it with `wandb sync {folder}`"
                if folder is not None else f"W&B run {run.id}: {run.url}")
    except Exception:  # noqa: BLE001 - never fail a job over a log line
        return None
    log.info(line)
    return line


def offline_run_dir(run: Any) -> Path | None:
    """An offline run's folder, what ``wandb sync`` takes; None for an online run or when it
    cannot be told."""
    try:
        return Path(run.dir).parent if run.settings.mode == "offline" else None
    except Exception:  # noqa: BLE001 - never fail a job over where its run lives
        return None


def finish_run(run: Any, exit_code: int = 0) -> None:
    """Finish a W&B run without ever failing the job, and for an offline run wait until its
    file holds the exit record (so ``wandb sync`` or a reader sees a complete run)."""
    try:
        run_file = _run_file(run)
        run.finish(exit_code=exit_code)
    except Exception as exc:  # noqa: BLE001
        log.warning("W&B finish failed (%s: %s); local results are unaffected",
                    type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        return
    if run_file is not None:
        wait_until_written(run_file)


def _run_file(run: Any) -> Path | None:
    """An offline run's file (``run-<id>.wandb`` in its folder); None for an online run."""
    folder = offline_run_dir(run)
    try:
        return None if folder is None else folder / f"run-{run.id}.wandb"
    except Exception:  # noqa: BLE001
        return None


def wait_until_written(run_file: Path, timeout: float = 15.0, settle: float = 0.3) -> bool:
    """Wait until W&B's service has stopped writing an offline run file: ``finish()`` returns
    before the service has flushed it, so ``wandb sync`` started right after the job could
    upload a truncated run. Done when the file's size has not changed for ``settle`` seconds;
    False after ``timeout``. (The file's format is W&B's own: it is never parsed here.)"""
    deadline = time.monotonic() + timeout
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = run_file.stat().st_size if run_file.is_file() else -1
        if now != size:
            size, since = now, time.monotonic()
        elif size > 0 and time.monotonic() - since >= settle:
            return True
        time.sleep(0.05)
    log.warning("W&B run file %s was still being written after %.0fs", run_file, timeout)
    return False
