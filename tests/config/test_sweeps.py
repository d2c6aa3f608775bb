"""The paper's sweeps (sweeps/*.yaml) compose and cover the paper's grids; the results store
keys each setting uniquely, keeps one record per setting of a multirun over several
parameters, skips finished points, moves aside a record of another zoo, and reruns the best
setting."""

from __future__ import annotations

import functools
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import get_class

from ipguard.app.bench import run_bench
from ipguard.app.best import with_best_setting
from ipguard.app.config import SWEEPS_DIR, typed
from ipguard.app.schema import BenchConfig, FiguresConfig
from ipguard.core.methods import METHODS
from ipguard.core.metrics import Scores
from ipguard.paper.config import FigureSpec
from ipguard.paper.registry import sweeps_needed
from ipguard.results.record import Extraction, Record, Setting
from ipguard.results.store import ResultsStore, best_point, read_records_dir, write_record
from ipguard.utils.errors import IPGuardError
from ipguard.zoo import Member, file_sha256, load_zoo
from ipguard.zoo.suspects import Selection

from conftest import CONF, REPO, compose_cfg
from helpers import env, micro_zoo

# The paper's facts (Section 5.2): the methods it compares, in its order, and the parameter
# each of Figures 3-6 sweeps. The suite's own lists (METHODS, conf/figures.yaml, sweeps/) are
# checked against these; the tests below enumerate the suite's lists, so a method or figure
# added there is tested too.
PAPER_METHODS = ("random", "fgsm", "igsm", "cw_l2", "ipguard")
PAPER_FIGURES = {"Figure 3": ("fgsm", "eps"), "Figure 4": ("igsm", "eps"),
                 "Figure 5": ("cw_l2", "k"), "Figure 6": ("ipguard", "k")}
# Methods tuned by sweeps of their own (a variant, tuned_as another, borrows that one's best)
OWN_TUNING = [name for name, cls in METHODS.items() if cls.tuning_name() == name]


@functools.cache
def _figures_config() -> FiguresConfig:
    """conf/figures.yaml as ``python -m ipguard.figures`` reads it."""
    return typed(compose_cfg("figures", ["logger=none"], Path("/unused")), FiguresConfig)


def _figure_specs() -> dict[str, FigureSpec]:
    return _figures_config().figures


def _compose_sweep(config: str, sweep: str, *overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=config, overrides=[f"sweep={sweep}", *overrides],
                       return_hydra_config=True)


def _grid(cfg, key: str) -> list:
    override = OverridesParser.create().parse_override(f"{key}={cfg.hydra.sweeper.params[key]}")
    return list(override.sweep_iterator())


def _sweep_names() -> list[str]:
    return sorted(p.stem for p in SWEEPS_DIR.glob("*.yaml"))


def _bench_sweeps() -> list[str]:
    return [name for name in _sweep_names() if name != "zoo"]


def test_every_sweep_file_is_a_sweep_option():
    """sweeps/ is the home of the sweeps: each file there composes as sweep=<name>, and every
    sweep a paper artifact reads (ipguard.paper.registry) is one of them."""
    names = _sweep_names()
    figures = _figures_config()
    assert set(sweeps_needed(figures.figures, figures.tables)) <= set(names) and "zoo" in names
    for name in names:
        config = "train" if name == "zoo" else "bench"
        assert _compose_sweep(config, name).hydra.sweeper.params


def test_the_suites_methods_and_figures_are_the_papers():
    """METHODS starts with the paper's methods in its order (every other one is a variant
    tuned as one of them), and conf/figures.yaml draws Figures 3-6 as the paper does: one
    method each, over the parameter the method declares as swept, from a sweep of that name."""
    assert OWN_TUNING == list(PAPER_METHODS)
    assert list(METHODS)[:len(PAPER_METHODS)] == list(PAPER_METHODS)
    assert {cls.tuning_name() for cls in METHODS.values()} == set(PAPER_METHODS)
    specs = _figure_specs()
    assert {s.title: (s.method, METHODS[s.method].swept) for s in specs.values()} == PAPER_FIGURES
    assert all(s.sweep == name for name, s in specs.items())
    # every method with a parameter to sweep has its figure; the others (Random) have none
    assert sorted(s.method for s in specs.values()) == \
        sorted(m for m in OWN_TUNING if METHODS[m].swept is not None)


