"""The figure/table sweeps compose, cover the paper's grids, and the results store keys each
sweep point deterministically, skips finished points and reruns the best setting."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import open_dict

from ipguard.bench import run_bench, with_best_setting
from ipguard.errors import IPGuardError
from ipguard.results import write_record
from ipguard.store import ResultsStore, best_point, identity, record_key
from ipguard.zoo import Member, file_sha256, load_zoo

from conftest import CONF, compose_cfg

FIGURES = {"fig3": ("fgsm", "eps"), "fig4": ("igsm", "eps"), "fig5": ("cw_l2", "k"),
           "fig6": ("ipguard", "k")}
TARGETS = {"fgsm": "ipguard.methods.FGSM", "igsm": "ipguard.methods.IGSM",
           "cw_l2": "ipguard.methods.CWL2", "ipguard": "ipguard.methods.IPGuard",
           "random": "ipguard.methods.Random"}


def _compose_sweep(config: str, sweep: str, *overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=config, overrides=[f"+sweep={sweep}", *overrides],
                       return_hydra_config=True)


def _grid(cfg, key: str) -> list:
    override = OverridesParser.create().parse_override(f"{key}={cfg.hydra.sweeper.params[key]}")
    return list(override.sweep_iterator())


@pytest.mark.parametrize("sweep", sorted(FIGURES))
def test_figure_sweeps_cover_the_papers_grid_for_all_four_combos(sweep):
    method, param = FIGURES[sweep]
    cfg = _compose_sweep("bench", sweep, "dataset=digits")
    assert cfg.method._target_ == TARGETS[method] and cfg.store.sweep == sweep
    assert sorted(_grid(cfg, "init")) == ["random", "train"]
    assert sorted(_grid(cfg, "label")) == ["least_likely", "random"]
    values = sorted(float(v) for v in _grid(cfg, f"method.{param}"))
    low, high = (0.01, 100.0) if param == "k" else (1 / 255, 0.5)
    assert values[0] <= low * 1.001 and values[-1] >= high * 0.999  # wide enough
    ratios = [b / a for a, b in zip(values, values[1:], strict=False)]
    assert max(ratios) <= 2.5 + 1e-9 and len(values) >= 12  # log-spaced, dense at every scale
    assert all(r > 1 for r in ratios)


def test_k_grid_reaches_the_papers_imagenet_range():
    values = [float(v) for v in _grid(_compose_sweep("bench", "fig6"), "method.k")]
    assert max(values) == 200.0


@pytest.mark.parametrize("sweep", ["tables5-7", "table8"])
def test_table_sweeps_rerun_every_method_at_its_best_setting(sweep):
    cfg = _compose_sweep("bench", sweep)
    assert sorted(_grid(cfg, "method")) == sorted(TARGETS)
    assert list(cfg.store.best_from) == ["fig3", "fig4", "fig5", "fig6", "table4"]


def test_table4_sweep_runs_random_for_each_combo():
    cfg = _compose_sweep("bench", "table4")
    assert cfg.method._target_ == TARGETS["random"]
    assert len(_grid(cfg, "init")) * len(_grid(cfg, "label")) == 4


def test_zoo_sweep_names_only_buildable_member_families():
    from train.build import SELECTIONS

    cfg = _compose_sweep("train", "zoo", "dataset=digits")
    members = _grid(cfg, "member")
    families = set(SELECTIONS) | set(cfg.zoo.negatives.archs)
    assert set(members) <= families and "target" not in members  # target first, by itself
    assert {"ftll", "ftal", "rtll", "rtal", "wp", "fp", "same_arch", "forest"} <= set(members)


def test_record_key_names_method_combo_swept_parameter_and_seed():
    assert record_key("ipguard", "-TL", {"k": 3.0, "lr": 0.01}, 0) == "ipguard-TL-k=3-s0"
    assert record_key("cw_l2", "-RR", {"k": 0.01, "lr": 0.01}, 2) == "cw_l2-RR-k=0.01-s2"
    assert record_key("fgsm", "-TR", {"eps": 1 / 255}, 0) == "fgsm-TR-eps=0.00392157-s0"
    assert record_key("random", "-RL", {"seed": None}, 1) == "random-RL-s1"
    assert record_key("other", "-TL", {"b": 2, "a": 1.5}, 0) == "other-TL-a=1.5-b=2-s0"
    # deterministic: the same settings always give the same file
    assert record_key("ipguard", "-TL", {"k": 3}, 0) == record_key("ipguard", "-TL", {"k": 3.0}, 0)


def _fake_record(key: str, method: str, aruc: float, gap: float, k: float, init: str,
                 label: str, target: str) -> dict:
    return {"key": key, "method": method, "combo": "-TL", "params": {"k": k}, "init": init,
            "label": label, "seed": 0, "aruc": aruc, "gap": gap, "auc": 1.0,
            "config": {"method": {"_target_": target}}}


def test_best_setting_is_the_highest_aruc_then_the_largest_gap(tmp_path):
    target = TARGETS["ipguard"]
    store = ResultsStore(tmp_path / "digits" / "fig6")
    store.write("a", _fake_record("a", "ipguard", 0.90, 0.1, 1.0, "train", "random", target))
    store.write("b", _fake_record("b", "ipguard", 0.95, 0.2, 3.0, "random", "least_likely",
                                  target))
    store.write("c", _fake_record("c", "ipguard", 0.95, 0.4, 10.0, "train", "least_likely",
                                  target))
    store.write("d", _fake_record("d", "cw_l2", 0.99, 0.5, 5.0, "train", "random",
                                  TARGETS["cw_l2"]))
    assert best_point(store.records(), method="ipguard").value == 10.0
    cfg = compose_cfg("bench", ["store.best_from=[fig6]"], tmp_path)
    with open_dict(cfg):
        cfg.paths.results_dir = str(tmp_path)
    best = with_best_setting(cfg)
    assert best.method.k == 10.0 and (best.init, best.label) == ("train", "least_likely")
    assert cfg.method.k == 3.0  # the caller's config is left alone

    cfg = compose_cfg("bench", ["store.best_from=[fig6]", "method=fgsm"], tmp_path)
    with open_dict(cfg):
        cfg.paths.results_dir = str(tmp_path)
    with pytest.raises(IPGuardError, match=r"\+sweep=fig6"):
        with_best_setting(cfg)


def test_store_keeps_a_record_only_for_the_settings_it_was_made_with(tmp_path):
    point = {"dataset": "digits", "method": "ipguard", "params": {"k": 3.0, "betas": (0.9, 0.9)},
             "init": "train", "label": "random", "n": 100, "seed": 0, "r": 100,
             "selection": {"max_wp_p": 0.5, "max_fp_c": 0.4375}}
    store = ResultsStore(tmp_path)
    assert store.find("x", identity(point)) is None
    store.write("x", {**point, "aruc": 0.5})
    assert store.find("x", identity(point))["aruc"] == 0.5  # tuple vs JSON list: same point
    assert store.find("x", identity({**point, "n": 50})) is None  # other settings: recompute
    (tmp_path / "y.json").write_text("{not json")
    assert [r["key"] for r in store.records()] == ["x"]  # a broken file is skipped


def _tiny_bench(tiny_zoo, tmp_path, *overrides):
    cfg = compose_cfg("bench", ["n=10", "logger=none", "method.k=3", *overrides],
                      tiny_zoo.parents[1])
    with open_dict(cfg):
        cfg.paths.results_dir = str(tmp_path / "results")
        cfg.paths.output_dir = str(tmp_path / "out")
    return cfg


def test_finished_sweep_point_is_skipped_unless_forced(tiny_zoo, tmp_path, monkeypatch):
    first = run_bench(_tiny_bench(tiny_zoo, tmp_path, "store.sweep=s1"))
    path = tmp_path / "results" / "digits" / "s1" / "ipguard-TL-k=3-s0.json"
    stored = json.loads(path.read_text())
    assert stored["aruc"] == first["aruc"] and stored["key"] == path.stem
    assert stored["sweep"] == "s1" and stored["param"] == {"name": "k", "value": 3.0}
    assert len(stored["extraction"]["points"]["l2"]) == 10  # per-point statistics
    assert {"torch", "python"} <= set(stored["versions"]) and "git" in stored
    assert {s["role"] for s in stored["suspects"]} == {"positive", "negative"}
    assert stored["metrics"]["default"]["tau"][-1] == 1.0

    def no_extract(*_a, **_k):
        raise AssertionError("a finished point must not be recomputed")

    monkeypatch.setattr("ipguard.bench.extract", no_extract)
    again = run_bench(_tiny_bench(tiny_zoo, tmp_path, "store.sweep=s1"))
    assert again["skipped"] and again["aruc"] == first["aruc"]
    assert (tmp_path / "out" / "results.json").is_file()
    with pytest.raises(AssertionError, match="must not be recomputed"):
        run_bench(_tiny_bench(tiny_zoo, tmp_path, "store.sweep=s1", "force=true"))
    with pytest.raises(AssertionError, match="must not be recomputed"):  # other n: recompute
        run_bench(_tiny_bench(tiny_zoo, tmp_path, "store.sweep=s1", "n=12"))
    monkeypatch.undo()
    forced = run_bench(_tiny_bench(tiny_zoo, tmp_path, "store.sweep=s1", "force=true"))
    assert "skipped" not in forced and math.isclose(forced["aruc"], first["aruc"])


def test_a_point_measured_on_another_build_of_the_zoo_is_recomputed(tiny_zoo, tmp_path,
                                                                    monkeypatch, caplog):
    zoo_dir = tmp_path / "zoo" / "digits"
    shutil.copytree(tiny_zoo, zoo_dir)
    member = Member.load(next(zoo_dir.glob("negative/*")))
    assert member.weights_sha256 == file_sha256(member.weights_file)  # recorded when saved
    first = run_bench(_tiny_bench(zoo_dir, tmp_path, "store.sweep=s1"))
    assert first["zoo"] == load_zoo(zoo_dir).identity()

    def no_extract(*_a, **_k):
        raise AssertionError("recomputed")

    monkeypatch.setattr("ipguard.bench.extract", no_extract)
    assert run_bench(_tiny_bench(zoo_dir, tmp_path, "store.sweep=s1"))["skipped"]
    shutil.copytree(tiny_zoo, tmp_path / "copy" / "zoo" / "digits")  # a copy is the same zoo
    assert run_bench(_tiny_bench(tmp_path / "copy" / "zoo" / "digits", tmp_path,
                                 "store.sweep=s1"))["skipped"]
    shutil.rmtree(member.dir)  # a member deleted (or retrained): another zoo
    with pytest.raises(AssertionError, match="recomputed"):
        run_bench(_tiny_bench(zoo_dir, tmp_path, "store.sweep=s1"))
    assert "made with other settings (zoo)" in caplog.text


def test_a_record_is_never_half_written(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    write_record(path, {"aruc": 0.1})

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr("ipguard.io.os.replace", boom)
    with pytest.raises(OSError):
        write_record(path, {"aruc": 0.9})
    assert json.loads(path.read_text())["aruc"] == 0.1
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
