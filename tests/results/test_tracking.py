"""W&B mirror: one run per job, always finished (failed jobs marked failed), zoo training
curves through Lightning, and records rebuilt from W&B (offline files and the public API)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from ipguard.app.bench import run_bench
from ipguard.core.metrics import score
from ipguard.results.tracking import (
    Tracker,
    artifact_name,
    finish_lightning_logger,
    lightning_logger,
    run_group,
)
from ipguard.results.wandb_runs import load_wandb_api
from ipguard.utils.errors import MissingZooError

from conftest import compose_cfg
from wandb_files import find_run_file, offline_records, read_records, read_run, read_summary


def _exit_code(run_file: Path) -> int | None:
    codes = [r.exit.exit_code for r in read_records(run_file)
             if r.WhichOneof("record_type") == "exit"]
    return codes[-1] if codes else None


def _history(run_file: Path) -> list[dict]:
    rows = []
    for r in read_records(run_file):
        if r.WhichOneof("record_type") == "history":
            rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                         for item in r.history.item})
    return rows


def test_tracker_finishes_a_failed_job_as_failed(tmp_path):
    with pytest.raises(RuntimeError), Tracker(mode="offline", dir=tmp_path, name="boom") as t:
        t.summary({"aruc": 0.25})
        raise RuntimeError("job failed")
    run_file = find_run_file(tmp_path)
    assert _exit_code(run_file) == 1
    assert read_summary(run_file)["aruc"] == 0.25


def test_disabled_tracker_writes_nothing(tmp_path):
    with Tracker(enabled=True, mode="disabled", dir=tmp_path / "w") as t:
        t.summary({"aruc": 1.0})
        t.table("x", ["a"], [[1]])
        assert not t.active
    assert not (tmp_path / "w").exists()


def test_bench_job_that_fails_still_finishes_its_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = compose_cfg("bench", ["n=5"], tmp_path)  # no zoo under tmp_path
    cfg.logger.dir = str(tmp_path / "out")
    with pytest.raises(MissingZooError):
        run_bench(cfg)
    run_file = find_run_file(tmp_path / "out")
    assert _exit_code(run_file) == 1
    config, _, finished = read_run(read_records(run_file))
    assert not finished and config["ipguard"]["key"] == "ipguard-TL-k=3-n5-s0"
    assert config["ipguard"]["setting"]["n"] == 5 and config["init"] == "train"
    run = next(r.run for r in read_records(run_file) if r.WhichOneof("record_type") == "run")
    assert run.run_group == run_group("digits", "adhoc") and run.job_type == "bench"
    assert set(run.tags) == {"digits", "ipguard", "TL", "adhoc"}


def test_artifact_names_are_what_wandb_accepts():
    assert artifact_name("fingerprint-digits-ipguard-TL-k=3-s0") == \
        "fingerprint-digits-ipguard-TL-k_3-s0"


def test_lightning_logger_logs_training_curves_as_a_train_run(tmp_path):
    import lightning as L
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    class Tiny(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Linear(4, 2)

        def training_step(self, batch, _idx):
            x, y = batch
            loss = nn.functional.cross_entropy(self.net(x), y)
            self.log("train/loss", loss, on_step=False, on_epoch=True)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    cfg = {"enabled": True, "project": "ipguard", "mode": "offline", "dir": str(tmp_path)}
    logger = lightning_logger(cfg, name="ftll", group="zoo-digits", tags=["digits", "ftll"],
                              config={"recipe": {"epochs": 3}})
    assert logger is not None
    gen = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(32, 4, generator=gen), torch.randint(0, 2, (32,),
                                                                         generator=gen))
    trainer = L.Trainer(max_epochs=3, logger=logger, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False)
    trainer.fit(Tiny(), DataLoader(data, batch_size=8))
    finish_lightning_logger(logger)
    run_file = find_run_file(tmp_path)
    losses = [row["train/loss"] for row in _history(run_file) if "train/loss" in row]
    assert len(losses) == 3 and _exit_code(run_file) == 0
    run = next(r.run for r in read_records(run_file) if r.WhichOneof("record_type") == "run")
    assert run.job_type == "train" and run.run_group == "zoo-digits"
    assert lightning_logger({"enabled": False}, name="x") is None


def _fake_bench_run(folder: Path, sweep: str = "fig6") -> dict:
    """An offline run shaped like a bench job's, with consistent numbers."""
    pos, neg = [1.0, 0.95, 0.9], [0.1, 0.3]
    s = score(pos, neg, r=100)
    rows = [[f"p{i}", "positive", "ftll", "small_cnn", 0, r, 0.98, True, json.dumps({})]
            for i, r in enumerate(pos)]
    rows += [[f"n{i}", "negative", "same_arch", "small_cnn", i, r, 0.97, True, "{}"]
             for i, r in enumerate(neg)]
    about = {"dataset": "digits", "sweep": sweep, "key": "ipguard-TL-k=3-s0",
             "method": "ipguard", "method_label": "IPGuard-TL", "combo": "-TL", "param": "k",
             "value": 3.0, "params": {"k": 3.0, "lr": 0.01}}
    config = {"n": 20, "seed": 0, "init": "train", "label": "least_likely",
              "metrics": {"r": 100},
              "method": {"_target_": "ipguard.core.methods.IPGuard", "k": 3.0},
              "ipguard": about}
    summary = {"aruc": s.aruc, "auc": s.auc, "gap": s.gap, "extraction_seconds": 1.5}
    with Tracker(mode="offline", dir=folder, group=run_group("digits", sweep),
                 job_type="bench", config=config) as t:
        t.summary(summary)
        t.table("matching_rates", ["name", "role", "kind", "arch", "seed", "matching_rate",
                                   "test_accuracy", "in_default_selection", "hyper"], rows)
    return {"score": s, "config": config, "summary": summary}