@pytest.mark.parametrize("figure", sorted(_figure_specs()))
def test_figure_sweeps_cover_the_papers_grid_for_all_four_combos(figure):
    spec = _figure_specs()[figure]
    param = METHODS[spec.method].swept
    cfg = _compose_sweep("bench", spec.sweep, "dataset=digits")
    assert get_class(cfg.method._target_) is METHODS[spec.method]
    assert cfg.store.sweep == spec.sweep
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


def _tuning_sweeps() -> list[str]:
    """The sweeps that measure one method over its grid (the method fixed by the sweep file,
    not swept): where a method's best setting comes from."""
    return [name for name in _bench_sweeps()
            if "method" not in _compose_sweep("bench", name).hydra.sweeper.params]


def test_the_best_settings_come_from_every_sweep_of_one_method():
    """Tables 4-8 and Figure 2 (conf/figures.yaml) pick each method's best from the sweeps that
    measure a single method, and each method the paper tunes has exactly one of them."""
    tuning = _tuning_sweeps()
    assert sorted(_figures_config().tables.best_from) == tuning
    tuned = [get_class(_compose_sweep("bench", name).method._target_).name for name in tuning]
    assert sorted(tuned) == sorted(OWN_TUNING)


@pytest.mark.parametrize("sweep, methods", [
    ("tables5-7", sorted(OWN_TUNING)), ("table8", sorted(METHODS))])
def test_table_sweeps_rerun_every_method_at_its_best_setting(sweep, methods):
    """Tables 5-7 compare the paper's methods; Table 8 times every method the suite ships
    (the variants too: the one-point IPGuard gives the batching gain)."""
    cfg = _compose_sweep("bench", sweep)
    assert sorted(_grid(cfg, "method")) == methods
    assert list(cfg.store.best_from) == list(_figures_config().tables.best_from)


def test_table4_sweep_runs_random_for_each_combo():
    """Table 4's own sweep measures the one paper method without a figure (nothing to sweep):
    Random, once per combo."""
    cfg = _compose_sweep("bench", "table4")
    method = get_class(cfg.method._target_)
    assert method is METHODS["random"] and method.swept is None
    assert [m for m in OWN_TUNING if METHODS[m].swept is None] == [method.name]
    assert len(_grid(cfg, "init")) * len(_grid(cfg, "label")) == 4


def _families(selection: str) -> set[str]:
    """The member families a ``member=`` selection stands for (train.plan.GROUPS, expanded);
    the zoo's own families (zoo.negatives.archs) come on top of ``negatives``."""
    from train.plan import GROUPS

    if selection not in GROUPS:
        return {selection}
    return set().union(*(_families(part) for part in GROUPS[selection]))


def test_zoo_sweep_names_only_buildable_member_families():
    """One job per family of the paper's zoo (``member=all``), each once; the target is built
    first, by itself, so it is not in the sweep."""
    from train.plan import SELECTIONS

    cfg = _compose_sweep("train", "zoo", "dataset=digits")
    members = _grid(cfg, "member")
    families = set(SELECTIONS) | set(cfg.zoo.negatives.archs)
    assert set(members) <= families and "target" not in members  # target first, by itself
    assert len(members) == len(set(members))
    assert set(members) == (_families("all") - {"target"}) | set(cfg.zoo.negatives.archs)


def test_an_unknown_sweep_is_refused_with_the_list_of_sweeps():
    with pytest.raises(Exception, match="fig6"):  # Hydra names the options it has
        _compose_sweep("bench", "fig7")


# --------------------------------------------------------------------------- keys
def _setting(method="ipguard", params=None, init="train", label="least_likely", **kw):
    return Setting(dataset="digits", method=method, params=params or {}, init=init,
                   label=label, **kw)


def test_key_names_method_combo_swept_parameter_and_seed():
    assert _setting(params={"k": 3.0, "lr": 0.001}).key() == "ipguard-TL-k=3-s0"
    assert _setting("cw_l2", {"k": 0.01, "lr": 0.01}, "random", "random",
                    seed=2).key() == "cw_l2-RR-k=0.01-s2"
    assert _setting("fgsm", {"eps": 1 / 255}, label="random").key() == \
        f"fgsm-TR-eps={1 / 255!r}-s0"
    assert _setting("fgsm", {"eps": 0.003922}, label="random").key() == "fgsm-TR-eps=0.003922-s0"
    assert _setting("random", {"seed": None}, "random", seed=1).key() == "random-RL-s1"
    assert _setting("other", {"b": 2, "a": 1.5}).key() == "other-TL-b=2-a=1.5-s0"
    assert _setting(params={"k": 3}).key() == _setting(params={"k": 3.0}).key()


