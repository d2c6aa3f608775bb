"""Atomic writes (docs/reliability.md, section 4): every file the suite writes goes to a temporary
name and is renamed into place, so a reader or a resumed job never sees a half-written file; a
process killed mid-write leaves the old file or the new one, complete."""

from __future__ import annotations

import ast
import errno
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ipguard.utils.errors import IPGuardError
from ipguard.utils.io import atomic_write, remove_stale_tmp, write_json

from conftest import REPO
from helpers import env

# Calls that write a file's bytes, and the receivers that make a name one of them.
WRITE_CALLS = {"write_text", "write_bytes", "savefig", "save_file", "save_checkpoint",
               "mkstemp", "NamedTemporaryFile", "copyfile", "copy2", "copytree"}
MODULE_WRITERS = {("torch", "save"), ("np", "save"), ("numpy", "save"), ("np", "savez"),
                  ("json", "dump"), ("pickle", "dump"), ("shutil", "move")}
# Writers that take the destination from their caller, and why that is safe.
ALLOWED = {
    ("ipguard/utils/io.py", "atomic_write"): "the atomic writer itself",
    ("ipguard/models/forest.py", "save"): "TreeEnsemble.save is only called with atomic_write's "
                                          "temporary file (ipguard.zoo.save_member)",
    ("train/module.py", "on_train_epoch_end"): "LastCheckpoint saves through the trainer's "
                                               "checkpoint IO, train.fit.AtomicCheckpointIO",
}


def _writes(path: Path) -> list[tuple[int, str, str]]:
    """(line, enclosing function, call) for each file-writing call in ``path``."""
    src = path.read_text()
    tree = ast.parse(src)
    found = []

    def visit(node: ast.AST, func: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = func
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = child.name
            if isinstance(child, ast.Call) and _is_write(child):
                found.append((child.lineno, name, ast.get_source_segment(src, child) or ""))
            visit(child, name)

    visit(tree, "<module>")
    return found


def _is_write(call: ast.Call) -> bool:
    f = call.func
    if isinstance(f, ast.Name):
        if f.id == "open":
            mode = call.args[1] if len(call.args) > 1 else next(
                (k.value for k in call.keywords if k.arg == "mode"), None)
            return isinstance(mode, ast.Constant) and any(c in str(mode.value) for c in "wax+")
        return f.id in WRITE_CALLS
    if isinstance(f, ast.Attribute):
        if isinstance(f.value, ast.Name) and (f.value.id, f.attr) in MODULE_WRITERS:
            return True
        return f.attr in WRITE_CALLS
    return False


def test_every_writer_in_the_suite_writes_through_a_temporary_file():
    offenders = []
    files = sorted((REPO / "ipguard").rglob("*.py")) + sorted((REPO / "train").rglob("*.py"))
    for path in files:
        rel = str(path.relative_to(REPO))
        for line, func, call in _writes(path):
            if (rel, func) in ALLOWED:
                continue
            if not re.search(r"\btmp\b", call):  # the path atomic_write hands to its writer
                offenders.append(f"{rel}:{line} in {func}: {call[:80]}")
    assert offenders == [], ("write these with ipguard.utils.io.atomic_write:\n"
                             + "\n".join(offenders))


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = write_json(tmp_path / "record.json", {"aruc": 0.5})

    def half(tmp: Path) -> None:
        tmp.write_text('{"aruc": 0.')
        raise KeyboardInterrupt  # interrupted half way

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, half)
    assert json.loads(path.read_text()) == {"aruc": 0.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_files_get_the_usual_permissions_not_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        import ipguard.utils.io as io

        io._UMASK = None  # read it again
        path = write_json(tmp_path / "member.json", {})
    finally:
        os.umask(old)
        io._UMASK = None
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # readable by a shared cluster group


def test_disk_full_is_one_clear_line(tmp_path):
    def full(tmp: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(IPGuardError) as exc:
        atomic_write(tmp_path / "weights.safetensors", full)
    text = str(exc.value)
    assert "no space left to write" in text and "weights.safetensors" in text and "\n" not in text
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_are_cleared_and_nothing_else(tmp_path):
    (tmp_path / ".weights.safetensors.ab12.tmp").write_text("half")
    (tmp_path / "weights.safetensors").write_text("whole")
    (tmp_path / "notes.tmp").write_text("not ours: not hidden")
    removed = remove_stale_tmp(tmp_path)
    assert [p.name for p in removed] == [".weights.safetensors.ab12.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.tmp", "weights.safetensors"]


WRITER = """
import sys
from ipguard.utils.io import write_json
path, n = sys.argv[1], 0
print("ready", flush=True)
while True:
    n += 1
    write_json(path, {"n": n, "payload": [n] * 200000})
"""


def test_sigkill_mid_write_leaves_a_complete_file(tmp_path):
    """A writer rewriting a 1.4 MB JSON file in a loop is killed at random moments: the file
    always parses, and its payload is consistent (one write, not a mix of two)."""
    path = tmp_path / "record.json"
    for delay in (0.05, 0.13, 0.31):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=REPO, env=env(),
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if path.exists():
            record = json.loads(path.read_text())
            assert set(record["payload"]) == {record["n"]}
    assert path.exists()
