"""The paper's figures and tables (ipguard.figures, ipguard.paper).

- A store made before the typed record (schema 1, a subset of a real digits run in
  tests/data/figures_v1) gives Markdown and CSV tables byte-identical to those the old code
  wrote from it (expected/, made by the code before the rebuild) with intervals off; with
  them on, the tables say these records have no point-bootstrap interval, and the verdicts
  table is computed from their matching rates.
- A sweep over two parameters (IPGuard k x lr) plots, per combo and k, the best over lr; Table 8
  has the one-point row and the batching gain.
- A small Figure 6 sweep on the tiny digits zoo with Hydra's basic launcher (2 values of k x 2
  combos, n=20), then the figures and tables rebuilt from it: every file exists, their numbers
  are the records' numbers (95 % intervals and verdicts included), the W&B offline runs hold
  the same numbers, and a missing point is named in a warning while the figure still renders."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import open_dict

from ipguard.app.bench import run_bench
from ipguard.app.config import SWEEPS_DIR, typed
from ipguard.app.figures import build_figures
from ipguard.app.schema import FiguresConfig
from ipguard.app.sweeps import sweep_grid
from ipguard.core.methods import METHODS
from ipguard.core.metrics import score
from ipguard.results.record import Extraction, Record, Setting, SuspectResult
from ipguard.results.store import ResultsStore, read_records_dir
from ipguard.zoo import load_zoo

from conftest import REPO, compose_cfg
from wandb_files import find_run_file, offline_records, read_summary

KS = ("1", "10")
LABELS = ("random", "least_likely")
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "figures_v1"


def _figures(results: Path, zoo_dir: Path, out: Path, *overrides: str):
    cfg = compose_cfg("figures", ["logger=none", *overrides], out.parent)
    with open_dict(cfg):
        cfg.results_dir = str(results)
        cfg.zoo_dir = str(zoo_dir)
        cfg.out_dir = str(out)
    return build_figures(cfg)


def _csv(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _settings(root: Path) -> FiguresConfig:
    """conf/figures.yaml as the entry point types it (which figures, which sweeps)."""
    return typed(compose_cfg("figures", ["logger=none"], root), FiguresConfig)


def _fixture_records(sweeps: list[str]) -> list[Record]:
    """The schema-1 fixture's records of ``sweeps`` (every dataset)."""
    return [r for folder in sorted((FIXTURE / "results").iterdir()) for sweep in sweeps
            for r in read_records_dir(folder / sweep)]


# --------------------------------------------------------------------------- a schema-1 store
def test_a_schema_1_store_gives_the_tables_the_old_code_gave(tmp_path):
    """With intervals off, every table the old code wrote is byte-identical."""
    report = _figures(FIXTURE / "results", tmp_path / "no-zoo", tmp_path / "out",
                      "intervals=false")
    expected = sorted((FIXTURE / "expected").iterdir())
    assert {p.suffix for p in expected} == {".md", ".csv"} and len(expected) == 14
    for path in expected:
        assert (tmp_path / "out" / path.name).read_bytes() == path.read_bytes(), path.name
    # Figures 3-6 as conf/figures.yaml lists them, and Figure 2 for each dataset of the store
    specs = _settings(tmp_path).figures
    datasets = sorted(p.name for p in (FIXTURE / "results").iterdir())
    assert specs and datasets
    for name in [*specs, *(f"fig2-{d}" for d in datasets)]:
        assert (tmp_path / "out" / f"{name}.png").stat().st_size > 5000, name
    assert any("Tables 1-2: no zoo" in w for w in report.warnings)
    # the fixture holds a few points of each figure's grid: each figure names its missing ones
    # and the sweep that computes them
    missing = [w for w in report.warnings if "missing" in w]
    assert sorted(w.split(" on ")[0] for w in missing) == sorted(s.title for s in specs.values())
    for spec in specs.values():
        (warning,) = [w for w in missing if w.startswith(f"{spec.title} on ")]
        assert f"-m sweep={spec.sweep} dataset=digits" in warning


def test_the_grid_comes_from_the_sweep_file():
    grid = sweep_grid(SWEEPS_DIR / "fig6.yaml")
    assert grid is not None and list(grid.values) == ["k"]
    assert len(grid.values["k"]) == 18 and 200 in grid.values["k"]
    assert list(grid.combos) == ["-TR", "-TL", "-RR", "-RL"] and list(grid.seeds) == []
    assert sweep_grid(SWEEPS_DIR / "no-such-sweep.yaml") is None


