"""IPGuard end to end on a tiny digits zoo: train (Lightning), extract, verify, score, log."""

import subprocess
import sys

import hydra
import pytest
import torch

from ipguard.app.bench import run_bench
from ipguard.core.metrics import aruc
from ipguard.results.store import read_record
from ipguard.utils.errors import MissingZooError
from ipguard.zoo import Member, load_zoo
from ipguard.zoo.member import ROLES
from ipguard.zoo.suspects import FINETUNE, PRUNING

from conftest import REPO, TINY_ZOO, compose_cfg
from wandb_files import find_run_file, read_summary

# What TINY_ZOO asks for: 4 fine-tuned + WP p=0.1, 0.2 + FP c=1/16, 2/16 positives (unless a
# level broke the 3 % rule) and 3 + 1 + 1 + 2 negatives.
TINY_NEGATIVES = {"same_arch": 3, "lenet": 1, "vgg": 1, "forest": 2}
TINY_LEVELS = {"wp": 2, "fp": 2}


def _bench_cfg(zoo_dir, out, *overrides):
    root = zoo_dir.parents[1]
    cfg = compose_cfg("bench", ["n=40", *overrides], root)
    cfg.paths.output_dir = str(out)
    cfg.logger.dir = str(out)
    return cfg


def _measured(member: Member, x: torch.Tensor, y: torch.Tensor) -> tuple[float, int, int]:
    """A member's test accuracy, parameters and non-zero parameters measured again from its
    saved files, independently of the builder (a forest's parameters are its node slots)."""
    classifier = member.load_classifier()
    predicted = classifier.predict(x).tolist()
    accuracy = sum(p == t for p, t in zip(predicted, y.tolist(), strict=True)) / len(y)
    if member.is_forest:
        nodes = int(classifier.ensemble.left.size)
        return accuracy, nodes, nodes
    params = list(member.load_module().parameters())
    return (accuracy, sum(p.numel() for p in params),
            sum(int(torch.count_nonzero(p)) for p in params))


def test_tiny_zoo_is_complete_and_described(tiny_zoo):
    zoo = load_zoo(tiny_zoo)
    negatives = [m for m in zoo.members if m.role == "negative"]
    assert {k: sum(m.kind == k for m in negatives) for k in TINY_NEGATIVES} == TINY_NEGATIVES
    for kind in FINETUNE:
        assert [m.kind for m in zoo.members if m.role == "positive"].count(kind) == 1
    for kind, levels in TINY_LEVELS.items():  # every level kept, or the chain ends rejected
        roles = [m.role for m in zoo.members if m.kind == kind]
        kept = roles.count("positive")
        assert roles == ["positive"] * kept + (["rejected"] if kept < levels else [])
    assert zoo.target.test_accuracy >= 0.95  # converged
    # member.json describes each member as its files are: the test accuracy on the dataset's
    # test split, the parameters (pruning zeroes some, keeping the shapes), the training time
    x, y = hydra.utils.call(compose_cfg("train", TINY_ZOO).dataset.loader).test_tensors()
    for m in zoo.members:
        assert m.role in ROLES
        accuracy, parameters, nonzero = _measured(m, x, y)
        assert m.test_accuracy == pytest.approx(accuracy, rel=1e-6), m.name
        assert (m.parameters, m.nonzero_parameters) == (parameters, nonzero), m.name
        assert (nonzero < parameters) == (m.kind in PRUNING), m.name  # only pruning zeroes
        assert m.train_seconds > 0, m.name  # every member here is trained, and timed
        if m.role == "positive":
            assert m.parent == "target"
    for m in zoo.members:  # the 3 % rule held for every pruned positive, and broke for rejected
        if m.kind in PRUNING:
            loss = zoo.target.test_accuracy - m.test_accuracy
            assert (loss <= 0.03 + 1e-9) == (m.role == "positive")


def test_rebuilding_skips_finished_members(tiny_zoo):
    from train.zoo import build_zoo

    builder = build_zoo(compose_cfg("train", TINY_ZOO, tiny_zoo.parents[1]))
    assert builder.built == []
    assert sorted(builder.skipped) == sorted(m.name for m in load_zoo(tiny_zoo).members)


def test_positives_match_more_than_negatives_and_results_agree(tiny_zoo, tmp_path,
                                                               monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    record = run_bench(_bench_cfg(tiny_zoo, tmp_path, "method.k=3.0")).record
    pos, neg = record.rates("positive"), record.rates("negative")
    assert record.effectiveness == 1.0
    assert sum(pos) / len(pos) > sum(neg) / len(neg) + 0.2
    # the stored ARUC is Eq. 7 recomputed from the stored matching rates
    on_disk = read_record(tmp_path / "results.json")
    chosen = on_disk.rates("positive", headline_only=True)
    assert on_disk.aruc == pytest.approx(aruc(chosen, on_disk.rates("negative"), r=100),
                                         abs=1e-12)
    assert (tmp_path / "ru_curves.png").stat().st_size > 1000
    assert (tmp_path / "fingerprint.safetensors").is_file()
    # the offline W&B run holds the same ARUC in its summary (read back from the .wandb file)
    summary = read_summary(find_run_file(tmp_path / "wandb"))
    assert summary["aruc"] == pytest.approx(on_disk.aruc, abs=1e-12)
    assert summary["gap"] == pytest.approx(on_disk.gap, abs=1e-12)
    # each suspect's per-point matches and p-value, the calibrated thresholds and the ARUC's
    # interval (docs/verdicts.md) are stored in the record and mirrored in W&B
    assert all(len(s.matches) == 40 and sum(map(int, s.matches)) == round(40 * s.matching_rate)
               for s in on_disk.suspects)
    assert on_disk.verdicts == record.verdicts and on_disk.verdicts.null.negatives == len(neg)
    lo, hi = on_disk.verdicts.hierarchical.get("aruc")  # suspects within family, then points
    assert (summary["aruc_lo"], summary["aruc_hi"]) == (lo, hi) and lo < hi
    assert summary["tpr_fpr5"] == on_disk.verdicts.at(0.05).tpr
    assert min(s.p_value for s in on_disk.suspects if s.role == "positive") < 1e-3


def test_missing_zoo_names_the_command_that_builds_it(tmp_path):
    cfg = compose_cfg("bench", ["logger=none"], tmp_path)
    with pytest.raises(MissingZooError, match="python -m train.zoo dataset=digits"):
        run_bench(cfg)


def _cli(tmp_path, *overrides):
    return subprocess.run(
        [sys.executable, "-m", "ipguard.bench", f"paths.root_dir={tmp_path}", "logger=none",
         f"hydra.run.dir={tmp_path}/out", *overrides],
        cwd=REPO, capture_output=True, text=True, timeout=120)


def test_cli_reports_missing_zoo_in_one_line(tmp_path):
    proc = _cli(tmp_path)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "python -m train.zoo dataset=digits" in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("override, line", [
    ("init=middle", "error: invalid init='middle': choose one of ['random', 'train']"),
    ("n=abc", "error: invalid n='abc': must be an integer"),
])
def test_cli_rejects_a_bad_choice_or_type_while_composing(tmp_path, override, line):
    """Hydra finds these while it composes (the schema); the CLI still says it in one line."""
    proc = _cli(tmp_path, override)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [line]
    assert not (tmp_path / "out").exists()  # before the job started
