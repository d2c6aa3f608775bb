"""Progress of long work (zoo training, extraction, verification): a bar on a terminal, a plain
log line every so often elsewhere (SLURM logs, CI, pytest, a pipe), nothing when switched off.

    IPGUARD_PROGRESS=auto|bar|log|off   auto (the default): a bar when the stream (stderr) is a
                                        terminal, else log lines
    IPGUARD_PROGRESS_INTERVAL=15        seconds between two log lines

Work opens a :class:`Progress` (a context manager) and calls ``update(n, **postfix)`` as it
goes. An update only adds to a counter and reads the clock; the bar is redrawn at most every
``BAR_REFRESH`` seconds and a log line written at most every interval, so callers may update on
every iteration. Postfix values are shown as they are: pass what the host already holds (a
Python int, a name), never a GPU tensor that would have to be synchronised to print.

Log lines are INFO records of the ``ipguard.utils.progress`` logger: under Hydra they go
wherever the job's log goes (stdout and ``<output_dir>/<job>.log``); a library caller without
logging configured sees none. The bar is tqdm's, on stderr."""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from typing import IO, Any

from tqdm import tqdm

MODES = ("auto", "bar", "log", "off")
MODE_ENV = "IPGUARD_PROGRESS"
INTERVAL_ENV = "IPGUARD_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 15.0
BAR_REFRESH = 0.2

log = logging.getLogger(__name__)
_warned: set[str] = set()


def _warn_once(name: str, value: str, valid: str) -> None:
    if name not in _warned:
        _warned.add(name)
        log.warning("ignoring %s=%r: %s", name, value, valid)


def resolve_mode(stream: IO[str] | None = None) -> str:
    """'bar', 'log' or 'off': the ``IPGUARD_PROGRESS`` choice, or for ``auto`` a bar when
    ``stream`` (default stderr) is a terminal and log lines when it is not."""
    chosen = os.environ.get(MODE_ENV, "auto").strip().lower() or "auto"
    if chosen not in MODES:
        _warn_once(MODE_ENV, chosen, f"choose one of {', '.join(MODES)}; using auto")
        chosen = "auto"
    if chosen != "auto":
        return chosen
    stream = sys.stderr if stream is None else stream
    try:
        return "bar" if stream.isatty() else "log"
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return "log"


def interval() -> float:
    """Seconds between two log lines (``IPGUARD_PROGRESS_INTERVAL``, default 15)."""
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        _warn_once(INTERVAL_ENV, raw, f"seconds >= 0; using {DEFAULT_INTERVAL:g}")
        return DEFAULT_INTERVAL
    return value


def clock(seconds: float | None) -> str:
    """``1:02:03`` / ``02:03``; ``?`` when unknown."""
    return "?" if seconds is None else tqdm.format_interval(max(seconds, 0.0))


class Progress:
    """Progress of one piece of work: ``total`` units (None: unknown) named ``unit``.

    The code doing the work may set ``total`` before its first update (the bar is drawn
    lazily, so it reads the total then). ``initial``: units already done before this run (a
    resumed training), counted in the position but not in the rate. ``mode`` overrides
    :func:`resolve_mode`; ``stream`` is where a bar goes (default stderr)."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "it", *,
                 initial: int = 0, mode: str | None = None, stream: IO[str] | None = None
                 ) -> None:
        self.desc, self.total, self.unit = desc, total, unit
        self.mode = mode or resolve_mode(stream)
        self.stream = stream
        self.count = self.initial = initial
        self.postfix: dict[str, Any] = {}
        self.start = self._last = time.monotonic()
        self._every = BAR_REFRESH if self.mode == "bar" else interval()
        self._drawn = self.count
        self._bar: tqdm | None = None
        self._lines = 0

    def update(self, n: int = 1, **postfix: Any) -> None:
        """``n`` more units done; ``postfix`` replaces the values shown after the count."""
        self.count += n
        if self.mode == "off":
            return
        if postfix:
            self.postfix = postfix
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._draw(now)

    def close(self, interrupted: bool = False) -> None:
        """Show the final state: the bar stays on screen; in log mode a last line when the
        work lasted long enough to have logged before (``stopped`` when it was interrupted:
        an error, a time limit)."""
        if self.mode == "bar" and (self._bar is not None or self.count > self.initial):
            self._draw(time.monotonic())
            assert self._bar is not None
            self._bar.close()
        elif self.mode == "log" and self._lines:
            log.info("%s: %s, %s", self.desc, "stopped" if interrupted else "done",
                     self._line(time.monotonic(), eta=False))
        self.mode = "off"

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(interrupted=exc_type is not None)

    # ----------------------------------------------------------------- drawing
    def _draw(self, now: float) -> None:
        if self.mode == "log":
            self._lines += 1
            log.info("%s: %s", self.desc, self._line(now))
            return
        if self._bar is None:
            self._bar = tqdm(total=self.total, desc=self.desc, unit=self.unit,
                             initial=self.initial, file=self.stream or sys.stderr,
                             dynamic_ncols=True, mininterval=0, miniters=1, leave=True)
            # Drawn lazily: date the bar from when the work began, not from its first draw.
            self._bar.start_t = self._bar.last_print_t = self._bar.start_t - (now - self.start)
        self._bar.set_postfix({k: str(v) for k, v in self.postfix.items()}, refresh=False)
        self._bar.update(self.count - self._drawn)
        self._drawn = self.count

    def _line(self, now: float, eta: bool = True) -> str:
        elapsed = now - self.start
        parts = [f"{self.count}/{self.total}" if self.total else str(self.count)]
        parts[0] += f" {self.unit}"
        if self.total:
            parts[0] += f" ({100 * self.count / self.total:.0f}%)"
        parts += [f"{k}={v}" for k, v in self.postfix.items()]
        parts.append(f"elapsed {clock(elapsed)}")
        if eta:
            parts.append(f"ETA {clock(self.eta(elapsed))}")
        return ", ".join(parts)

    def eta(self, elapsed: float) -> float | None:
        """Seconds left at this run's rate; None while unknown (no total, nothing done)."""
        done = self.count - self.initial
        if not self.total or done <= 0:
            return None
        return elapsed / done * max(self.total - self.count, 0)


def expect(progress: Progress | None, total: int | None, unit: str = "it") -> Progress:
    """What a piece of work reports to: ``progress`` (a silent one when None, as when a method
    is called outside ``extract``) with its ``total`` and ``unit`` set before the first update."""
    progress = progress or Progress("", mode="off")
    progress.total, progress.unit = total, unit
    return progress


class Eta:
    """Time left in a run of unequal jobs (a zoo build): the seconds per unit of work of the
    jobs measured so far times the units still to do."""

    def __init__(self, units: float) -> None:
        self.left = float(units)
        self.done = 0.0
        self.seconds = 0.0
        self.start = time.monotonic()

    def add(self, units: float, seconds: float | None = None) -> None:
        """``units`` of work are no longer to do; ``seconds``: what they took (None: not
        measured, e.g. a member found already built or a job that will not run)."""
        self.left -= units
        if seconds is not None:
            self.done += units
            self.seconds += seconds

    def remaining(self) -> float | None:
        if self.left <= 0:
            return 0.0
        return self.seconds / self.done * self.left if self.done > 0 else None

    def __str__(self) -> str:
        return f"elapsed {clock(time.monotonic() - self.start)}, ETA {clock(self.remaining())}"
