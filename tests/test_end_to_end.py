"""IPGuard end to end on a tiny digits zoo: train (Lightning), extract, verify, score, log."""

import json
import subprocess
import sys

import pytest
from omegaconf import open_dict

from ipguard.bench import run_bench
from ipguard.errors import MissingZooError
from ipguard.metrics import aruc
from ipguard.results import read_record
from ipguard.wandb_records import find_run_file, read_summary
from ipguard.zoo import load_zoo

from conftest import REPO, TINY_ZOO, compose_cfg


def _bench_cfg(zoo_dir, out, *overrides):
    root = zoo_dir.parents[1]
    cfg = compose_cfg("bench", ["n=40", *overrides], root)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        cfg.logger.dir = str(out)
    return cfg


def test_tiny_zoo_is_complete_and_described(tiny_zoo):
    zoo = load_zoo(tiny_zoo)
    kinds = {m.kind for m in zoo.members}
    assert {"target", "ftll", "ftal", "rtll", "rtal", "wp", "fp", "same_arch", "lenet", "vgg",
            "forest"} <= kinds
    assert zoo.target.test_accuracy >= 0.95  # converged
    for m in zoo.members:
        assert m.role in ("target", "positive", "negative", "rejected")
        assert m.test_accuracy is not None and m.parameters and m.train_seconds is not None
        if m.role == "positive":
            assert m.parent == "target"
    wp = [m for m in zoo.members if m.kind == "wp" and m.role == "positive"]
    for m in wp:  # the 3 % rule held for every pruned positive
        assert zoo.target.test_accuracy - m.test_accuracy <= 0.03 + 1e-9


def test_rebuilding_skips_finished_members(tiny_zoo):
    from train.zoo import build_zoo

    cfg = compose_cfg("train", TINY_ZOO, tiny_zoo.parents[1])
    builder = build_zoo(cfg)
    assert builder.built == []
    assert len(builder.skipped) >= 10


def test_positives_match_more_than_negatives_and_results_agree(tiny_zoo, tmp_path):
    record = run_bench(_bench_cfg(tiny_zoo, tmp_path, "method.k=3.0"))
    pos = [s["matching_rate"] for s in record["suspects"] if s["role"] == "positive"]
    neg = [s["matching_rate"] for s in record["suspects"] if s["role"] == "negative"]
    assert record["effectiveness"] == 1.0
    assert sum(pos) / len(pos) > sum(neg) / len(neg) + 0.2
    # the stored ARUC is Eq. 7 recomputed from the stored matching rates
    on_disk = read_record(tmp_path / "results.json")
    chosen = [s["matching_rate"] for s in on_disk["suspects"]
              if s["role"] == "positive" and s["in_default_selection"]]
    assert on_disk["aruc"] == pytest.approx(aruc(chosen, neg, r=100), abs=1e-12)
    assert (tmp_path / "ru_curves.png").stat().st_size > 1000
    assert (tmp_path / "fingerprint.safetensors").is_file()
    # the offline W&B run holds the same ARUC in its summary (read back from the .wandb file)
    summary = read_summary(find_run_file(tmp_path / "wandb"))
    assert summary["aruc"] == pytest.approx(on_disk["aruc"], abs=1e-12)
    assert summary["gap"] == pytest.approx(on_disk["gap"], abs=1e-12)


def test_missing_zoo_names_the_command_that_builds_it(tmp_path):
    cfg = compose_cfg("bench", ["logger=none"], tmp_path)
    with pytest.raises(MissingZooError, match="python -m train.zoo dataset=digits"):
        run_bench(cfg)


def test_cli_reports_missing_zoo_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ipguard.bench", f"paths.root_dir={tmp_path}", "logger=none",
         f"hydra.run.dir={tmp_path}/out"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "python -m train.zoo dataset=digits" in lines[0]
    assert "Traceback" not in proc.stderr


def test_cli_rejects_bad_combo_before_work(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ipguard.bench", f"paths.root_dir={tmp_path}", "init=middle",
         "logger=none", f"hydra.run.dir={tmp_path}/out"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "invalid init='middle'" in proc.stderr and "Traceback" not in proc.stderr
    json.dumps(proc.stderr)