def test_key_names_every_setting_that_differs_from_the_papers():
    """Each parameter, n, r and the headline selection change the result, so each changes
    the key; the common case reads as before."""
    base = {"k": 3.0, "lr": 0.001, "max_iter": 1000, "betas": [0.9, 0.999], "eps": 1e-8}
    assert _setting(params={**base, "lr": 0.01}).key() == "ipguard-TL-k=3-lr=0.01-s0"
    assert _setting(params={**base, "betas": (0.9, 0.9)}).key() == \
        "ipguard-TL-k=3-betas=0.9,0.9-s0"
    assert _setting(params=base, n=40).key() == "ipguard-TL-k=3-n40-s0"
    assert _setting(params=base, r=50).key() == "ipguard-TL-k=3-r50-s0"
    assert _setting(params=base, selection=Selection(0.5, 0.4375)).key() == \
        "ipguard-TL-k=3-max_wp_p=0.5-max_fp_c=0.4375-s0"  # a cap: not the paper's protocol
    settings = [_setting(params={**base, "k": k, "lr": lr}, n=n) for k in (1, 3, 1.0000001)
                for lr in (0.001, 0.01, 0.0010000001) for n in (40, 100)]
    assert len({s.key() for s in settings}) == len(settings)  # unique, even 1 vs 1.0000001


# --------------------------------------------------------------------------- the store
def _record(method: str, params: dict, init: str, label: str, aruc: float, gap: float,
            seed: int = 0, zoo: str | None = "z1") -> Record:
    scores = Scores(aruc=aruc, auc=1.0, gap=gap, tau=[1.0], robustness=[1.0],
                    uniqueness=[1.0], positives=1, negatives=1)
    return Record(setting=_setting(method, params, init, label, seed=seed, zoo=zoo),
                  headline=scores, effectiveness=1.0, suspects=[],
                  extraction=Extraction(seconds=1.0))


def test_best_setting_is_the_highest_aruc_then_the_largest_gap(tmp_path):
    store = ResultsStore(tmp_path / "digits" / "fig6")
    store.write(_record("ipguard", {"k": 1.0}, "train", "random", 0.90, 0.1))
    store.write(_record("ipguard", {"k": 3.0}, "random", "least_likely", 0.95, 0.2))
    store.write(_record("ipguard", {"k": 10.0}, "train", "least_likely", 0.95, 0.4))
    store.write(_record("cw_l2", {"k": 5.0}, "train", "random", 0.99, 0.5))
    assert best_point(store.records(), method="ipguard").value == 10.0
    cfg = compose_cfg("bench", ["store.best_from=[fig6]"], tmp_path)
    cfg.paths.results_dir = str(tmp_path)
    settings = typed(cfg, BenchConfig)
    best = with_best_setting(settings)
    assert best.method.k == 10.0 and (best.init, best.label) == ("train", "least_likely")
    assert settings.method.k == 3.0  # the caller's config is left alone
    onepoint = typed(compose_cfg("bench", ["store.best_from=[fig6]", "method=ipguard_onepoint",
                                           f"paths.results_dir={tmp_path}"], tmp_path),
                     BenchConfig)
    assert with_best_setting(onepoint).method.k == 10.0  # tuned as IPGuard
    fgsm = typed(compose_cfg("bench", ["store.best_from=[fig6]", "method=fgsm",
                                       f"paths.results_dir={tmp_path}"], tmp_path), BenchConfig)
    with pytest.raises(IPGuardError, match=r"sweep=fig6"):
        with_best_setting(fgsm)