# --------------------------------------------------------------------------- two parameters
def _record(method: str, k: float, lr: float, label: str, aruc: float, seconds: float = 1.0,
            seed: int = 0) -> Record:
    """A record whose ARUC is ``aruc`` (one positive at 0.4 + aruc, one negative at 0.4)."""
    pos, neg = round(0.4 + aruc, 2), 0.4
    setting = Setting("digits", method, {"k": k, "lr": lr}, "train", label, seed=seed)
    suspects = [SuspectResult("ftll", "positive", "ftll", "small_cnn", 1, pos),
                SuspectResult("same-1", "negative", "same_arch", "small_cnn", 2, neg)]
    return Record(setting, score([pos], [neg]), 1.0, suspects,
                  Extraction(seconds=seconds, device="cpu"))


@pytest.fixture(scope="module")
def two_params(tmp_path_factory) -> Path:
    """IPGuard k x lr in fig6 (the best lr differs per k), its timing in table8 with the
    one-point variant beside it."""
    root = tmp_path_factory.mktemp("two-params") / "results"
    fig6 = ResultsStore(root / "digits" / "fig6")
    for label, shift in (("least_likely", 0.0), ("random", -0.1)):
        for k, lr, aruc in ((1.0, 0.001, 0.3), (1.0, 0.01, 0.5), (3.0, 0.001, 0.55),
                            (3.0, 0.01, 0.4)):
            fig6.write(_record("ipguard", k, lr, label, aruc + shift))
    table8 = ResultsStore(root / "digits" / "table8")
    for seed, seconds in ((0, 1.0), (1, 1.2)):
        table8.write(_record("ipguard", 3.0, 0.001, "least_likely", 0.55, seconds, seed))
        table8.write(_record("ipguard_onepoint", 3.0, 0.001, "least_likely", 0.55,
                             30 * seconds, seed))
    return root


def test_figure_6_plots_the_best_over_the_other_parameter(two_params, tmp_path):
    report = _figures(two_params, tmp_path / "no-zoo", tmp_path / "out", "grid=records")
    assert len(read_records_dir(two_params / "digits" / "fig6")) == 8  # one per setting
    rows = _csv(tmp_path / "out" / "fig6-data.csv")
    got = {(r["combo"], float(r["value"])): (round(float(r["aruc"]), 6), float(r["lr"]))
           for r in rows}
    assert got == ({("-TL", 1.0): (0.5, 0.01), ("-TL", 3.0): (0.55, 0.001),
                                 ("-TR", 1.0): (0.4, 0.01), ("-TR", 3.0): (0.45, 0.001)})
    assert "best setting over lr" in (tmp_path / "out" / "fig6-data.md").read_text()
    assert not [w for w in report.warnings if "missing" in w]  # lr is not a missing point
    (best,) = _csv(tmp_path / "out" / "table4.csv")
    assert (best["combo"], float(best["value"]), best["key"]) == ("-TL", 3.0, "ipguard-TL-k=3-s0")
    assert "0.55 (TL, k=3, lr=0.001)" in (tmp_path / "out" / "table4.md").read_text()


def test_table_8_has_the_one_point_row_and_the_batching_gain(two_params, tmp_path):
    _figures(two_params, tmp_path / "no-zoo", tmp_path / "out", "grid=records")
    rows = {r["method"]: r for r in _csv(tmp_path / "out" / "table8.csv")}
    assert list(rows) == ["ipguard", "ipguard_onepoint"]
    assert float(rows["ipguard"]["seconds_mean"]) == pytest.approx(1.1)
    assert float(rows["ipguard_onepoint"]["seconds_mean"]) == pytest.approx(33.0)
    assert float(rows["ipguard_onepoint"]["gain"]) == pytest.approx(30.0)
    text = (tmp_path / "out" / "table8.md").read_text()
    assert "| IPGuard (one point) | 33 (±3)" in text
    assert "Batching gain, IPGuard (one point) seconds over IPGuard seconds at the same " \
        "setting: 30x on Digits." in text


