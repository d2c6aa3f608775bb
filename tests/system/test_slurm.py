"""Hydra multiruns through the repository's submitit launcher presets (conf/hydra/launcher/).

* ``hydra/launcher=slurm`` runs against the real single-node SLURM started by
  ``.ci/slurm/start.sh`` (tests marked ``slurm``; they skip when ``sinfo`` is missing or the
  cluster is not up). Run them with ``pytest -m slurm``.
* ``hydra/launcher=local`` (submitit's local executor) needs no SLURM; the same tests run with it.

Two layers: a tiny Hydra app written into ``tmp_path`` (results come back; a job that raises or
is killed fails the multirun with its error visible, within a bounded time), and the project's
own entry points (a tiny digits zoo and a small bench sweep through the launcher give the same
results as Hydra's basic launcher; a member that outlives its 1-minute SLURM time limit is
requeued, resumes its checkpoint and ends with the weights of an uninterrupted build).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "conf"
# generous upper bound for one multirun; a hang would blow it
MULTIRUN_TIMEOUT_S = 300


# ---------------------------------------------------------------------------------------------
# cluster detection


def _slurm_problem() -> str | None:
    """Why the SLURM-marked tests cannot run here, or None when the cluster is usable."""
    if not all(shutil.which(tool) for tool in ("sinfo", "sacct", "scontrol")):
        return (
            "SLURM client tools (sinfo, sacct, scontrol) are not installed; run .ci/slurm/start.sh"
        )
    # scontrol ping answers at once; sinfo retries a down controller for about 10 s
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=15)
    if ping.returncode != 0:
        return "SLURM is not up (slurmctld does not answer scontrol ping); run .ci/slurm/start.sh"
    try:
        states = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=15
        )
    except subprocess.TimeoutExpired:
        return "sinfo timed out: slurmctld is not answering"
    if states.returncode != 0:
        return (
            f"SLURM is not up ({states.stderr.strip() or 'sinfo failed'}); run .ci/slurm/start.sh"
        )
    usable = {"idle", "mixed", "allocated", "completing"}
    if not usable.intersection(states.stdout.split()):
        return f"no usable SLURM node (states: {states.stdout.split()})"
    try:
        acct = subprocess.run(
            ["sacct", "-n", "-X", "-S", "now-1minutes"], capture_output=True, text=True, timeout=15
        )
    except subprocess.TimeoutExpired:
        return "sacct timed out: slurmdbd is not answering"
    if acct.returncode != 0:
        return f"SLURM accounting does not work (sacct: {acct.stderr.strip()})"
    return None


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """Skip without a usable cluster; with IPGUARD_REQUIRE_SLURM=1 (CI) fail instead, so that a
    SLURM that did not come up cannot pass as a green run of skipped tests."""
    problem = _slurm_problem()
    if problem is not None:
        if os.environ.get("IPGUARD_REQUIRE_SLURM", "") not in ("", "0"):
            pytest.fail(f"IPGUARD_REQUIRE_SLURM is set but {problem}")
        pytest.skip(problem)


LAUNCHERS = [
    pytest.param("slurm", marks=pytest.mark.slurm, id="slurm"),
    pytest.param("local", id="local"),
]


@pytest.fixture(params=LAUNCHERS)
def launcher(request: pytest.FixtureRequest) -> str:
    if request.param == "slurm":
        request.getfixturevalue("slurm_cluster")
    return request.param


def _launcher_overrides(
    launcher: str, sweep_dir: Path, *, mem_gb: int = 1, timeout_min: int = 10
) -> list[str]:
    """Select a repository launcher preset with small resources (2-core CI machine: 1 CPU each,
    so two jobs run at once)."""
    return [
        f"hydra/launcher={launcher}",
        f"hydra.sweep.dir={sweep_dir}",
        f"hydra.launcher.timeout_min={timeout_min}",
        "hydra.launcher.cpus_per_task=1",
        f"hydra.launcher.mem_gb={mem_gb}",
    ]


def _run(cmd: list[str], cwd: Path, timeout: float = MULTIRUN_TIMEOUT_S, **kw):
    env = {**os.environ, "HYDRA_FULL_ERROR": "1", "PYTHONUNBUFFERED": "1"}
    env.update(kw.pop("env", {}))
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, **kw
        )
    except subprocess.TimeoutExpired as e:  # a hang: fail with what it printed so far
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = (e.stderr or b"").decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        pytest.fail(f"multirun hung for {timeout}s: {' '.join(cmd)}\n{out[-3000:]}\n{err[-3000:]}")
    proc.elapsed = time.monotonic() - t0  # type: ignore[attr-defined]
    return proc


def _output(proc) -> str:
    return f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"


def _sacct_states(job_ids: list[str], expected: int | None = None) -> dict[str, str]:
    """Final state of each job from SLURM accounting, keyed by JobID (array tasks appear as
    <array id>_<index>; an array id selects all its tasks). Waits for ``expected`` records
    (default: one per id) in a final state."""
    expected = len(job_ids) if expected is None else expected
    states: dict[str, str] = {}
    deadline = time.monotonic() + 30  # slurmctld hands job records to slurmdbd asynchronously
    while time.monotonic() < deadline:
        res = subprocess.run(
            ["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(job_ids)],
            capture_output=True,
            text=True,
            timeout=15,
            check=True,
        )
        states = dict(line.split("|", 1) for line in res.stdout.split())
        if len(states) >= expected and all(
            s.split()[0] in {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY"}
            for s in states.values()
        ):
            break
        time.sleep(1)
    return states


# ---------------------------------------------------------------------------------------------
# a tiny Hydra app

APP = """
import json, os, signal
from pathlib import Path

