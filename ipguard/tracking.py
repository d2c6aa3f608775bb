"""W&B mirror of the local results. Offline by default; never blocks, never fails a job.

Every call is guarded: without network, with a bad API key or on a W&B error mid-run, the job
warns once and goes on, and the local results stay the source of truth."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


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

    @property
    def active(self) -> bool:
        return self.run is not None

    @property
    def run_dir(self) -> Path | None:
        return Path(self.run.dir).parent if self.run is not None else None

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

            art = wandb.Artifact(name=name, type=type)
            art.add_file(str(path))
            self.run.log_artifact(art)

        self._guard("artifact", _do)

    def finish(self, exit_code: int = 0) -> None:
        if self.run is None:
            return
        run, self.run = self.run, None
        try:
            run.finish(exit_code=exit_code)
        except Exception as exc:  # noqa: BLE001
            self._warn("finish", exc)

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