def test_the_seeds_sweep_reruns_each_combo_at_its_own_best_setting(tmp_path):
    cfg = _compose_sweep("bench", "seeds")
    assert cfg.store.best_per_combo and sorted(_grid(cfg, "seed")) == [0, 1, 2, 3, 4]
    assert len(_grid(cfg, "init")) * len(_grid(cfg, "label")) == 4
    store = ResultsStore(tmp_path / "digits" / "fig6")
    store.write(_record("ipguard", {"k": 1.0}, "random", "random", 0.60, 0.1))
    store.write(_record("ipguard", {"k": 2.0}, "random", "random", 0.70, 0.1))
    store.write(_record("ipguard", {"k": 3.0}, "train", "least_likely", 0.95, 0.4))
    chosen = {}
    for init, label in (("random", "random"), ("train", "least_likely")):
        mine = typed(compose_cfg("bench", ["store.best_from=[fig6]", "store.best_per_combo=true",
                                           f"init={init}", f"label={label}",
                                           f"paths.results_dir={tmp_path}"], tmp_path),
                     BenchConfig)
        best = with_best_setting(mine)
        chosen[(init, label)] = (best.method.k, best.init, best.label)
    # each combo keeps itself and gets its own best k, not the overall best (k = 3, -TL)
    assert chosen == {("random", "random"): (2.0, "random", "random"),
                      ("train", "least_likely"): (3.0, "train", "least_likely")}
    none = typed(compose_cfg("bench", ["store.best_from=[fig6]", "store.best_per_combo=true",
                                       "init=train", "label=random",
                                       f"paths.results_dir={tmp_path}"], tmp_path), BenchConfig)
    with pytest.raises(IPGuardError, match=r"ipguard-TR"):
        with_best_setting(none)


def test_store_finds_a_record_only_for_its_own_setting(tmp_path):
    store = ResultsStore(tmp_path)
    record = _record("ipguard", {"k": 3.0, "betas": (0.9, 0.9)}, "train", "random", 0.5, 0.1)
    assert store.find(record.setting) is None
    store.write(record)
    same = _setting("ipguard", {"k": 3, "betas": [0.9, 0.9]}, "train", "random", zoo="z1")
    assert store.find(same).aruc == 0.5  # tuple vs JSON list, 3 vs 3.0: the same setting
    assert store.find(_setting("ipguard", {"k": 3.0, "betas": [0.9, 0.9]}, "train", "random",
                               n=50, zoo="z1")) is None  # another n: another key
    (tmp_path / "y.json").write_text("{not json")
    assert [r.key for r in store.records()] == [record.key]  # a broken file is skipped


def test_a_record_of_another_zoo_is_moved_aside_not_lost(tmp_path, caplog):
    store = ResultsStore(tmp_path)
    old = _record("ipguard", {"k": 3.0}, "train", "random", 0.5, 0.1, zoo="oldzoo")
    path = store.write(old)
    assert store.find(_setting("ipguard", {"k": 3.0}, "train", "random", zoo="newzoo")) is None
    assert not path.exists() and "another zoo" in caplog.text
    (moved,) = (tmp_path / ".superseded").iterdir()
    assert json.loads(moved.read_text())["setting"]["zoo"] == "oldzoo"
    assert store.records() == []  # figures never pool two zoos