import hydra


@hydra.main(version_base=None, config_path="conf", config_name="app")
def main(cfg):
    if cfg.x == cfg.fail_on:
        raise RuntimeError(f"IPGUARD_TEST_BOOM: point x={cfg.x} fails on purpose")
    if cfg.x == cfg.kill_on:
        os.kill(os.getpid(), signal.SIGKILL)  # dies before submitit can write a result
    record = {
        "x": cfg.x,
        "y": cfg.x * cfg.x,
        "executor": os.environ.get("SUBMITIT_EXECUTOR"),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "slurm_array_job_id": os.environ.get("SLURM_ARRAY_JOB_ID"),
        "slurm_cpus": os.environ.get("SLURM_CPUS_PER_TASK"),
        "setup": os.environ.get("IPGUARD_SETUP"),
        "pid": os.getpid(),
    }
    Path(cfg.out, f"x{cfg.x}.json").write_text(json.dumps(record))
    return record["y"]


if __name__ == "__main__":
    main()
"""

APP_CONF = """
x: 0
fail_on: -1
kill_on: -1
out: ???
"""


@pytest.fixture
def tiny_app(tmp_path: Path) -> Path:
    (tmp_path / "conf").mkdir()
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    (tmp_path / "conf" / "app.yaml").write_text(textwrap.dedent(APP_CONF))
    (tmp_path / "out").mkdir()
    return tmp_path


def _tiny_multirun(app: Path, launcher: str, *extra: str):
    cmd = [
        sys.executable,
        str(app / "app.py"),
        "-m",
        "x=1,2,3",
        f"out={app / 'out'}",
        # the app lives outside the repository: add the repository's conf/ to Hydra's search
        # path so that hydra/launcher=<preset> resolves to conf/hydra/launcher/<preset>.yaml
        f"hydra.searchpath=['file://{CONF}']",
        *_launcher_overrides(launcher, app / "multirun"),
        *extra,
    ]
    return _run(cmd, cwd=app)


# `setup` lines (docs/slurm.md): shell lines the sbatch script runs before the job starts
SETUP = 'hydra.launcher.setup=["export IPGUARD_SETUP=ok","echo setup ran"]'


def test_tiny_multirun_results_come_back(tiny_app: Path, launcher: str) -> None:
    proc = _tiny_multirun(tiny_app, launcher, *([SETUP] if launcher == "slurm" else []))
    assert proc.returncode == 0, _output(proc)

    records = {x: json.loads((tiny_app / "out" / f"x{x}.json").read_text()) for x in (1, 2, 3)}
    assert {x: r["y"] for x, r in records.items()} == {1: 1, 2: 4, 3: 9}
    # each point ran in its own process under submitit's executor, not in the sweeping process
    assert {r["executor"] for r in records.values()} == {launcher}
    assert len({r["pid"] for r in records.values()}) == 3
    # submitit's folder lives under the Hydra sweep dir, one folder per job
    assert (tiny_app / "multirun" / ".submitit").is_dir()
    # Hydra's per-job output dirs are there as usual
    for n in range(3):
        assert (tiny_app / "multirun" / str(n) / ".hydra" / "overrides.yaml").is_file()

    if launcher == "slurm":
        job_ids = [r["slurm_job_id"] for r in records.values()]
        assert all(job_ids) and len(set(job_ids)) == 3
        # one job array, 1 CPU per job as the preset and overrides ask
        assert len({r["slurm_array_job_id"] for r in records.values()}) == 1
        assert {r["slurm_cpus"] for r in records.values()} == {"1"}
        assert {r["setup"] for r in records.values()} == {"ok"}
        states = _sacct_states(job_ids)
        assert sorted(states.values()) == ["COMPLETED"] * 3, states


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_tiny_multirun_failed_job_fails_the_sweep(tiny_app: Path, launcher: str, how: str) -> None:
    knob = "fail_on=2" if how == "raise" else "kill_on=2"
    proc = _tiny_multirun(tiny_app, launcher, knob)
    text = proc.stdout + proc.stderr

    # not a silent success, not a hang (_run fails the test on timeout)
    assert proc.returncode != 0, _output(proc)
    if how == "raise":
        # the job's own exception, with its message, reaches the user
        assert "IPGUARD_TEST_BOOM: point x=2 fails on purpose" in text, _output(proc)
    else:
        # submitit reports the job that died without a result, and where its logs are
        assert "has not produced any output" in text or "UncompletedJobError" in text, _output(proc)
    # the other points still ran
    assert (tiny_app / "out" / "x1.json").is_file()
    assert (tiny_app / "out" / "x3.json").is_file()
    assert not (tiny_app / "out" / "x2.json").exists()

    if launcher == "slurm":
        # SLURM accounting (what submitit polls) knows which task of the array failed
        array_id = json.loads((tiny_app / "out" / "x1.json").read_text())["slurm_array_job_id"]
        states = sorted(s.split()[0] for s in _sacct_states([array_id], expected=3).values())
        if how == "kill":
            assert states == ["COMPLETED", "COMPLETED", "FAILED"], states
        else:
            # Hydra catches the task's exception inside the job and hands it back through
            # submitit's result pickle, so SLURM sees the job end normally; the sweep still fails
            assert states == ["COMPLETED"] * 3, states


def _launcher_cfg(app: Path, launcher: str, *extra: str, env: dict | None = None) -> dict:
    """The resolved ``hydra.launcher`` node the tiny app would use (no job is launched)."""
    import yaml

    cmd = [
        sys.executable, str(app / "app.py"), f"out={app / 'out'}",
        f"hydra.searchpath=['file://{CONF}','file://{app / 'user'}']",
        f"hydra/launcher={launcher}", f"hydra.sweep.dir={app / 'multirun'}",
        *extra, "--cfg", "hydra", "-p", "hydra.launcher", "--resolve",
    ]  # fmt: skip
    proc = _run(cmd, cwd=app, timeout=60, env=env or {})
    assert proc.returncode == 0, _output(proc)
    return yaml.safe_load(proc.stdout)


def test_launcher_presets_resources_and_user_hook(tiny_app: Path) -> None:
    """Resources come from the preset, the environment (account, partition, QoS), the
    git-ignored conf/local/<preset>.yaml, then the command line, in that order."""
    clean = {k: "" for k in ("IPGUARD_SLURM_PARTITION", "IPGUARD_SLURM_ACCOUNT")}
    cpu = _launcher_cfg(tiny_app, "slurm")
    assert cpu["_target_"].endswith("SlurmLauncher")
    assert (cpu["cpus_per_task"], cpu["mem_gb"], cpu["nodes"], cpu["tasks_per_node"]) == (
        1,
        4,
        1,
        1,
    )
    assert cpu["gpus_per_node"] is None
    assert cpu["submitit_folder"] == f"{tiny_app / 'multirun'}/.submitit/%j"
    gpu = _launcher_cfg(tiny_app, "slurm_gpu")
    assert (gpu["gpus_per_node"], gpu["nodes"], gpu["tasks_per_node"]) == (1, 1, 1)
    # a job at its time limit is requeued (test_timed_out_member_is_requeued_and_resumes)
    for preset in (cpu, gpu):
        assert (preset["max_num_timeout"], preset["signal_delay_s"]) == (3, 60)
    local = _launcher_cfg(tiny_app, "local")
    assert local["_target_"].endswith("LocalLauncher")

    # a user's uncommitted settings: a conf/local/ folder (here on the search path from tmp)
    (tiny_app / "user" / "local").mkdir(parents=True)
    (tiny_app / "user" / "local" / "slurm.yaml").write_text("account: my_lab\npartition: localp\n")
    env = {**clean, "IPGUARD_SLURM_PARTITION": "envp", "IPGUARD_SLURM_QOS": "envq"}
    cfg = _launcher_cfg(
        tiny_app, "slurm", "hydra.launcher.mem_gb=7", "hydra.launcher.array_parallelism=3",
        env=env,
    )  # fmt: skip
    assert (cfg["partition"], cfg["account"], cfg["qos"]) == ("localp", "my_lab", "envq")
    assert (cfg["mem_gb"], cfg["array_parallelism"]) == (7, 3)
    cfg = _launcher_cfg(tiny_app, "slurm", "hydra.launcher.partition=cli", env=env)
    assert cfg["partition"] == "cli"
    # slurm_gpu reads its own file and IPGUARD_SLURM_GPU_PARTITION first
    env_gpu = {**env, "IPGUARD_SLURM_GPU_PARTITION": "gpup"}
    assert _launcher_cfg(tiny_app, "slurm_gpu", env=env_gpu)["partition"] == "gpup"


# ---------------------------------------------------------------------------------------------
# the project's entry points: a tiny digits zoo and a small bench sweep

# Smaller than conftest.TINY_ZOO: every job pays Python + torch + Lightning start-up, and the CI
# machine runs two at a time. Enough for a bench: one target, two positives, three negatives.
# threads=1 everywhere: a SLURM job uses SLURM_CPUS_PER_TASK threads (ipguard.app.runtime), and
# float sums in another thread count differ in the last bits, so the basic launcher must match it.
E2E_ZOO = [
    "dataset=digits",
    "threads=1",
    "zoo.target.recipe.epochs=3",
    "zoo.positives.finetune.ftll.epochs=1",
    "zoo.positives.wp.largest=0.1",
    "zoo.positives.wp.recipe.epochs=1",
    "zoo.negatives.same_arch.count=2",
    "zoo.negatives.forest.count=1",
]
# zoo stages: positives need the target, so the target is its own (one-job) multirun
STAGE_TARGET = "member=target"
STAGE_REST = "member=ftll,wp,same_arch,forest"
EXPECTED_MEMBERS = {
    "target/target",
    "positive/ftll",
    "positive/wp-p0.10",
    "negative/same_arch-s1",
    "negative/same_arch-s2",
    "negative/forest-s0",
}
BENCH_COMMON = ["dataset=digits", "threads=1", "method.max_iter=50", "logger=none"]
E2E_BENCH = [*BENCH_COMMON, "n=8", "seed=0,1"]
# a sweep with a point that fails (n=0 is refused) next to one that works (seed 0 of E2E_BENCH)
E2E_BENCH_FAILING = [*BENCH_COMMON, "n=8,0", "seed=0"]


def _entry(module: str, root: Path, sweep_dir: Path, launcher: str | None, *overrides: str):
    """``python -m <module> -m ...`` with the zoo and results under ``root``; launcher None is
    Hydra's basic launcher (every point in turn, in the sweeping process)."""
    cmd = [sys.executable, "-m", module, "-m", *overrides, f"paths.root_dir={root}"]
    if launcher is None:
        cmd.append(f"hydra.sweep.dir={sweep_dir}")
    else:
        cmd += _launcher_overrides(launcher, sweep_dir, mem_gb=2)
    return _run(cmd, cwd=root, env={"WANDB_MODE": "disabled", "WANDB_SILENT": "true"})


