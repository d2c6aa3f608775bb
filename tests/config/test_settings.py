"""One home for every setting: each default is written once, and what a config file still says
either deviates from it or is the one value it must name.

- A method's defaults live in its class (ipguard.core.methods); METHOD_SCHEMAS is made from it;
  conf/method/<name>.yaml names only its class, conf/tuning/ only what a dataset changes.
- The bench's, the figures' and the logger's defaults live in their schemas: conf/bench.yaml,
  conf/figures.yaml, conf/logger/*.yaml and sweeps/*.yaml restate none of them.
- The paper's n and r are PAPER_N (ipguard.core.extract) and PAPER_R (ipguard.core.metrics).
- Figures 3-6 and the sweeps the best settings come from are read from sweeps/, never listed in
  conf/figures.yaml.
- The W&B group of a sweep's runs is ipguard.results.tracking.run_group, for every caller.

Every check enumerates conf/, sweeps/ and METHODS, so a file or method added is checked too."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hydra.utils import get_class
from omegaconf import OmegaConf

from ipguard.app.config import CONF_DIR, SWEEPS_DIR, experiments, typed
from ipguard.app.schema import (
    METHOD_SCHEMAS,
    BenchConfig,
    FiguresConfig,
    LoggerConfig,
    MetricsConfig,
)
from ipguard.app.sweeps import figures_schema, read_sweeps
from ipguard.core.extract import PAPER_N, extract
from ipguard.core.methods import METHODS
from ipguard.core.metrics import PAPER_R, aruc, score, thresholds
from ipguard.results.setting import Setting
from ipguard.results.tracking import run_group, zoo_group

from conftest import REPO, compose_cfg

NOT_SETTINGS = ("defaults", "hydra")   # Hydra's own keys: what a file composes, where it runs


def _yaml(path: Path) -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {}


def _defaults(schema: Any) -> dict[str, Any]:
    node = schema if OmegaConf.is_config(schema) else OmegaConf.structured(schema)
    return OmegaConf.to_container(node, resolve=False, enum_to_str=True)


def restated(node: Mapping[str, Any], defaults: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys of ``node`` whose value equals the default at the same key."""
    found = []
    for key, value in node.items():
        if not prefix and key in NOT_SETTINGS or key not in defaults:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(defaults[key], Mapping):
            found += restated(value, defaults[key], f"{name}.")
        elif value == defaults[key]:
            found.append(name)
    return found


def _method_of(stem: str) -> str:
    """The method a conf/tuning/<method>_<dataset> file belongs to (the longest name)."""
    return max((m for m in METHODS if stem.startswith(f"{m}_")), key=len)


def test_the_check_finds_a_restated_default_and_nothing_else():
    bench = _defaults(BenchConfig)
    node = {"n": PAPER_N, "seed": 3, "metrics": {"r": PAPER_R}, "store": {"sweep": "adhoc",
            "best_from": ["fig6"]}, "defaults": ["x"], "hydra": {"n": PAPER_N}}
    assert restated(node, bench) == ["n", "metrics.r", "store.sweep"]


# --------------------------------------------------------------------------- methods
def test_the_method_schemas_are_made_from_the_classes():
    assert set(METHOD_SCHEMAS) == set(METHODS)
    for name, cls in METHODS.items():
        schema = _defaults(METHOD_SCHEMAS[name])
        assert schema.pop("_target_") == f"ipguard.core.methods.{cls.__name__}"
        assert schema == {k: list(v) if isinstance(v, tuple) else v
                          for k, v in cls.defaults().items()}, name


@pytest.mark.parametrize("name", sorted(METHODS))
def test_a_method_config_names_its_class_and_no_default(name):
    """conf/method/<name>.yaml composes over the class's schema and says nothing else but the
    class: a value there would be a second home of a default (and once disagreed: CW-L2's k)."""
    node = _yaml(CONF_DIR / "method" / f"{name}.yaml")
    assert node.pop("defaults") == [f"/schema/method/{name}@_here_", "_self_"]
    assert node == {"_target_": _defaults(METHOD_SCHEMAS[name])["_target_"]}


def test_every_method_config_is_a_method():
    assert {p.stem for p in (CONF_DIR / "method").glob("*.yaml")} == set(METHODS)