def test_a_multirun_over_two_parameters_keeps_one_record_per_setting(tmp_path):
    """python -m ipguard.bench -m method.k=... method.lr=...: every setting is kept."""
    zoo = micro_zoo()
    cmd = [sys.executable, "-m", "ipguard.bench", "-m", "method.k=1,3", "method.lr=0.001,0.01",
           "n=10", "logger=none", "threads=1", f"zoo_dir={zoo}", f"paths.root_dir={tmp_path}",
           f"hydra.sweep.dir={tmp_path}/multirun"]
    proc = subprocess.run(cmd, cwd=REPO, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = read_records_dir(tmp_path / "results" / "digits" / "adhoc")
    settings = {(r.setting.params["k"], r.setting.params["lr"]) for r in records}
    assert settings == {(1.0, 0.001), (1.0, 0.01), (3.0, 0.001), (3.0, 0.01)}
    assert sorted(r.key for r in records) == [
        "ipguard-TL-k=1-lr=0.01-n10-s0", "ipguard-TL-k=1-n10-s0",
        "ipguard-TL-k=3-lr=0.01-n10-s0", "ipguard-TL-k=3-n10-s0"]
    best = best_point(records, method="ipguard")
    assert best.aruc == max(r.aruc for r in records)


# --------------------------------------------------------------------------- bench runs
def _tiny_bench(tiny_zoo, tmp_path, *overrides):
    cfg = compose_cfg("bench", ["n=10", "logger=none", "method.k=3", *overrides],
                      tiny_zoo.parents[1])
    cfg.paths.results_dir = str(tmp_path / "results")
    cfg.paths.output_dir = str(tmp_path / "out")
    return cfg


def test_finished_sweep_point_is_skipped_unless_forced(tiny_zoo, tmp_path, monkeypatch):
    first = run_bench(_tiny_bench(tiny_zoo, tmp_path, "store.sweep=s1"))
    path = tmp_path / "results" / "digits" / "s1" / "ipguard-TL-k=3-n10-s0.json"
    assert first.path == path and not first.skipped
    stored = json.loads(path.read_text())
    assert stored["schema"] == "ipguard.results/2" and stored["key"] == path.stem
    assert stored["scores"]["headline"]["aruc"] == first.record.aruc
    assert stored["provenance"]["sweep"] == "s1"
    assert stored["setting"]["params"]["k"] == 3.0 and stored["setting"]["n"] == 10
    assert len(stored["extraction"]["points"]["l2"]) == 10  # per-point statistics
    assert {"torch", "python"} <= set(stored["provenance"]["versions"])
    assert {s["role"] for s in stored["suspects"]} == {"positive", "negative"}
    assert stored["scores"]["headline"]["tau"][-1] == 1.0

    def no_extract(*_a, **_k):
        raise AssertionError("a finished point must not be recomputed")

    monkeypatch.setattr("ipguard.app.bench.extract", no_extract)
    again = run_bench(_tiny_bench(tiny_zoo, tmp_path, "store.sweep=s1"))
    assert again.skipped and again.record.aruc == first.record.aruc
    assert (tmp_path / "out" / "results.json").is_file()
    with pytest.raises(AssertionError, match="must not be recomputed"):
        run_bench(_tiny_bench(tiny_zoo, tmp_path, "store.sweep=s1", "force=true"))
    with pytest.raises(AssertionError, match="must not be recomputed"):  # other n: recompute
        run_bench(_tiny_bench(tiny_zoo, tmp_path, "store.sweep=s1", "n=12"))
    monkeypatch.undo()
    forced = run_bench(_tiny_bench(tiny_zoo, tmp_path, "store.sweep=s1", "force=true"))
    assert not forced.skipped and math.isclose(forced.record.aruc, first.record.aruc)


def test_a_point_measured_on_another_build_of_the_zoo_is_recomputed(tiny_zoo, tmp_path,
                                                                    monkeypatch, caplog):
    zoo_dir = tmp_path / "zoo" / "digits"
    shutil.copytree(tiny_zoo, zoo_dir)
    member = Member.load(next(zoo_dir.glob("negative/*")))
    assert member.weights_sha256 == file_sha256(member.weights_file)  # recorded when saved
    first = run_bench(_tiny_bench(zoo_dir, tmp_path, "store.sweep=s1"))
    assert first.record.setting.zoo == load_zoo(zoo_dir).identity()

    def no_extract(*_a, **_k):
        raise AssertionError("recomputed")

    monkeypatch.setattr("ipguard.app.bench.extract", no_extract)
    assert run_bench(_tiny_bench(zoo_dir, tmp_path, "store.sweep=s1")).skipped
    shutil.copytree(tiny_zoo, tmp_path / "copy" / "zoo" / "digits")  # a copy is the same zoo
    assert run_bench(_tiny_bench(tmp_path / "copy" / "zoo" / "digits", tmp_path,
                                 "store.sweep=s1")).skipped
    shutil.rmtree(member.dir)  # a member deleted (or retrained): another zoo
    with pytest.raises(AssertionError, match="recomputed"):
        run_bench(_tiny_bench(zoo_dir, tmp_path, "store.sweep=s1"))
    assert "measured with another zoo" in caplog.text


def test_a_record_is_never_half_written(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    write_record(path, _record("ipguard", {"k": 3.0}, "train", "random", 0.1, 0.1))

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr("ipguard.utils.io.os.replace", boom)
    with pytest.raises(OSError):
        write_record(path, _record("ipguard", {"k": 3.0}, "train", "random", 0.9, 0.1))
    assert json.loads(path.read_text())["scores"]["headline"]["aruc"] == 0.1
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