def test_records_rebuilt_through_the_api_hold_what_the_run_logged(tmp_path):
    made = _fake_bench_run(tmp_path / "runs")
    (offline,) = offline_records(tmp_path / "runs", "digits", ["fig6"])
    assert offline.aruc == made["score"].aruc and offline.key == "ipguard-TL-k=3-s0"
    assert offline.headline.robustness == made["score"].robustness
    assert offline.setting.params == {"k": 3.0, "lr": 0.01} and offline.combo == "-TL"
    assert offline.setting.n == 20 and offline.sweep == "fig6"
    assert offline_records(tmp_path / "runs", "digits", ["fig5"]) == []

    run_file = find_run_file(tmp_path / "runs")
    config, summary, _ = read_run(read_records(run_file))

    class FakeFile:
        def __init__(self, path: str) -> None:
            self.path = path

        def download(self, root: str, replace: bool = False) -> None:
            target = Path(root) / self.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(run_file.parent / "files" / self.path, target)

    class FakeRun:
        id = "abc123"

        def __init__(self) -> None:
            self.config, self.summary = config, summary

        def file(self, path: str) -> FakeFile:
            return FakeFile(path)

    class FakeApi:
        def __init__(self) -> None:
            self.calls: list[tuple] = []

        def runs(self, path, filters=None, order=None):
            self.calls.append((path, filters))
            return [FakeRun()] if filters["group"] == "digits-fig6" else []

    api = FakeApi()
    (online,) = load_wandb_api("me/ipguard", "digits", ["fig6", "fig5"], tmp_path / "dl", api)
    assert api.calls[0] == ("me/ipguard", {"group": "digits-fig6", "jobType": "bench",
                                           "state": "finished"})
    assert online.to_json() == offline.to_json()


def test_a_run_says_where_it_is(tmp_path, caplog):
    """Offline: the exact `wandb sync` command for this run's folder; online: its URL."""
    import logging

    from ipguard.results.tracking import announce

    caplog.set_level(logging.INFO, logger="ipguard.results.tracking")
    with Tracker(mode="offline", dir=tmp_path, name="here") as t:
        run_dir = t.run_dir
        run_id = t.run.id
    assert f"W&B offline run {run_id}: upload it with `wandb sync {run_dir}`" in caplog.text
    assert run_dir.is_dir() and run_dir.name.startswith("offline-run-")

    class Online:
        id, url = "abc", "https://wandb.ai/me/ipguard/runs/abc"
        settings = type("S", (), {"mode": "online"})()

    assert announce(Online()) == "W&B run abc: https://wandb.ai/me/ipguard/runs/abc"
