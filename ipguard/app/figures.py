"""Entry point: rebuild the paper's Section 5 figures and tables from the results.

    python -m ipguard.figures dataset=digits                    # from the local results store
    python -m ipguard.figures dataset=digits source=wandb       # from W&B runs (public API)
    python -m ipguard.figures 'datasets=[cifar10,cifar100,imagenet]'   # a panel per dataset

Loads the records once, then writes each artifact of ``ipguard.paper.ARTIFACTS`` under the
Hydra output directory (or ``out_dir``): figures as PNG and PDF, tables as Markdown, LaTeX and
CSV, and ``README.md`` listing them with every warning; the same go to one W&B run. A sweep
point that is missing from the results is named in a warning, never silently dropped."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import hydra
from omegaconf import DictConfig

from ipguard.app.cli import entry, task
from ipguard.app.config import CONF_DIR, SWEEPS_DIR, plain, typed
from ipguard.app.schema import FiguresConfig, Source
from ipguard.app.sweeps import sweep_grid
from ipguard.data import dataset_title
from ipguard.paper import ARTIFACTS, Inputs, sweeps_needed
from ipguard.paper.base import FigureOut, Results
from ipguard.paper.tables import Table
from ipguard.results.record import Record
from ipguard.results.store import load_local
from ipguard.results.tracking import Tracker
from ipguard.results.wandb_runs import load_wandb_api
from ipguard.utils.errors import IPGuardError
from ipguard.utils.io import atomic_write
from ipguard.zoo import Zoo, load_zoo

log = logging.getLogger(__name__)


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


def build_figures(cfg: DictConfig | FiguresConfig) -> FiguresReport:
    """Load the records of every sweep the artifacts read, for every dataset, and write each
    artifact, the index and the W&B run."""
    settings = cfg if isinstance(cfg, FiguresConfig) else typed(cfg, FiguresConfig)
    out = Path(settings.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = FiguresReport(out)
    sweeps = sweeps_needed(settings.figures, settings.tables)
    results = Results.of_records({ds: load_records(settings, ds, sweeps, out)
                                  for ds in settings.datasets})
    for ds in results.datasets:
        if not any(results.by_sweep[ds].values()):
            report.warn(f"no results for {ds} in {_where(settings, ds)} (sweeps {sweeps}): run "
                        f"the sweeps first, e.g. `python -m ipguard.bench -m sweep=fig6 "
                        f"dataset={ds}` (sweeps/README.md)")
    zoos, errors = load_zoos(settings.zoo_dir, settings.datasets)
    grids = {spec.sweep: grid for spec in settings.figures.values()
             if (grid := sweep_grid(SWEEPS_DIR / f"{spec.sweep}.yaml")) is not None}
    inputs = Inputs(results, figures=settings.figures, tables=settings.tables,
                    grid=settings.grid, selection=settings.suspects, zoos=zoos,
                    zoo_errors=errors, intervals=settings.intervals, sweep_grids=grids)
    for artifact in ARTIFACTS:
        output = artifact.build(inputs)
        for message in output.warnings:
            report.warn(message)
        for item in output.items:
            if isinstance(item, FigureOut):
                report.files += item.draw(out / f"{item.stem}.png")
            else:
                report.tables[item.name] = item.table
                report.files += item.table.save(out, item.stem)
    _write_readme(settings, report)
    _log_to_wandb(settings, report)
    return report


def load_records(cfg: FiguresConfig, dataset: str, sweeps: Sequence[str],
                 out: Path) -> list[Record]:
    """The records of ``sweeps`` for one dataset, from the configured source."""
    if cfg.source == Source.local:
        return load_local(cfg.results_dir, dataset, sweeps)
    path = cfg.wandb_path or "/".join(p for p in (cfg.logger.entity, cfg.logger.project) if p)
    try:
        return load_wandb_api(path, dataset, sweeps, download_dir=out / "wandb-files")
    except IPGuardError:
        raise
    except Exception as exc:  # noqa: BLE001 - network, login, unknown project
        raise IPGuardError(f"cannot read W&B runs of {path!r} ({type(exc).__name__}: {exc}); "
                           "log in with `wandb login`, sync offline runs with `wandb sync`, or "
                           "use source=local") from exc


def load_zoos(zoo_dir: str, datasets: Sequence[str]) -> tuple[dict[str, Zoo], dict[str, str]]:
    """Each dataset's zoo (for Tables 1-2), and why a dataset has none."""
    zoos, errors = {}, {}
    for ds in datasets:
        try:
            zoos[ds] = load_zoo(Path(zoo_dir) / ds)
        except IPGuardError as exc:
            errors[ds] = str(exc)
    return zoos, errors


def _where(cfg: FiguresConfig, dataset: str) -> str:
    if cfg.source == Source.local:
        return str(Path(cfg.results_dir) / dataset)
    path = cfg.wandb_path or "/".join(p for p in (cfg.logger.entity, cfg.logger.project) if p)
    return f"W&B runs of {path} (public API)"


def _write_readme(cfg: FiguresConfig, report: FiguresReport) -> None:
    lines = [f"# Figures and tables: {', '.join(dataset_title(d) for d in cfg.datasets)}", "",
             f"Source: {cfg.source} ({_where(cfg, cfg.datasets[0])}).", "",
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


def _log_to_wandb(cfg: FiguresConfig, report: FiguresReport) -> None:
    """The figures and tables as one W&B run (job_type figures)."""
    lg = cfg.logger
    with Tracker(enabled=lg.enabled, project=lg.project, entity=lg.entity, mode=lg.mode,
                 dir=lg.dir, name=lg.name or f"figures-{'+'.join(cfg.datasets)}",
                 group=lg.group or "figures", job_type="figures",
                 tags=[*cfg.datasets, str(cfg.source)], config=plain(cfg),
                 init_timeout=lg.init_timeout) as tracker:
        for path in report.files:
            if path.suffix == ".png":
                tracker.image(path.stem, path)
        for name, table in report.tables.items():
            if table.data:
                columns = list(dict.fromkeys(k for row in table.data for k in row))
                tracker.table(name, columns, [[row.get(c) for c in columns]
                                              for row in table.data])
        tracker.summary({"warnings": len(report.warnings)})


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="figures")
@task
def _main(cfg: DictConfig) -> None:
    report = build_figures(cfg)
    print(f"\n{len(report.files)} files in {report.out_dir}", flush=True)
    for name in ("table4", "table8"):
        if name in report.tables:
            print("\n" + report.tables[name].to_markdown(), flush=True)
    if report.warnings:
        print(f"{len(report.warnings)} warning(s), listed in {report.out_dir / 'README.md'}",
              flush=True)


main = entry(_main)

__all__ = ["build_figures", "FiguresReport", "load_records", "main"]

if __name__ == "__main__":
    main()
