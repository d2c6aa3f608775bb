"""A small Figure 6 sweep on the tiny digits zoo with Hydra's basic launcher (2 values of k x
2 combos, n=20), then the figures and tables rebuilt from it: every file exists, their numbers
are the records' numbers, the W&B offline runs hold the same numbers, and a missing point is
named in a warning while the figure still renders."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import open_dict

from ipguard.bench import run_bench
from ipguard.figures import build_figures
from ipguard.wandb_records import find_run_file, read_summary
from ipguard.zoo import load_zoo

from conftest import REPO, compose_cfg

KS = ("1", "10")
LABELS = ("random", "least_likely")


@pytest.fixture(scope="module")
def sweep(tiny_zoo, tmp_path_factory) -> Path:
    """Run the sweep as a user would (`python -m ipguard.bench -m +sweep=fig6 ...`)."""
    root = tmp_path_factory.mktemp("sweep")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    proc = subprocess.run(
        [sys.executable, "-m", "ipguard.bench", "-m", "+sweep=fig6", "dataset=digits",
         f"method.k={','.join(KS)}", "init=train", f"label={','.join(LABELS)}", "n=20",
         "threads=1", f"paths.zoo_dir={tiny_zoo.parent}", f"paths.results_dir={root}/results",
         f"hydra.sweep.dir={root}/multirun"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def _records(root: Path) -> list[dict]:
    files = sorted((root / "results/digits/fig6").glob("*.json"))
    return [json.loads(p.read_text()) for p in files]


def _figures(root: Path, zoo_dir: Path, out: Path, *overrides: str):
    cfg = compose_cfg("figures", ["grid=records", "logger=none", *overrides], root)
    with open_dict(cfg):
        cfg.results_dir = str(root / "results")
        cfg.zoo_dir = str(zoo_dir)
        cfg.out_dir = str(out)
        cfg.wandb_dir = str(root / "multirun")
    return build_figures(cfg)


def _csv(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def figures(sweep, tiny_zoo, tmp_path_factory):
    return _figures(sweep, tiny_zoo.parent, tmp_path_factory.mktemp("figs"))


def test_sweep_writes_one_keyed_record_per_point(sweep):
    keys = sorted(r["key"] for r in _records(sweep))
    assert keys == sorted(f"ipguard-T{c}-k={k}-s0" for k in KS for c in ("R", "L"))
    for record in _records(sweep):
        assert record["sweep"] == "fig6" and record["n"] == 20
        assert record["config"]["method"]["k"] == record["params"]["k"]
        assert (Path(record["output_dir"]) / "results.json").is_file()


def test_every_figure_and_table_file_exists(figures):
    out = figures.out_dir
    for name in ("fig6", "fig2-digits"):
        for suffix in (".png", ".pdf"):
            assert (out / f"{name}{suffix}").stat().st_size > 5000, name
    for name in ("table1", "table2", "table4", "table5-7-digits", "table8", "fig6-data"):
        for suffix in (".md", ".tex", ".csv"):
            assert (out / f"{name}{suffix}").stat().st_size > 50, name
    assert "\\begin{tabular}" in (out / "table4.tex").read_text()
    assert (out / "README.md").is_file()
    # the complete grid draws without a missing-point warning; absent sweeps are named
    assert not [w for w in figures.warnings if "missing" in w]
    assert any("Figure 3" in w and "+sweep=fig3" in w for w in figures.warnings)


def test_table4_aruc_is_the_best_record(figures, sweep):
    records = _records(sweep)
    best = max(records, key=lambda r: r["aruc"])
    (row,) = [r for r in _csv(figures.out_dir / "table4.csv") if r["method"] == "ipguard"]
    assert float(row["aruc"]) == best["aruc"]
    assert max(r["aruc"] for r in records if r["key"] == row["key"]) == best["aruc"]
    assert f"{best['aruc']:.2f}" in (figures.out_dir / "table4.md").read_text()


def test_figure_and_matching_rate_tables_hold_the_records_numbers(figures, sweep):
    records = {r["key"]: r for r in _records(sweep)}
    for row in _csv(figures.out_dir / "fig6-data.csv"):  # every point plotted
        key = f"ipguard{row['combo']}-k={float(row['value']):g}-s0"
        assert float(row["aruc"]) == records[key]["aruc"]
    assert len(_csv(figures.out_dir / "fig6-data.csv")) == len(records)

    rows = _csv(figures.out_dir / "table5-7-digits.csv")
    record = records[rows[0]["key"]]
    rate = {s["name"]: s["matching_rate"] for s in record["suspects"]}
    for row in rows:
        members = row["members"].split(",")
        assert float(row["min"]) == min(rate[m] for m in members)
        assert float(row["max"]) == max(rate[m] for m in members)
    positives = [s["name"] for s in record["suspects"] if s["role"] == "positive"]
    assert sorted(r["members"] for r in rows if r["role"] == "positive") == sorted(positives)
    negatives = {m for r in rows if r["role"] == "negative" for m in r["members"].split(",")}
    assert negatives == {s["name"] for s in record["suspects"] if s["role"] == "negative"}

    (t8,) = _csv(figures.out_dir / "table8.csv")
    assert float(t8["seconds_mean"]) == record["extraction"]["seconds"]


def test_zoo_tables_count_the_members(figures, tiny_zoo):
    zoo = load_zoo(tiny_zoo)
    (row,) = _csv(figures.out_dir / "table1.csv")
    assert int(row["positives"]) == sum(m.role == "positive" for m in zoo.members)
    assert int(row["negatives"]) == sum(m.role == "negative" for m in zoo.members)
    accuracies = {r["row"]: r for r in _csv(figures.out_dir / "table2.csv")}
    assert float(accuracies["small_cnn"]["max"]) == zoo.target.test_accuracy
    same = [m.test_accuracy for m in zoo.members if m.kind == "same_arch"]
    assert float(accuracies["Same architecture: small_cnn"]["min"]) == min(same)


def test_wandb_offline_runs_hold_the_same_numbers(sweep, figures, tmp_path):
    for record in _records(sweep):
        summary = read_summary(find_run_file(Path(record["output_dir"]) / "wandb"))
        for key in ("aruc", "auc", "gap"):
            assert summary[key] == record[key], key
        assert summary["extraction_seconds"] == record["extraction"]["seconds"]
    # the tables rebuilt from the .wandb files equal those from the local store
    again = _figures(sweep, Path("/nonexistent"), tmp_path, "source=wandb_offline")
    for name in ("table4.csv", "fig6-data.csv", "table5-7-digits.csv"):
        assert (tmp_path / name).read_text() == (figures.out_dir / name).read_text(), name
    assert any("Tables 1-2" in w for w in again.warnings)  # no zoo given: named, not fatal


def test_missing_point_still_renders_and_is_named(sweep, tiny_zoo, tmp_path):
    root = tmp_path / "partial"
    shutil.copytree(sweep / "results", root / "results")
    (root / "results/digits/fig6/ipguard-TL-k=10-s0.json").unlink()
    report = _figures(root, tiny_zoo.parent, tmp_path / "out")
    assert (tmp_path / "out/fig6.png").stat().st_size > 5000
    (warning,) = [w for w in report.warnings if "missing" in w]
    assert "IPGuard-TL k=10" in warning and "1 sweep point" in warning
    assert "IPGuard-TL k=10" in (tmp_path / "out/README.md").read_text()


def test_best_setting_rerun_reproduces_the_best_record(sweep, tiny_zoo, tmp_path):
    best = max(_records(sweep), key=lambda r: r["aruc"])
    cfg = compose_cfg("bench", ["n=20", "logger=none", "store.sweep=tables5-7",
                                "store.best_from=[fig6]", "method.k=0.5", "label=random"],
                      tmp_path)
    with open_dict(cfg):
        cfg.paths.results_dir = str(sweep / "results")
        cfg.paths.zoo_dir = str(tiny_zoo.parent)
        cfg.store.root = str(sweep / "results" / "digits")
        cfg.store.dir = str(tmp_path / "tables5-7")
    record = run_bench(cfg)
    assert record["params"]["k"] == best["params"]["k"] and record["combo"] == best["combo"]
    assert record["aruc"] == best["aruc"]  # CPU extraction is deterministic
    assert [s["matching_rate"] for s in record["suspects"]] == \
        [s["matching_rate"] for s in best["suspects"]]