# --------------------------------------------------------------------------- a real sweep
@pytest.fixture(scope="module")
def sweep(tiny_zoo, tmp_path_factory) -> Path:
    """Run the sweep as a user would (`python -m ipguard.bench -m sweep=fig6 ...`)."""
    root = tmp_path_factory.mktemp("sweep")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    proc = subprocess.run(
        [sys.executable, "-m", "ipguard.bench", "-m", "sweep=fig6", "dataset=digits",
         f"method.k={','.join(KS)}", "init=train", f"label={','.join(LABELS)}", "n=20",
         "threads=1", f"paths.zoo_dir={tiny_zoo.parent}", f"paths.results_dir={root}/results",
         f"hydra.sweep.dir={root}/multirun"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def _records(root: Path) -> list[Record]:
    return read_records_dir(root / "results/digits/fig6")


def _sweep_figures(root: Path, zoo_dir: Path, out: Path, *overrides: str):
    return _figures(root / "results", zoo_dir, out, "grid=records", *overrides)


@pytest.fixture(scope="module")
def figures(sweep, tiny_zoo, tmp_path_factory):
    return _sweep_figures(sweep, tiny_zoo.parent, tmp_path_factory.mktemp("figs") / "out")


def test_sweep_writes_one_keyed_record_per_point(sweep):
    keys = sorted(r.key for r in _records(sweep))
    assert keys == sorted(f"ipguard-T{c}-k={k}-n20-s0" for k in KS for c in ("R", "L"))
    for record in _records(sweep):
        assert record.sweep == "fig6" and record.setting.n == 20
        assert record.provenance.config["method"]["k"] == record.setting.params["k"]
        assert (Path(record.provenance.output_dir) / "results.json").is_file()


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
    assert any("Figure 3" in w and "-m sweep=fig3" in w for w in figures.warnings)


def test_table4_aruc_is_the_best_record(figures, sweep):
    records = _records(sweep)
    best = max(records, key=lambda r: r.aruc)
    (row,) = [r for r in _csv(figures.out_dir / "table4.csv") if r["method"] == "ipguard"]
    assert float(row["aruc"]) == best.aruc
    assert max(r.aruc for r in records if r.key == row["key"]) == best.aruc
    assert f"{best.aruc:.2f}" in (figures.out_dir / "table4.md").read_text()


def test_figure_and_matching_rate_tables_hold_the_records_numbers(figures, sweep):
    records = {r.key: r for r in _records(sweep)}
    for row in _csv(figures.out_dir / "fig6-data.csv"):  # every point plotted
        key = f"ipguard{row['combo']}-k={float(row['value']):g}-n20-s0"
        assert float(row["aruc"]) == records[key].aruc
    assert len(_csv(figures.out_dir / "fig6-data.csv")) == len(records)

    rows = _csv(figures.out_dir / "table5-7-digits.csv")
    record = records[rows[0]["key"]]
    rate = {s.name: s.matching_rate for s in record.suspects}
    for row in rows:
        members = row["members"].split(",")
        assert float(row["min"]) == min(rate[m] for m in members)
        assert float(row["max"]) == max(rate[m] for m in members)
    positives = [s.name for s in record.suspects if s.role == "positive"]
    assert sorted(r["members"] for r in rows if r["role"] == "positive") == sorted(positives)
    negatives = {m for r in rows if r["role"] == "negative" for m in r["members"].split(",")}
    assert negatives == {s.name for s in record.suspects if s.role == "negative"}

    (t8,) = _csv(figures.out_dir / "table8.csv")
    assert float(t8["seconds_mean"]) == record.extraction.seconds


def test_zoo_tables_count_the_members(figures, tiny_zoo):
    zoo = load_zoo(tiny_zoo)
    (row,) = _csv(figures.out_dir / "table1.csv")
    assert int(row["positives"]) == sum(m.role == "positive" for m in zoo.members)
    assert int(row["negatives"]) == sum(m.role == "negative" for m in zoo.members)
    accuracies = {r["row"]: r for r in _csv(figures.out_dir / "table2.csv")}
    assert float(accuracies["small_cnn"]["max"]) == zoo.target.test_accuracy
    same = [m.test_accuracy for m in zoo.members if m.kind == "same_arch"]
    assert float(accuracies["Same architecture: small_cnn"]["min"]) == min(same)


def test_wandb_runs_hold_the_same_numbers(sweep):
    for record in _records(sweep):
        summary = read_summary(find_run_file(Path(record.provenance.output_dir) / "wandb"))
        for key in ("aruc", "auc", "gap"):
            assert summary[key] == getattr(record, key), key
        assert summary["extraction_seconds"] == record.extraction.seconds
        verdicts = record.verdicts
        assert (summary["aruc_lo"], summary["aruc_hi"]) == verdicts.hierarchical.get("aruc")
        assert summary["tau_fpr1"] == verdicts.at(0.01).tau
        assert summary["achieved_fpr_random_fpr5"] == verdicts.at(0.05).fpr_random
    # the records W&B holds (rebuilt as from the public API) are the store's
    local = {r.key: r for r in _records(sweep)}
    mirrored = offline_records(sweep / "multirun", "digits", ["fig6"])
    assert sorted(r.key for r in mirrored) == sorted(local)
    for record in mirrored:
        mine = local[record.key]
        assert record.setting == mine.setting and record.suspects == mine.suspects
        assert all(s.p_value is not None and len(s.matches) == 20 for s in record.suspects)
        assert record.headline == mine.headline and record.all_admitted == mine.all_admitted


def test_intervals_and_verdicts_are_in_the_tables(figures, sweep):
    """With intervals on (the default): each ARUC and positive's rate has its 95 % interval,
    from the records' hierarchical bootstrap (one seed: its suspects within their families and
    its points; a rate: its points), and the verdicts table has each combo's calibrated
    thresholds."""
    records = {r.key: r for r in _records(sweep)}
    for row in _csv(figures.out_dir / "fig6-data.csv"):
        record = records[f"ipguard{row['combo']}-k={float(row['value']):g}-n20-s0"]
        bounds = (float(row["aruc_lo"]), float(row["aruc_hi"]))
        hierarchical = record.verdicts.hierarchical  # suspects within family, then points
        assert row["interval"] == hierarchical.over and bounds == hierarchical.get("aruc")
    (best,) = _csv(figures.out_dir / "table4.csv")
    shown = f"{float(best['aruc']):.2f} [{float(best['aruc_lo']):.2f}, " \
        f"{float(best['aruc_hi']):.2f}]"
    assert shown in (figures.out_dir / "table4.md").read_text()
    rates = [r for r in _csv(figures.out_dir / "table5-7-digits.csv") if r["role"] == "positive"]
    assert rates and all(float(r["rate_lo"]) <= float(r["rate_hi"]) for r in rates)
    assert "95 % interval" in (figures.out_dir / "table5-7-digits.md").read_text()
    verdicts = _csv(figures.out_dir / "verdicts-digits.csv")
    assert sorted((r["combo"], r["fpr"]) for r in verdicts) == \
        [("-TL", "0.01"), ("-TL", "0.05"), ("-TR", "0.01"), ("-TR", "0.05")]
    assert {r["negatives"] for r in verdicts} == {"7"}
    assert {r["supported"] for r in verdicts} == {"False"}  # 7 negatives: too few for either
    assert "no (< 99)" in (figures.out_dir / "verdicts-digits.md").read_text()


def test_missing_point_still_renders_and_is_named(sweep, tiny_zoo, tmp_path):
    root = tmp_path / "partial"
    shutil.copytree(sweep / "results", root / "results")
    (root / "results/digits/fig6/ipguard-TL-k=10-n20-s0.json").unlink()
    report = _sweep_figures(root, tiny_zoo.parent, tmp_path / "out")
    assert (tmp_path / "out/fig6.png").stat().st_size > 5000
    (warning,) = [w for w in report.warnings if "missing" in w]
    assert "IPGuard-TL k=10" in warning and "1 sweep point" in warning
    assert "IPGuard-TL k=10" in (tmp_path / "out/README.md").read_text()


def test_best_setting_rerun_reproduces_the_best_record(sweep, tiny_zoo, tmp_path):
    best = max(_records(sweep), key=lambda r: r.aruc)
    cfg = compose_cfg("bench", ["n=20", "logger=none", "store.sweep=tables5-7",
                                "store.best_from=[fig6]", "method.k=0.5", "label=random"],
                      tmp_path)
    with open_dict(cfg):
        cfg.paths.results_dir = str(sweep / "results")
        cfg.paths.zoo_dir = str(tiny_zoo.parent)
        cfg.store.root = str(sweep / "results" / "digits")
        cfg.store.dir = str(tmp_path / "tables5-7")
    record = run_bench(cfg).record
    assert record.setting.params["k"] == best.setting.params["k"]
    assert record.combo == best.combo
    assert record.aruc == best.aruc  # CPU extraction is deterministic
    assert [s.matching_rate for s in record.suspects] == \
        [s.matching_rate for s in best.suspects]


def test_the_means_table_and_the_verdicts_of_a_schema_1_store(tmp_path):
    """Tables 5-7's companion: positives' mean minus negatives' mean is the ARUC whenever the
    two sets separate (Eq. 7 with n = r), per method, from the same records. With intervals on,
    records without per-point matches get none, and the tables say why; their verdicts are
    computed from the matching rates."""
    _figures(FIXTURE / "results", tmp_path / "no-zoo", tmp_path / "out")
    for name in ("table4", "fig6-data", "table5-7-digits", "table5-7-digits-means"):
        assert "no per-point matches" in (tmp_path / "out" / f"{name}.md").read_text(), name
    verdicts = _csv(tmp_path / "out" / "verdicts-digits.csv")
    # a row for each method whose best setting the store holds (the sweeps best_from names):
    # the fixture has every method the paper tunes (tests/data/figures_v1/README.md)
    measured = {r.setting.method for r in _fixture_records(_settings(tmp_path).tables.best_from)}
    assert measured == {name for name, cls in METHODS.items() if cls.tuning_name() == name}
    assert {r["method"] for r in verdicts} == measured
    assert {r["negatives"] for r in verdicts} == {"35"}
    rows = _csv(tmp_path / "out" / "table5-7-digits-means.csv")
    assert {r["method"] for r in rows} >= {"ipguard", "random"}
    for row in rows:
        difference = float(row["positives"]) - float(row["negatives"])
        assert float(row["difference"]) == pytest.approx(difference)
        if row["separated"] == "True":
            assert float(row["aruc"]) == pytest.approx(difference, abs=1e-9)
    assert "0.97" in (tmp_path / "out" / "table5-7-digits-means.md").read_text()
