"""What a user sees (docs/reliability.md, sections 1-2): the real entry points, run as subprocesses,
answer a bad config or a missing input with one clear ``error: ...`` line and exit code 2 (no
traceback wall; ``IPGUARD_DEBUG=1`` shows it); Hydra's own composition errors (an unknown
config-group option) name the option and list the available ones."""

from __future__ import annotations

import pytest

from helpers import entry

CASES = {  # name: (module, overrides, extra environment)
    "bad_k": ("ipguard.bench", ["method.k=-3", "logger=none"], {}),
    "bad_k_debug": ("ipguard.bench", ["method.k=-3", "logger=none"], {"IPGUARD_DEBUG": "1"}),
    "missing_zoo": ("ipguard.bench", ["logger=none"], {}),
    "unknown_method": ("ipguard.bench", ["method=foo"], {}),
    "unknown_dataset": ("train.zoo", ["dataset=foo"], {}),
    "negative_count": ("train.zoo", ["zoo.negatives.same_arch.count=-1"], {}),
    "missing_dataset_folder": ("train.zoo", ["dataset=cifar10", "dataset.loader.folder=/nowhere",
                                             "member=target"], {}),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    """All cases at once (each is a fresh interpreter: ~6 s of imports)."""
    from helpers import env

    procs, roots = {}, {}
    for name, (module, args, extra) in CASES.items():
        root = roots[name] = tmp_path_factory.mktemp(name)
        procs[name] = entry(module, args, root, env={**env(), **extra})
    out = {}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=240)
        out[name] = (proc.returncode, err)
    out["roots"] = roots
    return out


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("name, expected", [
    ("bad_k", "error: invalid method.k=-3.0: k must be >= 0"),
    ("missing_zoo", "error: no zoo at "),
    ("negative_count", "error: invalid zoo.negatives.same_arch.count=-1: a member count is an "
                       "integer >= 0"),
    ("missing_dataset_folder", "error: image folder /nowhere/train does not exist"),
])
def test_expected_errors_are_one_line_and_exit_2(results, name, expected):
    code, err = results[name]
    assert code == 2, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    lines = _error_lines(err)
    assert len(lines) == 1 and lines[0].startswith(expected), err[-3000:]
    assert err.strip().splitlines()[-1] == lines[0]  # the last thing printed


def test_missing_zoo_names_the_folder_and_the_command(results):
    line = _error_lines(results["missing_zoo"][1])[0]
    assert "zoo/digits" in line and "`python -m train.zoo dataset=digits`" in line


def test_debug_switch_shows_the_traceback(results):
    code, err = results["bad_k_debug"]
    assert code != 0 and "Traceback" in err and "ConfigError" in err


@pytest.mark.parametrize("name, option, available", [
    ("unknown_method", "method/foo", "ipguard"),
    ("unknown_dataset", "dataset/foo", "cifar10"),
])
def test_unknown_group_option_is_hydras_clear_message(results, name, option, available):
    code, err = results[name]
    assert code == 1 and "Traceback" not in err, err[-3000:]
    assert f"Could not find '{option}'" in err
    assert "Available options" in err and f"\t{available}\n" in err


@pytest.mark.parametrize("name", ["bad_k", "missing_zoo", "negative_count"])
def test_the_error_is_in_the_jobs_log_file_too(results, name):
    """A user reading the job's log (a sweep's, a SLURM job's) finds why it stopped."""
    line = _error_lines(results[name][1])[0]
    (log_file,) = (results["roots"][name] / "outputs" / "run").glob("*.log")
    assert line in log_file.read_text()
