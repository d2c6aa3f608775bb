"""The installed commands: after a plain ``pip install .`` (not editable) in a
fresh virtual environment, ``ipguard-zoo``, ``ipguard-bench`` and ``ipguard-figures`` run from an
empty folder, with the configs and sweeps shipped in the package.

The new environment borrows the heavy dependencies (torch, Lightning, ...) of the one running
the tests through a ``.pth`` line, so only ipguard itself is installed: the test checks the
package, not PyPI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

from conftest import REPO
from helpers import micro_zoo


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``bin`` folder of a fresh environment holding a non-editable install."""
    root = tmp_path_factory.mktemp("install")
    venv.EnvBuilder(with_pip=True).create(root / "env")
    env_python = root / "env" / "bin" / "python"
    purelib = subprocess.run([env_python, "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "_borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    source = root / "src"  # a copy: pip's build must not write into the checkout
    shutil.copytree(REPO, source, ignore=_not_source)
    proc = subprocess.run([env_python, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--disable-pip-version-check", str(source)],
                          capture_output=True, text=True, timeout=600, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "env" / "bin"


def _not_source(folder: str, names: list[str]) -> set[str]:
    """What a checkout holds besides its source: the environment, builds, run outputs."""
    skip = {"__pycache__", ".pytest_cache", ".ruff_cache"}
    if Path(folder) == REPO:
        skip |= {".git", ".venv", "build", "zoo", "results", "outputs", "multirun", "data"}
    return {n for n in names if n in skip or n.endswith(".egg-info")}


def _run(bin_dir: Path, command: str, folder: Path, *overrides: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IPGUARD_", "PYTHON"))}
    env.update(WANDB_MODE="offline", OMP_NUM_THREADS="1")
    return subprocess.run([bin_dir / command, "logger=none", *overrides],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def test_the_package_is_installed_not_linked_to_the_checkout(installed, tmp_path):
    out = subprocess.run([installed / "python", "-c",
                          "import ipguard, train, ipguard.app.config as c;"
                          "print(ipguard.__file__, train.__file__, c.CONF_DIR, c.SWEEPS_DIR)"],
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert str(REPO) not in out and out.count("site-packages") == 4, out


def test_installed_commands_run_from_an_empty_folder(installed, tmp_path):
    zoo = _run(installed, "ipguard-zoo", tmp_path, "member=target", "threads=1",
               "zoo.target.recipe.epochs=1")
    assert zoo.returncode == 0, zoo.stderr[-3000:]
    assert (tmp_path / "zoo" / "digits" / "target" / "target" / "member.json").is_file()
    bench = _run(installed, "ipguard-bench", tmp_path, "n=10", f"zoo_dir={micro_zoo()}",
                 "threads=1", "sweep=table4", "init=train", "label=least_likely")
    assert bench.returncode == 0, bench.stderr[-3000:]
    assert "ARUC =" in bench.stdout
    assert (tmp_path / "results" / "digits" / "table4" / "random-TL-n10-s0.json").is_file()
    figures = _run(installed, "ipguard-figures", tmp_path)
    unknown = _run(installed, "ipguard-figures", tmp_path, "threads=1")
    assert unknown.returncode == 2 and unknown.stderr.strip() == \
        "error: unknown setting 'threads': FiguresConfig has no such key (check its spelling; " \
        "`--cfg job` lists the settings)"
    assert figures.returncode == 0, figures.stderr[-3000:]
    assert "files in" in figures.stdout
    bad = _run(installed, "ipguard-bench", tmp_path, "n=abc")
    assert bad.returncode == 2 and bad.stderr.strip() == "error: invalid n='abc': must be an " \
        "integer"

