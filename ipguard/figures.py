"""Entry point: rebuild the paper's Section 5 figures and tables from the results.

    python -m ipguard.figures dataset=digits                    # from the local results store
    python -m ipguard.figures dataset=digits source=wandb       # from W&B runs (public API)
    python -m ipguard.figures dataset=digits source=wandb_offline wandb_dir=multirun
    python -m ipguard.figures 'datasets=[cifar10,cifar100,imagenet]'   # a panel per dataset

Writes, under the Hydra output directory (or ``out_dir``): Figure 2-style R/U curves
(``fig2-<dataset>``), Figures 3-6 (``fig3`` .. ``fig6``: ARUC against eps or k, one line per
combo, one panel per dataset) as PNG and PDF; Tables 1, 2, 4, 5-7 (``table5-7-<dataset>``) and 8
as Markdown, LaTeX and CSV; and ``README.md`` listing them with every warning. A sweep point
that is missing from the results is named in a warning, never silently dropped."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from ipguard.config import register_resolvers
from ipguard.errors import ConfigError, IPGuardError, friendly_errors
from ipguard.io import atomic_write
from ipguard.plots import (
    MATH_NAMES,
    RUPanel,
    SweepLine,
    SweepPanel,
    plot_aruc_sweep,
    plot_ru_panels,
)
from ipguard.report import suspect_label
from ipguard.results import (
    SuspectResult,
    dataset_name,
    method_name,
    method_sort_key,
)
from ipguard.store import (
    Point,
    best_point,
    format_value,
    group_points,
    load_local,
    load_wandb_api,
    load_wandb_offline,
)
from ipguard.tables import Table, fmt, fmt_range, latex, merge_rows
from ipguard.tracking import Tracker
from ipguard.zoo import Member, load_zoo

log = logging.getLogger(__name__)
register_resolvers()
if not OmegaConf.has_resolver("ipguard.join"):
    OmegaConf.register_new_resolver("ipguard.join", lambda items: "+".join(map(str, items)))

CONF = Path(__file__).resolve().parents[1] / "conf"
SOURCES = ("local", "wandb", "wandb_offline")
COMBOS = ("-TR", "-TL", "-RR", "-RL")
COMBO_OF = {("train", "random"): "-TR", ("train", "least_likely"): "-TL",
            ("random", "random"): "-RR", ("random", "least_likely"): "-RL"}
FAMILY_GROUPS = {"same_arch": "Same architecture", "forest": "Random forest"}


@dataclass
class FiguresReport:
    """What was written, and every warning (missing points, missing zoo, missing sweeps)."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)

    def warn(self, message: str) -> None:
        log.warning(message)
        self.warnings.append(message)


@dataclass
class FigureSpec:
    """A parameter figure: which sweep, which method, the paper's figure number."""

    name: str
    title: str
    sweep: str
    method: str


def build_figures(cfg: DictConfig) -> FiguresReport:
    """Load the records of every sweep the outputs need, for every dataset, and write them."""
    datasets = [str(d) for d in cfg.datasets]
    if not datasets:
        raise ConfigError("datasets", [], "name at least one dataset, e.g. dataset=digits")
    if cfg.source not in SOURCES:
        raise ConfigError("source", cfg.source, f"choose one of {list(SOURCES)}")
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = FiguresReport(out)
    specs = [FigureSpec(name, str(s.title), str(s.sweep), str(s.method))
             for name, s in cfg.figures.items()]
    sweeps = sorted({s.sweep for s in specs} | set(cfg.tables.best_from)
                    | {str(cfg.tables.matching_rates_sweep), str(cfg.tables.seconds_sweep)})
    records = {ds: _by_sweep(load_records(cfg, ds, sweeps, out)) for ds in datasets}
    for ds in datasets:
        if not any(records[ds].values()):
            report.warn(f"no results for {ds} in {_where(cfg, ds)} (sweeps {sweeps}): run the "
                        f"sweeps first, e.g. `python -m ipguard.bench -m +sweep=fig6 "
                        f"dataset={ds}` (sweeps/README.md)")

    for spec in specs:
        _parameter_figure(cfg, spec, datasets, records, report)
    for ds in datasets:
        _figure2(cfg, ds, records[ds], report)
    best = _table4(cfg, datasets, records, report)
    for ds in datasets:
        _matching_rates_table(cfg, ds, records[ds], best[ds], report)
    _table8(cfg, datasets, records, best, report)
    _zoo_tables(cfg, datasets, report)
    _write_readme(cfg, datasets, report)
    _log_to_wandb(cfg, datasets, report)
    return report