def _members(root: Path) -> dict[str, Path]:
    zoo = root / "zoo" / "digits"
    return {str(p.parent.relative_to(zoo)): p.parent for p in zoo.glob("*/*/member.json")}


def _zoo_snapshot(root: Path) -> dict[str, dict]:
    """Per member: its member.json (without timings and paths) and its weights."""
    from safetensors.torch import load_file

    out = {}
    for name, folder in _members(root).items():
        meta = json.loads((folder / "member.json").read_text())
        meta.pop("train_seconds", None)
        tensors = {}
        for f in sorted(folder.glob("*.safetensors")):
            tensors.update({f"{f.name}:{k}": v for k, v in load_file(str(f)).items()})
        out[name] = {"meta": meta, "tensors": tensors}
    return out


def _assert_same_zoo(got: dict[str, dict], want: dict[str, dict]) -> None:
    import torch

    assert set(got) == set(want)
    for name in want:
        assert got[name]["meta"] == want[name]["meta"], name
        g, w = got[name]["tensors"], want[name]["tensors"]
        assert set(g) == set(w), name
        for k in w:
            assert torch.equal(g[k], w[k]), f"{name}: {k} differs from the basic launcher's"


def _store(root: Path) -> dict[str, Path]:
    """The bench's results store (one record per setting, keyed like ipguard-TL-k=3-s0)."""
    return {f.stem: f for f in (root / "results" / "digits").glob("*/*.json")}


