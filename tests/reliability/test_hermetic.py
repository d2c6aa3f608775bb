"""The suite does not depend on the caller's shell: whatever W&B or ipguard variables a user
has exported (a logged-in user's WANDB_MODE=online, an empty WANDB_MODE, an API key, another
project or folder, IPGUARD_ROOT), the tests set their own. And an empty WANDB_MODE counts as
unset for the entry points too, so an ``export WANDB_MODE=`` in a shell profile breaks no run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ipguard.app.config import typed
from ipguard.app.schema import BenchConfig

from conftest import REPO, compose_cfg

CALLERS = {
    "online": {"WANDB_MODE": "online", "WANDB_API_KEY": "dummy" * 8},
    "empty": {"WANDB_MODE": ""},
    "disabled": {"WANDB_MODE": "disabled", "WANDB_PROJECT": "someone-else",
                 "WANDB_DIR": "/nonexistent/wandb", "IPGUARD_ROOT": "/nonexistent",
                 "IPGUARD_DEBUG": "1"},
}
# Tests that failed under such shells before: a bench job's W&B run, and one that reads the
# offline run back.
PROBES = ["tests/results/test_tracking.py::test_bench_job_that_fails_still_finishes_its_run",
          "tests/reliability/test_hermetic.py::test_the_session_sees_none_of_the_callers_settings"]


def test_the_session_sees_none_of_the_callers_settings():
    assert os.environ["WANDB_MODE"] == "offline"
    callers = {name for shell in CALLERS.values() for name in shell} - {"WANDB_MODE"}
    assert [n for n in callers if n in os.environ] == []


@pytest.mark.parametrize("shell", sorted(CALLERS))
def test_tests_pass_whatever_the_caller_exported(shell, tmp_path):
    env = {**os.environ, **CALLERS[shell], "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--basetemp", str(tmp_path / "t"), *PROBES],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f"{len(PROBES)} passed" in proc.stdout


@pytest.mark.parametrize("value, mode", [("", "offline"), ("online", "online"),
                                         ("disabled", "disabled")])
def test_an_empty_wandb_mode_counts_as_unset(monkeypatch, tmp_path, value, mode):
    monkeypatch.setenv("WANDB_MODE", value)
    assert typed(compose_cfg("bench", ["logger=wandb"], tmp_path), BenchConfig).logger.mode \
        == mode
    assert compose_cfg("train", ["logger=wandb"], tmp_path).logger.mode == mode