# --------------------------------------------------------------------------- loading
def load_records(cfg: DictConfig, dataset: str, sweeps: Sequence[str], out: Path) -> list[dict]:
    """The records of ``sweeps`` for one dataset, from the configured source."""
    if cfg.source == "local":
        return load_local(cfg.results_dir, dataset, sweeps)
    if cfg.source == "wandb_offline":
        if not Path(cfg.wandb_dir).is_dir():
            raise ConfigError("wandb_dir", cfg.wandb_dir, "a folder holding offline W&B runs "
                              "(the multirun folders of the sweeps)")
        return load_wandb_offline(cfg.wandb_dir, dataset, sweeps)
    path = cfg.wandb_path or "/".join(p for p in (cfg.logger.entity, cfg.logger.project) if p)
    try:
        return load_wandb_api(path, dataset, sweeps, download_dir=out / "wandb-files")
    except IPGuardError:
        raise
    except Exception as exc:  # noqa: BLE001 - network, login, unknown project
        raise IPGuardError(f"cannot read W&B runs of {path!r} ({type(exc).__name__}: {exc}); "
                           "log in with `wandb login`, sync offline runs with `wandb sync`, or "
                           "use source=local") from exc


def _by_sweep(records: Sequence[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for record in records:
        out.setdefault(str(record.get("sweep")), []).append(record)
    return out


def _where(cfg: DictConfig, dataset: str) -> str:
    if cfg.source == "local":
        return str(Path(cfg.results_dir) / dataset)
    return str(cfg.wandb_dir) if cfg.source == "wandb_offline" else f"W&B ({cfg.source})"


# --------------------------------------------------------------------------- Figures 3-6
def expected_grid(sweep: str, param: str | None) -> tuple[list[Any], list[str], list[int]]:
    """The values, combos and seeds the sweep file ``conf/sweep/<sweep>.yaml`` asks for
    (empty lists for what it does not sweep or when there is no such file)."""
    file = CONF / "sweep" / f"{sweep}.yaml"
    if not file.is_file():
        return [], [], []
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = OmegaConf.load(file).get("hydra", {}).get("sweeper", {}).get("params", {}) or {}
    parser = OverridesParser.create()

    def values(key: str) -> list[Any]:
        if key not in params:
            return []
        override = parser.parse_override(f"{key}={params[key]}")
        if override.is_sweep_override():
            return list(override.sweep_iterator())
        return [override.value()]

    inits, labels = values("init"), values("label")
    combos = [COMBO_OF[(i, j)] for i in inits for j in labels if (i, j) in COMBO_OF]
    return (values(f"method.{param}") if param else []), combos, values("seed")


def _parameter_figure(cfg: DictConfig, spec: FigureSpec, datasets: Sequence[str],
                      records: Mapping[str, Mapping[str, list[dict]]],
                      report: FiguresReport) -> None:
    panels, shown, param = [], [], None
    for ds in datasets:
        pool = [r for r in records[ds].get(spec.sweep, []) if r.get("method") == spec.method]
        if not pool:
            report.warn(f"{spec.title}: no {method_name(spec.method)} results for {ds} in "
                        f"sweep {spec.sweep}: run `python -m ipguard.bench -m "
                        f"+sweep={spec.sweep} dataset={ds}`")
            continue
        points = group_points(pool)
        param = param or points[0].param
        missing = _warn_missing(cfg, spec, ds, points, report)
        lines = []
        for combo in COMBOS:
            mine = sorted((p for p in points if p.combo == combo), key=lambda p: p.value)
            if mine:
                lines.append(SweepLine(
                    combo, [float(p.value) for p in mine], [p.aruc for p in mine],
                    [min(float(r["aruc"]) for r in p.records) for p in mine],
                    [max(float(r["aruc"]) for r in p.records) for p in mine]))
        note = f"incomplete: {missing} point{'s' * (missing > 1)} missing" if missing else ""
        panels.append(SweepPanel(dataset_name(ds), lines, note))
        shown.append(ds)
    if not panels or param is None:
        return
    title = f"{spec.title}: impact of {_param_words(param)} on ARUC for " \
            f"{MATH_NAMES.get(method_name(spec.method), method_name(spec.method))}"
    report.files += plot_aruc_sweep(panels, method_name(spec.method), param,
                                    report.out_dir / f"{spec.name}.png", suptitle=title)
    rows, data = [], []
    for panel, ds in zip(panels, shown, strict=True):
        for line in panel.lines:
            for x, y, lo, hi in zip(line.x, line.y, line.lo, line.hi, strict=True):
                rows.append([panel.title, f"{method_name(spec.method)}{line.combo}",
                             format_value(x), fmt(y)])
                data.append({"dataset": ds, "method": spec.method, "combo": line.combo,
                             "param": param, "value": x, "aruc": y, "aruc_min": lo,
                             "aruc_max": hi})
    table = Table(f"{spec.title}: ARUC against {param} ({method_name(spec.method)})",
                  ["Dataset", "Method", param, "ARUC"], rows, data)
    report.tables[spec.name] = table
    report.files += table.save(report.out_dir, f"{spec.name}-data")


def _warn_missing(cfg: DictConfig, spec: FigureSpec, dataset: str, points: Sequence[Point],
                  report: FiguresReport) -> int:
    """Name every (combo, value, seed) of the grid that has no record: the grid is the sweep
    file's (when ``grid=sweep``) joined with every value, combo and seed seen in the records."""
    param = points[0].param
    seen = {(p.combo, format_value(p.value), int(r.get("seed") or 0))
            for p in points for r in p.records}
    values = {format_value(p.value) for p in points}
    combos = {p.combo for p in points}
    seeds = {s for _, _, s in seen}
    if cfg.grid == "sweep":
        file_values, file_combos, file_seeds = expected_grid(spec.sweep, param)
        values |= {format_value(v) for v in file_values}
        combos |= set(file_combos)
        seeds |= {int(s) for s in file_seeds}
    missing = sorted(set(itertools.product(combos, values, seeds)) - seen,
                     key=lambda t: (COMBOS.index(t[0]) if t[0] in COMBOS else 9, float(t[1])
                                    if _is_number(t[1]) else 0.0, t[2]))
    if missing:
        parts = []
        for combo in sorted({c for c, _, _ in missing}, key=_combo_order):
            mine = [(v, s) for c, v, s in missing if c == combo]
            shown = ", ".join(v + (f" (seed {s})" if len(seeds) > 1 else "") for v, s in mine)
            parts.append(f"{method_name(spec.method)}{combo} {param}={shown}")
        report.warn(f"{spec.title} on {dataset}: {len(missing)} sweep point(s) missing, drawn "
                    f"without them: {'; '.join(parts)}. Rerun `python -m ipguard.bench -m "
                    f"+sweep={spec.sweep} dataset={dataset}` (finished points are skipped)")
    return len(missing)


def _combo_order(combo: str) -> tuple[int, str]:
    return (COMBOS.index(combo) if combo in COMBOS else len(COMBOS), combo)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _param_words(param: str) -> str:
    return {"eps": r"$\epsilon$", "k": r"$k$"}.get(param, param)


# --------------------------------------------------------------------------- Figure 2
def _figure2(cfg: DictConfig, dataset: str, records: Mapping[str, list[dict]],
             report: FiguresReport) -> None:
    """R/U curves of each method at its best setting, ARUC shaded (Figure 2's three cases,
    measured: good, mediocre and bad fingerprints side by side)."""
    pool = [r for s in cfg.tables.best_from for r in records.get(str(s), [])]
    panels = []
    for method in sorted({r["method"] for r in pool}, key=method_sort_key):
        best = best_point(pool, method=method)
        record = best.first if best else None
        curves = (record or {}).get("metrics", {}).get("default")
        if not curves:
            continue
        panels.append(RUPanel(f"{_setting(best)}", curves["tau"], curves["robustness"],
                              curves["uniqueness"], float(record["aruc"])))
    if panels:
        report.files += plot_ru_panels(
            panels, report.out_dir / f"fig2-{dataset}.png",
            suptitle=f"{dataset_name(dataset)}: best setting per method" if len(panels) > 1
            else "")


def _setting(point: Point | None, mathtext: bool = True) -> str:
    """'IPGuard-TL, k=3' (the method's paper name, its combo and its swept parameter)."""
    if point is None:
        return "–"
    name = method_name(point.method)
    if mathtext and name == "CW-L2":
        name = r"CW-$L_2$"
    text = f"{name}{point.combo}"
    if point.param is not None:
        param = r"$\epsilon$" if mathtext and point.param == "eps" else point.param
        text += f", {param}={format_value(point.value)}"
    return text


# --------------------------------------------------------------------------- Table 4
def _table4(cfg: DictConfig, datasets: Sequence[str],
            records: Mapping[str, Mapping[str, list[dict]]],
            report: FiguresReport) -> dict[str, dict[str, Point]]:
    """The best ARUC of each method on each dataset, over its parameter and the combos."""
    best: dict[str, dict[str, Point]] = {}
    for ds in datasets:
        pool = [r for s in cfg.tables.best_from for r in records[ds].get(str(s), [])]
        best[ds] = {}
        for method in {r["method"] for r in pool}:
            point = best_point(pool, method=method)
            if point is not None:
                best[ds][method] = point
    methods = sorted({m for ds in datasets for m in best[ds]}, key=method_sort_key)
    if not methods:
        return best
    header = ["Method", *(dataset_name(ds) for ds in datasets)]
    rows, data = [], []
    for method in methods:
        row = [method_name(method)]
        for ds in datasets:
            point = best[ds].get(method)
            if point is None:
                row.append("–")
                continue
            setting = point.combo.lstrip("-")
            if point.param is not None:
                setting += f", {point.param}={format_value(point.value)}"
            row.append(f"{fmt(point.aruc)} ({setting})")
            data.append({"dataset": ds, "method": method, "aruc": point.aruc,
                         "auc": point.mean("auc"), "gap": point.mean("gap"),
                         "combo": point.combo, "param": point.param, "value": point.value,
                         "seeds": len(point.records), "key": point.first.get("key"),
                         "sweep": point.first.get("sweep")})
        rows.append(row)
    table = Table("Table 4: ARUCs of the compared methods (best setting in parentheses)",
                  header, rows, data,
                  notes=[f"Best over each method's parameter grid and the four combos "
                         f"(sweeps {', '.join(map(str, cfg.tables.best_from))}); ARUC is the "
                         "mean over seeds where a setting has several."])
    report.tables["table4"] = table
    report.files += table.save(report.out_dir, "table4")
    return best


# --------------------------------------------------------------------------- Tables 5-7
def _matching_rates_table(cfg: DictConfig, dataset: str, records: Mapping[str, list[dict]],
                          best: Mapping[str, Point], report: FiguresReport) -> None:
    """Matching rates at each method's best setting: a row per positive, [min, max] per
    negative family (the paper's Tables 5-7, one per dataset)."""
    rerun = records.get(str(cfg.tables.matching_rates_sweep), [])
    chosen: dict[str, dict] = {}
    for method, point in best.items():
        mine = [r for r in rerun if r.get("method") == method]
        chosen[method] = min(mine, key=lambda r: int(r.get("seed") or 0)) if mine \
            else point.first
    if not chosen:
        return
    if not rerun:
        log.info("Tables 5-7 on %s: no %s sweep, using the best records of the parameter "
                 "sweeps", dataset, cfg.tables.matching_rates_sweep)
    methods = sorted(chosen, key=method_sort_key)
    keys: list[tuple[str, str]] = []
    cells: dict[tuple[str, ...], dict[str, str]] = {}
    data = []
    for method in methods:
        record = chosen[method]
        suspects = [SuspectResult(**_suspect_fields(s)) for s in record.get("suspects", [])]
        if not suspects:
            report.warn(f"Tables 5-7 on {dataset}: the {method_name(method)} record has no "
                        "per-suspect matching rates")
            continue
        column = method_name(method)
        for s in suspects:
            if s.role != "positive":
                continue
            key = ("Positive", suspect_label(s) + ("" if s.in_default_selection else " *"))
            if key not in keys:
                keys.append(key)
            cells.setdefault(key, {})[column] = fmt(s.matching_rate)
            data.append(_rate_row(dataset, record, "positive", key[1], s.name,
                                  [s.matching_rate]))
        for family, members in sorted(_families(suspects).items(), key=_family_order):
            key = ("Negative", family)
            if key not in keys:
                keys.append(key)
            rates = [m.matching_rate for m in members]
            cells.setdefault(key, {})[column] = fmt_range(rates)
            data.append(_rate_row(dataset, record, "negative", family,
                                  ",".join(m.name for m in members), rates))
    columns = [method_name(m) for m in methods]
    settings = "; ".join(_setting(_point_of(chosen[m]), mathtext=False) for m in methods)
    table = Table(f"Tables 5-7: matching rates of the compared methods for positive and "
                  f"negative suspect classifiers on {dataset_name(dataset)}",
                  ["Suspect", "Classifier", *columns], merge_rows(keys, cells, columns), data,
                  notes=[f"Each method at its best setting: {settings}.",
                         "Rows marked * are pruned beyond the headline selection (not in ARUC)."
                         if any(k[1].endswith("*") for k in keys) else ""])
    table.notes = [n for n in table.notes if n]
    report.tables[f"table5-7-{dataset}"] = table
    report.files += table.save(report.out_dir, f"table5-7-{dataset}")


def _point_of(record: Mapping[str, Any]) -> Point:
    return Point(str(record["method"]), str(record["combo"]), dict(record.get("params") or {}),
                 [dict(record)])


def _suspect_fields(s: Mapping[str, Any]) -> dict[str, Any]:
    keys = SuspectResult.__dataclass_fields__
    return {k: v for k, v in s.items() if k in keys}


def _families(suspects: Sequence[SuspectResult]) -> dict[str, list[SuspectResult]]:
    """Negatives by family, labelled as the paper's rows: group, architecture, count."""
    out: dict[str, list[SuspectResult]] = {}
    for s in suspects:
        if s.role == "negative":
            out.setdefault(s.kind, []).append(s)
    return {_family_label(kind, members[0].arch, len(members)): members
            for kind, members in out.items()}


def _family_order(item: tuple[str, list[SuspectResult]]) -> tuple[int, str]:
    """The paper's order: same architecture, other architectures, random forests."""
    kind = item[1][0].kind
    return (0 if kind == "same_arch" else 2 if kind == "forest" else 1, item[0])


def _family_label(kind: str, arch: str, count: int) -> str:
    if kind == "forest":
        return f"Random forest ({count})"
    group = FAMILY_GROUPS.get(kind, "Different architecture")
    return f"{group}: {arch} ({count})"


def _rate_row(dataset: str, record: Mapping[str, Any], role: str, row: str, members: str,
              rates: Sequence[float]) -> dict[str, Any]:
    return {"dataset": dataset, "method": record["method"], "combo": record["combo"],
            "param": (record.get("param") or {}).get("name"),
            "value": (record.get("param") or {}).get("value"), "key": record.get("key"),
            "role": role, "row": row, "members": members, "min": min(rates), "max": max(rates),
            "count": len(rates)}


# --------------------------------------------------------------------------- Table 8
def _table8(cfg: DictConfig, datasets: Sequence[str],
            records: Mapping[str, Mapping[str, list[dict]]],
            best: Mapping[str, Mapping[str, Point]], report: FiguresReport) -> None:
    """Seconds to extract the fingerprint, each method at its best setting: the ``table8``
    sweep's mean over seeds when it ran, else the sweep record's own timing."""
    methods = sorted({m for ds in datasets for m in best[ds]}, key=method_sort_key)
    if not methods:
        return
    rows, data, fallback = [], [], []
    for method in methods:
        row = [method_name(method)]
        for ds in datasets:
            timed = [r for r in records[ds].get(str(cfg.tables.seconds_sweep), [])
                     if r.get("method") == method]
            if not timed and method in best[ds]:
                timed = best[ds][method].records
                fallback.append(f"{method_name(method)} on {dataset_name(ds)}")
            seconds = [float(r["extraction"]["seconds"]) for r in timed
                       if r.get("extraction", {}).get("seconds") is not None]
            if not seconds:
                row.append("–")
                continue
            mean = sum(seconds) / len(seconds)
            row.append(f"{_fmt_seconds(mean)}" + (f" (±{_spread(seconds)})"
                                                    if len(seconds) > 1 else ""))
            devices = sorted({str(r.get("extraction", {}).get("device")
                                  or r.get("config", {}).get("device")) for r in timed})
            data.append({"dataset": ds, "method": method, "seconds_mean": mean,
                         "seconds_min": min(seconds), "seconds_max": max(seconds),
                         "runs": len(seconds), "n": timed[0].get("n"),
                         "device": ",".join(devices), "combo": timed[0].get("combo"),
                         "param": (timed[0].get("param") or {}).get("name"),
                         "value": (timed[0].get("param") or {}).get("value")})
        rows.append(row)
    notes = ["Seconds to find the n fingerprinting points, each method at its best setting "
             "(mean over seeds, ± half the range)."]
    if fallback:
        which = "any method" if len(fallback) == sum(len(best[ds]) for ds in datasets) \
            else ", ".join(fallback)
        notes.append(f"No {cfg.tables.seconds_sweep} sweep for {which}: timed during the "
                     "parameter sweeps (run `+sweep=table8` for quiet timings).")
    table = Table("Table 8: running time (seconds) of generating the fingerprint",
                  ["Method", *(dataset_name(ds) for ds in datasets)], rows, data, notes)
    report.tables["table8"] = table
    report.files += table.save(report.out_dir, "table8")


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:.3g}"


def _spread(values: Sequence[float]) -> str:
    return f"{(max(values) - min(values)) / 2:.2g}"


# --------------------------------------------------------------------------- Tables 1-2
def _zoo_tables(cfg: DictConfig, datasets: Sequence[str], report: FiguresReport) -> None:
    """Tables 1-2 from each zoo's member.json files: counts per role, test accuracies."""
    zoos = {}
    for ds in datasets:
        try:
            zoos[ds] = load_zoo(Path(cfg.zoo_dir) / ds)
        except IPGuardError as exc:
            report.warn(f"Tables 1-2: no zoo for {ds} ({exc})")
    if not zoos:
        return
    p_max, c_max = float(cfg.suspects.max_wp_p), float(cfg.suspects.max_fp_c)
    rows, data = [], []
    for ds, zoo in zoos.items():
        positives = [m for m in zoo.members if m.role == "positive"]
        negatives = [m for m in zoo.members if m.role == "negative"]
        headline = [m for m in positives if _in_selection(m, p_max, c_max)]
        rows.append([dataset_name(ds), zoo.target.arch, str(len(positives)),
                     str(len(headline)), str(len(negatives))])
        data.append({"dataset": ds, "target": zoo.target.arch, "positives": len(positives),
                     "positives_in_aruc": len(headline), "negatives": len(negatives),
                     "rejected": sum(m.role == "rejected" for m in zoo.members)})
    table1 = Table("Table 1: datasets, target classifiers and suspect classifiers",
                   ["Dataset", "Target classifier", "# Positive suspects", "# in ARUC",
                    "# Negative suspects"], rows, data,
                   notes=[f"Positives: every post-processed target within the 3 % rule; "
                          f"'# in ARUC': WP p <= {p_max:g} and FP c <= {c_max:g}, the "
                          "headline selection."])
    report.tables["table1"] = table1
    report.files += table1.save(report.out_dir, "table1")

    keys: list[tuple[str, str]] = []
    cells: dict[tuple[str, ...], dict[str, str]] = {}
    data2 = []
    for ds, zoo in zoos.items():
        column = dataset_name(ds)
        groups: dict[tuple[str, str], list[Member]] = {}
        for m in zoo.members:
            if m.role == "rejected":
                continue
            groups.setdefault(_accuracy_row(m), []).append(m)
        for key, members in groups.items():
            if key not in keys:
                keys.append(key)
            accs = [float(m.test_accuracy) for m in members if m.test_accuracy is not None]
            cells.setdefault(key, {})[column] = fmt_range(accs) if len(members) > 1 \
                else fmt(accs[0] if accs else None)
            data2.append({"dataset": ds, "group": key[0], "row": key[1],
                          "members": ",".join(m.name for m in members),
                          "min": min(accs) if accs else math.nan,
                          "max": max(accs) if accs else math.nan, "count": len(members)})
    order = {"Target": 0, "Positive": 1, "Negative": 2}
    keys.sort(key=lambda k: (order.get(k[0], 3), k[1].startswith("Random forest")))
    columns = [dataset_name(ds) for ds in zoos]
    table2 = Table("Table 2: testing accuracies of the target and suspect classifiers",
                   ["Classifier type", "Classifier", *columns], merge_rows(keys, cells, columns),
                   data2, notes=["A family of several classifiers shows the range of their "
                                 "accuracies; '–' means not applicable."])
    report.tables["table2"] = table2
    report.files += table2.save(report.out_dir, "table2")


def _in_selection(m: Member, p_max: float, c_max: float) -> bool:
    if m.kind == "wp":
        return float(m.hyper.get("p", 0)) <= p_max + 1e-9
    if m.kind == "fp":
        return float(m.hyper.get("c", 0)) <= c_max + 1e-9
    return True


def _accuracy_row(m: Member) -> tuple[str, str]:
    if m.role == "target":
        return ("Target", m.arch)
    if m.role == "positive":
        fields = {k: m.hyper.get(k) for k in ("p", "c") if k in m.hyper}
        return ("Positive", suspect_label(SuspectResult(
            name=m.name, role=m.role, kind=m.kind, arch=m.arch, seed=m.seed,
            matching_rate=0.0, hyper=fields)))
    if m.kind == "forest":
        return ("Negative", "Random forest")
    return ("Negative", f"{FAMILY_GROUPS.get(m.kind, 'Different architecture')}: {m.arch}")


# --------------------------------------------------------------------------- index, W&B
def _write_readme(cfg: DictConfig, datasets: Sequence[str], report: FiguresReport) -> None:
    lines = [f"# Figures and tables: {', '.join(dataset_name(d) for d in datasets)}", "",
             f"Source: {cfg.source} ({_where(cfg, datasets[0])}).", "",
             "## Files", ""]
    lines += [f"- {p.name}" for p in report.files]
    lines += ["", "## Warnings", ""]
    lines += [f"- {w}" for w in report.warnings] or ["- none"]
    for name in ("table4", "table8"):
        if name in report.tables:
            lines += ["", report.tables[name].to_markdown()]
    text = "\n".join(lines) + "\n"
    report.files.append(atomic_write(report.out_dir / "README.md",
                                     lambda tmp: tmp.write_text(text)))


def _log_to_wandb(cfg: DictConfig, datasets: Sequence[str], report: FiguresReport) -> None:
    """The figures and tables as one W&B run (job_type figures)."""
    lg = cfg.logger
    with Tracker(enabled=lg.enabled, project=lg.project, entity=lg.entity, mode=lg.mode,
                 dir=lg.dir, name=lg.name or f"figures-{'+'.join(datasets)}",
                 group=lg.group or "figures", job_type="figures",
                 tags=[*datasets, str(cfg.source)],
                 config=OmegaConf.to_container(cfg, resolve=True)) as tracker:
        for path in report.files:
            if path.suffix == ".png":
                tracker.image(path.stem, path)
        for name, table in report.tables.items():
            if table.data:
                columns = list(dict.fromkeys(k for row in table.data for k in row))
                tracker.table(name, columns, [[row.get(c) for c in columns]
                                              for row in table.data])
        tracker.summary({"warnings": len(report.warnings)})


@hydra.main(version_base="1.3", config_path="../conf", config_name="figures")
@friendly_errors
def main(cfg: DictConfig) -> None:
    report = build_figures(cfg)
    print(f"\n{len(report.files)} files in {report.out_dir}", flush=True)
    for name in ("table4", "table8"):
        if name in report.tables:
            print("\n" + report.tables[name].to_markdown(), flush=True)
    if report.warnings:
        print(f"{len(report.warnings)} warning(s), listed in {report.out_dir / 'README.md'}",
              flush=True)


__all__ = ["build_figures", "FiguresReport", "expected_grid", "latex"]

if __name__ == "__main__":
    main()