def _bench_results(root: Path) -> dict[str, dict]:
    from ipguard.results.store import read_record

    out = {}
    for key, f in sorted(_store(root).items()):
        rec = read_record(f)
        out[key] = {
            "seed": rec.setting.seed,
            "aruc": rec.aruc,
            "auc": rec.auc,
            "effectiveness": rec.effectiveness,
            "rates": {s.name: s.matching_rate for s in rec.suspects},
        }
    return out


@pytest.fixture(scope="module")
def basic_reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same zoo and bench sweep through Hydra's basic launcher (built once per module)."""
    root = tmp_path_factory.mktemp("basic")
    for i, stage in enumerate((STAGE_TARGET, STAGE_REST)):
        proc = _entry("train.zoo", root, root / f"zoo{i}", None, stage, *E2E_ZOO)
        assert proc.returncode == 0, _output(proc)
    proc = _entry("ipguard.bench", root, root / "bench", None, *E2E_BENCH)
    assert proc.returncode == 0, _output(proc)
    return {"zoo": _zoo_snapshot(root), "bench": _bench_results(root)}


E2E_LAUNCHERS = [
    pytest.param("slurm", marks=pytest.mark.slurm, id="slurm"),
    # the same without a cluster; minutes on 2 cores, so behind the slow marker
    pytest.param("local", marks=pytest.mark.slow, id="local"),
]


