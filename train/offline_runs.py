"""A zoo build's W&B offline runs (one per trained member, train.fit) announced once: the one
``wandb sync`` command that uploads all of them, logged when the build ends or fails.

``wandb sync`` takes run folders and W&B folders (it uploads every run inside one and skips
those already uploaded), several at once; so the command names the build's W&B folder where
that folder holds only this build's runs, and else each of its run folders."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path


def sync_paths(run_dirs: Sequence[Path]) -> list[Path]:
    """The fewest paths for ``wandb sync`` that upload exactly ``run_dirs``: each W&B folder
    that holds no other run, else the run folders themselves (in the order given)."""
    by_folder: dict[Path, list[Path]] = {}
    for run in dict.fromkeys(Path(d) for d in run_dirs):
        by_folder.setdefault(run.parent, []).append(run)
    paths: list[Path] = []
    for folder, runs in by_folder.items():
        others = [p for p in folder.glob("*run-*")
                  if p.is_dir() and not p.is_symlink() and p not in runs]
        paths.extend(runs if others else [folder])
    return paths


def sync_hint(run_dirs: Sequence[Path]) -> str | None:
    """The line that says how to upload ``run_dirs`` in one command; None without any."""
    if not run_dirs:
        return None
    count = len(set(run_dirs))
    runs = f"{count} offline run{'s' * (count != 1)}"
    paths = " ".join(shlex.quote(str(p)) for p in sync_paths(run_dirs))
    return f"W&B: this build's {runs}: upload {'them' if count != 1 else 'it'} with " \
           f"`wandb sync {paths}`"