@pytest.mark.parametrize("path", sorted((CONF_DIR / "tuning").glob("*.yaml")), ids=lambda p: p.stem)
def test_a_tuning_sets_only_what_the_dataset_changes(path):
    """conf/tuning/<method>_<dataset>.yaml: values that differ from the class's defaults, each a
    field of the method, and each is what the bench composes for that method and dataset."""
    method = _method_of(path.stem)
    dataset = path.stem[len(method) + 1:]
    node = _yaml(path)
    node.pop("defaults", None)   # a variant takes the method it is tuned as (ipguard_onepoint)
    defaults = METHODS[method].defaults()
    assert set(node) <= set(defaults), f"not fields of {method}: {set(node) - set(defaults)}"
    assert restated(node, defaults) == []
    composed = compose_cfg("bench", [f"method={method}", f"dataset={dataset}"]).method
    assert {k: composed[k] for k in node} == node


@pytest.mark.parametrize("dataset", sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml")))
def test_cw_l2s_k_is_the_one_every_configured_run_used(dataset):
    """The class said k = 0 (the authors' code), conf/method/cw_l2.yaml k = 3, and each
    dataset's tuning 3 (10 on Fashion-MNIST): every run used the configs' value, so the class
    now says 3, and the bench composes what it composed before."""
    assert METHODS["cw_l2"]().k == 3.0
    before = {"fashion_mnist": 10.0}.get(dataset, 3.0)
    assert compose_cfg("bench", ["method=cw_l2", f"dataset={dataset}"]).method.k == before


# --------------------------------------------------------------------------- conf/ and sweeps/
@pytest.mark.parametrize("name", ["bench.yaml", "figures.yaml", *(
    f"logger/{p.name}" for p in sorted((CONF_DIR / "logger").glob("*.yaml")))])
def test_a_config_file_restates_no_schema_default(name):
    schema = {"bench.yaml": BenchConfig, "figures.yaml": figures_schema(SWEEPS_DIR)}.get(
        name, LoggerConfig)
    assert restated(_yaml(CONF_DIR / name), _defaults(schema)) == []


@pytest.mark.parametrize("sweep", [s for s in read_sweeps(SWEEPS_DIR) if s.name != "zoo"],
                         ids=lambda s: s.name)
def test_a_sweep_file_restates_no_default(sweep):
    """A sweep says what it sweeps and where its records go, never a bench default (n = 100
    was in every one) nor a default of the method it fixes."""
    defaults = _defaults(BenchConfig)
    if sweep.method is not None:
        defaults["method"] = _defaults(METHOD_SCHEMAS[sweep.method])
    assert restated(_yaml(SWEEPS_DIR / f"{sweep.name}.yaml"), defaults) == []


def test_figures_yaml_repeats_nothing_the_sweep_files_say():
    """Figures 3-6 and tables.best_from come from sweeps/: conf/figures.yaml lists neither, and
    the composed figures config holds exactly what the sweep files say."""
    node = _yaml(CONF_DIR / "figures.yaml")
    assert "figures" not in node and "best_from" not in node.get("tables", {})
    cfg = typed(compose_cfg("figures", ["logger=none"], Path("/unused")), FiguresConfig)
    sweeps = read_sweeps(SWEEPS_DIR)
    assert cfg.figures == {s.name: s.figure for s in sweeps if s.figure is not None}
    assert cfg.tables.best_from == [s.name for s in sweeps if s.method is not None]
    for name, spec in cfg.figures.items():   # the method is the one the sweep file runs
        method = compose_cfg("bench", [f"sweep={name}"]).method._target_
        assert get_class(method) is METHODS[spec.method]
        assert spec.title == f"Figure {name.removeprefix('fig')}"


def test_a_sweep_file_that_fixes_a_method_is_read_as_such(tmp_path):
    (tmp_path / "fig12.yaml").write_text(
        "defaults:\n  - override /method: cw_l2\nhydra:\n  sweeper:\n    params:\n"
        "      method.k: 1,2\n")
    (tmp_path / "other.yaml").write_text("hydra:\n  sweeper:\n    params:\n      method: fgsm\n")
    (tmp_path / "fig2.yaml").write_text(
        "defaults:\n  - override /method: random\nhydra:\n  sweeper:\n    params:\n"
        "      init: train\n")
    sweeps = read_sweeps(tmp_path)
    assert [s.name for s in sweeps] == ["fig2", "fig12", "other"]
    assert [s.method for s in sweeps] == ["random", "cw_l2", None]
    assert [s.figure.title if s.figure else None for s in sweeps] == [None, "Figure 12", None]


# --------------------------------------------------------------------------- n and r
def test_the_papers_n_and_r_have_one_home():
    fields = {f.name: f.default for f in dataclasses.fields(BenchConfig)}
    assert fields["n"] == PAPER_N == 100
    assert dataclasses.fields(MetricsConfig)[0].default == PAPER_R == 100
    setting = Setting("digits", "ipguard", {}, "train", "least_likely")
    assert (setting.n, setting.r) == (PAPER_N, PAPER_R)
    assert inspect.signature(extract).parameters["n"].default == PAPER_N
    for fn in (thresholds, aruc, score):
        assert inspect.signature(fn).parameters["r"].default == PAPER_R


def _literal_100_defaults(tree: ast.AST) -> list[int]:
    """Lines where an ``n`` or ``r`` parameter or field defaults to the literal 100."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args.args + node.args.kwonlyargs
            defaults = [None] * (len(node.args.args) - len(node.args.defaults)) + \
                node.args.defaults + node.args.kw_defaults
            lines += [node.lineno for a, d in zip(args, defaults, strict=True)
                      if a.arg in ("n", "r") and isinstance(d, ast.Constant) and d.value == 100]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and \
                node.target.id in ("n", "r") and isinstance(node.value, ast.Constant) and \
                node.value.value == 100:
            lines.append(node.lineno)
    return lines


def test_no_module_and_no_config_writes_100_for_n_or_r_again():
    assert _literal_100_defaults(ast.parse("def f(a, n=100, *, r=100): pass\nn: int = 100")) \
        == [1, 1, 2]   # the check itself finds them
    found = {str(p.relative_to(REPO)): lines for p in sorted((REPO / "ipguard").rglob("*.py"))
             if (lines := _literal_100_defaults(ast.parse(p.read_text())))}
    assert found == {}
    pattern = re.compile(r"^\s*(n|r):\s*100\b", re.MULTILINE)
    files = [*CONF_DIR.rglob("*.yaml"), *SWEEPS_DIR.glob("*.yaml")]
    assert [str(p) for p in files if pattern.search(p.read_text())] == []


# --------------------------------------------------------------------------- W&B groups
def test_the_wandb_group_rule_has_one_home():
    import ipguard.app.bench as bench
    import ipguard.results.wandb_runs as wandb_runs

    assert run_group("digits", "fig6") == "digits-fig6"
    assert run_group("digits", "zoo") == zoo_group("digits") == "zoo-digits"
    assert bench.run_group is run_group and wandb_runs.run_group is run_group
    for name, preset in experiments().items():   # the presets pin the same group
        sweep, dataset = next((s, name[len(s) + 1:]) for s in sorted(
            (p.stem for p in SWEEPS_DIR.glob("*.yaml")), key=len, reverse=True)
            if name.startswith(f"{s}_"))
        assert preset["logger"]["group"] == run_group(dataset, sweep), name


def test_no_other_module_or_config_spells_a_group_name():
    """The rule's two spellings ("zoo-<dataset>", "<dataset>-<sweep>") appear in tracking.py
    only: no f-string elsewhere builds a name starting "zoo-", and no config interpolates a
    group."""
    home = REPO / "ipguard" / "results" / "tracking.py"
    spelled = re.compile(r"""f["']zoo-\{""")
    offenders = [str(p.relative_to(REPO)) for pkg in ("ipguard", "train")
                 for p in sorted((REPO / pkg).rglob("*.py"))
                 if p != home and spelled.search(p.read_text())]
    assert offenders == []
    assert spelled.search(home.read_text())   # the pattern does find the rule where it lives
    group = re.compile(r"^\s*group:\s*.*\$\{", re.MULTILINE)
    assert [str(p) for p in CONF_DIR.rglob("*.yaml") if group.search(p.read_text())] == []