@pytest.mark.parametrize("e2e_launcher", E2E_LAUNCHERS)
def test_zoo_and_bench_sweep_match_basic_launcher(
    e2e_launcher: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    launcher = e2e_launcher
    if launcher == "slurm":
        request.getfixturevalue("slurm_cluster")
    root = tmp_path

    # 1. positives before their target: the ftll job fails, the sweep fails with its error
    #    (not a hang, not a silent success), and the other point (forest) is built
    proc = _entry("train.zoo", root, root / "zoo-early", launcher, "member=ftll,forest", *E2E_ZOO)
    assert proc.returncode != 0, _output(proc)
    assert "the target is not built yet" in proc.stdout + proc.stderr, _output(proc)
    assert set(_members(root)) == {"negative/forest-s0"}
    forest_json = _members(root)["negative/forest-s0"] / "member.json"
    forest_mtime = forest_json.stat().st_mtime_ns

    # 2. the target, then the whole sweep again: the zoo skips what is done, so only the points
    #    that failed or never ran do work (forest is not rebuilt)
    t0 = time.monotonic()
    for i, stage in enumerate((STAGE_TARGET, STAGE_REST)):
        proc = _entry("train.zoo", root, root / f"zoo{i}", launcher, stage, *E2E_ZOO)
        assert proc.returncode == 0, _output(proc)
    zoo_s = time.monotonic() - t0
    assert set(_members(root)) == EXPECTED_MEMBERS
    assert forest_json.stat().st_mtime_ns == forest_mtime, "a finished member was rebuilt"
    # every point ran as its own job: submitit left one result per job under the sweep dir
    assert len(list((root / "zoo1" / ".submitit").rglob("*_result.pkl"))) == 4

    # 3. same seeds, same zoo as the basic launcher, bit for bit
    ref = request.getfixturevalue("basic_reference")
    _assert_same_zoo(_zoo_snapshot(root), ref["zoo"])

    # 4. a small bench sweep with a point that fails: the sweep fails with the job's error and
    #    the good point is stored; the resubmitted sweep computes only what is missing (the
    #    results store skips seed 0) and gives the basic launcher's numbers
    proc = _entry("ipguard.bench", root, root / "bench-early", launcher, *E2E_BENCH_FAILING)
    assert proc.returncode != 0, _output(proc)
    assert "invalid n=0: the number of fingerprinting points must be" in (
        proc.stdout + proc.stderr), _output(proc)
    assert len(_store(root)) == 1, _store(root)
    (first,) = _store(root).values()
    first_mtime = first.stat().st_mtime_ns

    t0 = time.monotonic()
    proc = _entry("ipguard.bench", root, root / "bench", launcher, *E2E_BENCH)
    assert proc.returncode == 0, _output(proc)
    bench_s = time.monotonic() - t0
    assert first.stat().st_mtime_ns == first_mtime, "a finished sweep point was recomputed"
    got = _bench_results(root)
    assert len(got) == 2
    assert got == ref["bench"]
    print(f"{launcher}: zoo stages {zoo_s:.0f}s, bench sweep {bench_s:.0f}s")


# ---------------------------------------------------------------------------------------------
# a member whose training outlives its SLURM time limit is requeued and resumes

# What SLURM does on `scontrol requeue`: SIGTERM to every process of the job, the scontrol that
# submitit's handler runs included. The stand-in below is submitit's handler; its "scontrol"
# receives SIGTERM before it exits, as it did on the local cluster.
REQUEUE_SCRIPT = """
import os, signal, subprocess, sys, time

from ipguard.app.cli import task

SCONTROL = "import os, signal; os.kill(os.getpid(), signal.SIGTERM); print('scontrol done')"


def submitit_handler(signum, frame):
    subprocess.check_call([sys.executable, "-c", SCONTROL])
    sys.exit(3)


signal.signal(signal.SIGUSR2, submitit_handler)


@task
def job():
    os.kill(os.getpid(), signal.SIGUSR2)
    time.sleep(10)


if os.environ.get("SUBMITIT_EXECUTOR") != "slurm":
    job = task(lambda: None)
    job()
    assert signal.getsignal(signal.SIGUSR2) is submitit_handler  # left alone
    print("untouched")
else:
    job()
"""


@pytest.mark.parametrize("executor", ["slurm", ""])
def test_requeue_outlives_sigterm(executor: str) -> None:
    """ipguard.app.cli.task in a SLURM job of the submitit launcher: the requeue's scontrol outlives
    the SIGTERM SLURM sends the job's processes (else submitit reports the requeued job failed);
    elsewhere signal handlers are left alone."""
    env = {**os.environ, "SUBMITIT_EXECUTOR": executor}
    proc = subprocess.run([sys.executable, "-c", REQUEUE_SCRIPT], capture_output=True,
                          text=True, timeout=60, env=env, cwd=REPO)  # fmt: skip
    if executor == "slurm":
        assert (proc.returncode, proc.stdout.strip()) == (3, "scontrol done"), _output(proc)
    else:
        assert (proc.returncode, proc.stdout.strip()) == (0, "untouched"), _output(proc)


# How long the requeued member trains, whatever the machine's speed: the test first times the
# digits target on one thread (~17 epochs/s on the quiet AMX CI machine, ~6.5 with other work on
# it, slower on an AVX2-only one) and asks for REQUEUE_TRAIN_S seconds' worth of epochs. The first
# allocation trains 13-48 s (the signal comes 25-55 s in, start-up takes 7-12 s), a requeued one
# ~40 s: 90 s of training outlives the first allocation and needs 2-3 requeues, well inside the
# seven allocations the test allows (max_num_timeout raised to REQUEUE_TIMEOUTS) even if the
# speed halves. A fixed epoch count broke both ways as the CI machine changed.
REQUEUE_TRAIN_S = 90
REQUEUE_TIMEOUTS = 6
REQUEUE_CALIBRATION_EPOCHS = 60


def _requeue_member(epochs: int) -> list[str]:
    return ["dataset=digits", "member=target", "threads=1", "logger=none",
            f"zoo.target.recipe.epochs={epochs}"]


def _target_epochs_per_second(root: Path) -> float:
    """The digits target's training speed here, one thread, through the real builder."""
    root.mkdir()
    proc = _entry("train.zoo", root, root / "multirun", None,
                  *_requeue_member(REQUEUE_CALIBRATION_EPOCHS))
    assert proc.returncode == 0, _output(proc)
    meta = json.loads((root / "zoo" / "digits" / "target" / "target" / "member.json").read_text())
    return REQUEUE_CALIBRATION_EPOCHS / meta["train_seconds"]


def _sacct_history(job_id: str) -> list[str]:
    """Every allocation of ``job_id`` in order (``sacct -D``: a requeued job keeps its id and
    each run is one record), once the last is in a final state."""
    final = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"}
    states: list[str] = []
    deadline = time.monotonic() + 30  # slurmctld hands job records to slurmdbd asynchronously
    while time.monotonic() < deadline:
        res = subprocess.run(
            ["sacct", "-n", "-X", "-D", "-P", "-o", "JobID,State", "-j", job_id],
            capture_output=True, text=True, timeout=15, check=True,
        )  # fmt: skip
        states = [line.split("|", 1)[1].split()[0] for line in res.stdout.split()]
        if states and states[-1] in final:
            break
        time.sleep(1)
    return states


@pytest.mark.slurm
def test_timed_out_member_is_requeued_and_resumes(slurm_cluster: None, tmp_path: Path) -> None:
    """``hydra/launcher=slurm`` with a 1-minute limit (SLURM's least) on a member that trains
    longer: SLURM signals the job ``signal_delay_s`` before the limit, submitit requeues it
    (``max_num_timeout``), the next allocation resumes the member from
    ``.partial/<member>/last.ckpt``, and the weights equal an uninterrupted build bit for bit.

    Timing on this cluster: slurmctld checks limits every 30 s, so with a 5 s delay the signal
    comes 25-55 s into an allocation; a requeued job waits cred_expire (10 s, .ci/slurm) and
    then runs again. 3-5 min in all, the reference build running alongside on the other
    core."""
    from concurrent.futures import ThreadPoolExecutor

    speed = _target_epochs_per_second(tmp_path / "calibration")
    epochs = max(200, round(speed * REQUEUE_TRAIN_S))
    member = _requeue_member(epochs)
    ref_root, root = tmp_path / "reference", tmp_path / "slurm"
    ref_root.mkdir()
    root.mkdir()
    env = {"WANDB_MODE": "disabled", "WANDB_SILENT": "true"}
    t0 = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        # the same member without SLURM: Hydra's basic launcher, in one go, threads=1 too
        ref = pool.submit(
            _entry, "train.zoo", ref_root, ref_root / "multirun", None, *member
        )
        cmd = [
            sys.executable, "-m", "train.zoo", "-m", *member, f"paths.root_dir={root}",
            *_launcher_overrides("slurm", root / "multirun", mem_gb=2, timeout_min=1),
            # signalled 5 s before the limit (the preset's 60 s would be at once in 1 minute)
            "hydra.launcher.signal_delay_s=5",
            f"hydra.launcher.max_num_timeout={REQUEUE_TIMEOUTS}",
        ]  # fmt: skip
        proc = _run(cmd, cwd=root, env=env, timeout=(REQUEUE_TIMEOUTS + 1) * 90)
        ref_proc = ref.result()
    elapsed = time.monotonic() - t0
    assert ref_proc.returncode == 0, _output(ref_proc)
    assert proc.returncode == 0, _output(proc)

    # one job, run more than once: SLURM accounting has a REQUEUED record per timed-out
    # allocation, then the one that completed
    (job_dir,) = [d for d in (root / "multirun" / ".submitit").iterdir() if d.is_dir()]
    history = _sacct_history(job_dir.name)
    requeues = history.count("REQUEUED")
    # the allocations append to one log (submitit's and Hydra's handlers both print each line)
    log = "".join(f.read_text() for f in sorted(job_dir.glob("*_log.out")))
    finished = "Exiting after successful completion" in log
    # The last allocation is COMPLETED, or FAILED when the limit's signal lands in the moment
    # the finished job exits (seen once: "Exiting after successful completion" at 12:41:15.012,
    # SIGUSR2 at 12:41:15): its result was written and came back (returncode 0 above).
    assert requeues == len(history) - 1 and history[-1] in ("COMPLETED", "FAILED"), history
    assert history[-1] == "COMPLETED" or finished, (history, log[-4000:])
    assert requeues >= 1, f"{epochs} epochs trained within one allocation ({history})"
    assert requeues <= REQUEUE_TIMEOUTS, history

    # every timed-out run was requeued, and every later run resumed the member's checkpoint
    left = set(re.findall(r"Requeued job \S+ \((\d+) remaining timeouts\)", log))
    assert len(left) == requeues, log[-4000:]
    found = re.findall(r"resuming target from its checkpoint after epoch (\d+)", log)
    resumed = sorted({int(e) for e in found})
    assert len(resumed) == requeues and resumed[0] > 0, log[-4000:]
    assert resumed[-1] < epochs, resumed
    assert not (root / "zoo" / "digits" / ".partial").exists()  # cleared once built

    # bit for bit the uninterrupted member (member.json records the weights' SHA-256)
    got, want = _zoo_snapshot(root), _zoo_snapshot(ref_root)
    assert set(got) == {"target/target"}
    sha = [z["target/target"]["meta"]["weights_sha256"] for z in (got, want)]
    assert sha[0] == sha[1], sha
    _assert_same_zoo(got, want)
    print(f"requeue: {epochs} epochs at {speed:.1f}/s: {history}, resumed after epochs "
          f"{resumed}, {elapsed:.0f}s in all")
