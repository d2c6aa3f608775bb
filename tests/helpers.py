"""Helpers shared by the reliability tests (docs/reliability.md): a micro digits zoo built once per
test process by the real builder, and the entry points run as real subprocesses.

No tests here; the other ``test_reliability_*`` files import these."""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conftest import REPO, compose_cfg

# Every member kind, one epoch or a few each: builds in ~3 s on one thread.
MICRO_ZOO = [
    "threads=1",
    "checkpoint_min_seconds=0",   # a checkpoint every (short) epoch: the kill tests need them
    "zoo.target.recipe.epochs=4",
    "zoo.positives.finetune.ftll.epochs=1",
    "zoo.positives.finetune.ftal.epochs=1",
    "zoo.positives.finetune.rtll.epochs=1",
    "zoo.positives.finetune.rtal.epochs=1",
    "zoo.positives.wp.largest=0.1",
    "zoo.positives.wp.recipe.epochs=1",
    "zoo.positives.fp.largest=0.0625",
    "zoo.positives.fp.recipe.epochs=1",
    "zoo.negatives.same_arch.count=1",
    "zoo.negatives.archs.lenet.count=1",
    "zoo.negatives.archs.lenet.recipe.epochs=1",
    "zoo.negatives.archs.vgg.count=0",
    "zoo.negatives.forest.count=1",
    "zoo.negatives.forest.n_estimators=3",
]
MICRO_MEMBERS = {("target", "target"), ("positive", "ftll"), ("positive", "ftal"),
                 ("positive", "rtll"), ("positive", "rtal"), ("positive", "wp-p0.10"),
                 ("positive", "fp-c01of16"), ("negative", "same_arch-s1"),
                 ("negative", "lenet-s0"), ("negative", "forest-s0")}
# A quick bench on the micro zoo: few points, no W&B.
QUICK_BENCH = ["n=10", "logger=none", "threads=1"]


@functools.lru_cache(maxsize=1)
def micro_zoo() -> Path:
    """The micro zoo's folder (``<root>/zoo/digits``), built in-process once; read-only for
    callers (copy it with :func:`copy_zoo` to change it)."""
    from train.zoo import build_zoo

    root = Path(tempfile.mkdtemp(prefix="ipguard-micro-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    build_zoo(compose_cfg("train", MICRO_ZOO, root))
    return root / "zoo" / "digits"


def copy_zoo(dest: Path) -> Path:
    """A private copy of the micro zoo under ``dest/zoo/digits``."""
    target = dest / "zoo" / "digits"
    shutil.copytree(micro_zoo(), target)
    return target


def env() -> dict[str, str]:
    """One thread per process (the machine is shared), W&B offline and quiet."""
    out = dict(os.environ)
    out.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", WANDB_MODE="offline",
               WANDB_SILENT="true", PYTHONUNBUFFERED="1")
    for name in ("IPGUARD_DEBUG", "HYDRA_FULL_ERROR"):
        out.pop(name, None)
    return out


def entry(module: str, args: list[str], root: Path, **popen: Any) -> subprocess.Popen:
    """Start ``python -m <module> args`` with its paths (and Hydra's folders) inside ``root``."""
    hydra_dirs = [f"hydra.run.dir={root}/outputs/run", f"hydra.sweep.dir={root}/multirun"]
    flags = [a for a in args if a.startswith("-")]  # -m (multirun) before the overrides
    overrides = [a for a in args if not a.startswith("-")]
    cmd = [sys.executable, "-m", module, *flags, f"paths.root_dir={root}", *hydra_dirs,
           *overrides]
    popen.setdefault("env", env())
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


def member_json(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "member.json").read_text())


@contextlib.contextmanager
def epoch_hook(epochs: list[int], crash_after: int | None = None) -> Iterator[None]:
    """While active, every training epoch's end (after its checkpoint) is appended to
    ``epochs``; with ``crash_after``, the epoch numbered so (from 1) then raises
    ``RuntimeError('power cut')``, as a process killed right after its checkpoint."""
    import train.module as tm

    original = tm.LastCheckpoint.on_train_epoch_end

    def hook(self, trainer, pl_module):  # noqa: ANN001 - Lightning's callback signature
        original(self, trainer, pl_module)
        epochs.append(trainer.current_epoch)
        if crash_after is not None and trainer.current_epoch + 1 == crash_after:
            raise RuntimeError("power cut")

    tm.LastCheckpoint.on_train_epoch_end = hook
    try:
        yield
    finally:
        tm.LastCheckpoint.on_train_epoch_end = original
