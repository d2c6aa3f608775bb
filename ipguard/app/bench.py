"""Entry point: extract a fingerprint from a zoo's target, verify every suspect, score it.

    python -m ipguard.bench dataset=digits method=ipguard init=train label=least_likely
    python -m ipguard.bench -m sweep=fig6 dataset=digits      # a paper sweep (sweeps/)

Prints the matching-rate table (grouped like the paper's Table 5, with p-values) and the ARUC
with its 95 % interval and the thresholds calibrated at FPR 1 % and 5 %, writes the
run's ``Record`` to the results store (``<results_dir>/<dataset>/<sweep>/<key>.json``; a
finished setting is skipped on rerun unless ``force=true``), plus ``results.json``,
``fingerprint.safetensors`` and ``ru_curves.png`` under the Hydra output directory; the same
numbers go to a W&B run (offline unless configured otherwise)."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from ipguard.app.best import with_best_setting
from ipguard.app.checks import check_device, check_extraction_memory, check_folder
from ipguard.app.cli import entry, task
from ipguard.app.config import CONF_DIR, plain, typed
from ipguard.app.population import owner_data, run_population
from ipguard.app.provenance import provenance
from ipguard.app.report import report
from ipguard.app.runtime import configure_threads
from ipguard.app.schema import BenchConfig
from ipguard.app.scheme_bench import run_scheme_bench
from ipguard.core.extract import extract
from ipguard.core.fingerprint import Fingerprint
from ipguard.core.methods import Method
from ipguard.core.metrics import score
from ipguard.core.verify import verify
from ipguard.paper.plots import plot_ru_curves
from ipguard.results.area import decompose
from ipguard.results.record import Extraction, Record, SuspectResult, rates
from ipguard.results.setting import Setting
from ipguard.results.store import ResultsStore, write_record
from ipguard.results.tracking import Tracker, run_group
from ipguard.results.verdicts import assess, wandb_summary
from ipguard.utils.errors import ConfigError, IPGuardError
from ipguard.utils.progress import Progress
from ipguard.utils.targets import check_loader
from ipguard.zoo import Zoo, load_zoo
from ipguard.zoo.population import PopulationSplit
from ipguard.zoo.suspects import in_paper

log = logging.getLogger(__name__)


@dataclass
class BenchResult:
    """A bench run's record, where it is stored, and whether it was already there."""

    record: Record
    path: Path
    skipped: bool = False


def run_bench(cfg: DictConfig | BenchConfig) -> BenchResult:
    """Check the config, then extract, verify every zoo member one at a time, score, and
    write/log the record; a setting already in the store is reported, not recomputed."""
    settings = cfg if isinstance(cfg, BenchConfig) else typed(cfg, BenchConfig)
    configure_threads(settings.threads)
    check_bench(settings)
    if settings.store.best_from:
        settings = with_best_setting(settings)
    method = settings.method.build()
    out_dir = Path(settings.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:  # the zoo's identity is part of the setting; an unreadable zoo fails in the W&B run
        zoo: Zoo | None = _load_zoo(settings)
    except IPGuardError:
        zoo = None
    setting = Setting(
        dataset=settings.dataset.name, method=method.name, params=method.params(),
        init=str(settings.init), label=str(settings.label), n=settings.n, seed=settings.seed,
        r=settings.metrics.r, selection=settings.suspects,
        zoo=zoo.identity() if zoo is not None else None)
    if settings.scheme is not None:  # a field scheme instead of the method (docs/schemes.md)
        return BenchResult(*run_scheme_bench(settings, zoo, out_dir))
    if settings.zoo_is_population:
        def one(zoo: Zoo, mine: Setting, folder: Path, split: PopulationSplit) -> Record:
            with _tracker(settings, mine) as tracker:
                return measure(settings, zoo, method, mine, folder, tracker, split)

        *_, (record, path, skipped) = run_population(settings, setting, out_dir, one)
        return BenchResult(record, path, skipped)
    store = ResultsStore(Path(settings.store.dir))
    if not settings.force:
        done = store.find(setting)
        if done is not None:
            return _report_skipped(done, store.path(done.key), out_dir)
    with _tracker(settings, setting) as tracker:
        record = measure(settings, zoo, method, setting, out_dir, tracker)
        path = store.write(record)
        write_record(out_dir / "results.json", record)
        log.info("results: %s", path)
    return BenchResult(record, path)


def check_bench(cfg: BenchConfig, available: int | None = None) -> None:
    """What the schema cannot check, before any data, model, zoo or W&B run: the method and
    loader are allowed and their arguments fit, the device exists, folders can be written,
    extraction fits in memory."""
    cfg.method.build()
    check_loader(cfg.dataset.loader)
    check_device(cfg.device)
    check_folder("zoo_dir", cfg.zoo_dir, writable=False)
    check_folder("store.dir", cfg.store.dir)
    check_folder("paths.output_dir", cfg.paths.output_dir)
    check_extraction_memory(cfg.n, cfg.dataset, str(cfg.init), available)


def _load_zoo(cfg: BenchConfig) -> Zoo:
    return load_zoo(cfg.zoo_dir, build_command=f"python -m train.zoo dataset={cfg.dataset.name}")


def measure(cfg: BenchConfig, zoo: Zoo | None, method: Method, setting: Setting, out_dir: Path,
            tracker: Tracker, population: PopulationSplit | None = None) -> Record:
    """Extract, verify every suspect (one at a time: memory stays flat as the zoo grows),
    score on the headline selection and on every admitted positive, print, plot, log.
    With a ``population``'s split, init=train draws its points from the owner's part of the
    training set, split as the population was (and from the same loader's training set)."""
    if zoo is None:
        zoo = _load_zoo(cfg)  # raises the one-line error, now recorded in the W&B run
        setting = dataclasses.replace(setting, zoo=zoo.identity())
    data = owner_data(cfg, population)
    train_x = data.train_tensors()[0] if setting.init == "train" else None
    target = zoo.target
    fingerprint = extract(
        target.load_module(), method, init=setting.init, label=setting.label, n=setting.n,
        seed=setting.seed, train_x=train_x, input_shape=tuple(data.input_shape),
        device=cfg.device, target_id=target.name)
    fp_path = fingerprint.save(out_dir / "fingerprint.safetensors")
    meta = fingerprint.meta
    log.info("extracted %d points with %s in %.2fs (success %.2f, mean L2 %.3f)", setting.n,
             setting.method_label, meta.seconds, meta.success_rate, meta.mean_l2)

    effectiveness = verify(fingerprint, target.load_classifier(cfg.device)).matching_rate
    suspects: list[SuspectResult] = []
    members = list(zoo.suspects())
    with Progress(f"verify {setting.method_label}", total=len(members),
                  unit="suspect") as progress:
        verify_start = time.perf_counter()
        for member in members:
            checked = verify(fingerprint, member.load_classifier(cfg.device))
            suspects.append(SuspectResult(
                name=member.name, role=member.role, kind=member.kind, arch=member.arch,
                seed=member.seed, matching_rate=checked.matching_rate,
                test_accuracy=member.test_accuracy, hyper=member.hyper,
                in_default_selection=setting.selection.admits(member.kind, member.hyper),
                matches=checked.matches))
            progress.update(1, last=member.name)
        verify_seconds = time.perf_counter() - verify_start

    negatives = rates(suspects, "negative", headline_only=True)
    admitted = [s.matching_rate for s in suspects if s.role == "positive" and in_paper(s.kind)]
    headline = rates(suspects, "positive", headline_only=True)
    if not headline or not negatives:
        raise ConfigError("zoo_dir", str(cfg.zoo_dir),
                          "the zoo needs at least one positive and one negative suspect")
    record = assess(Record(  # + p-values, calibrated thresholds, intervals (docs/verdicts.md)
        setting=setting,
        headline=score(headline, negatives, r=setting.r),
        all_admitted=score(admitted, negatives, r=setting.r),
        effectiveness=effectiveness,
        suspects=suspects,
        extraction=_extraction(fingerprint, cfg.device),
        verify_seconds=verify_seconds,
        provenance=provenance(cfg, out_dir, fp_path.name, tracker),
    ))
    print(f"\n{report(record)}\n", flush=True)
    head = record.headline
    plot_path = plot_ru_curves(head.tau, head.robustness, head.uniqueness, head.aruc,
                               out_dir / "ru_curves.png",
                               title=f"{setting.method_label} on {setting.dataset}")
    _log_to_wandb(tracker, cfg, record, plot_path, fp_path)
    return record


def _extraction(fingerprint: Fingerprint, device: str) -> Extraction:
    meta = fingerprint.meta
    return Extraction(seconds=meta.seconds, success_rate=meta.success_rate,
                      mean_l2=meta.mean_l2, mean_iterations=meta.mean_iterations,
                      device=device,
                      points={k: v.tolist() for k, v in fingerprint.stats.items()})


def _report_skipped(record: Record, path: Path, out_dir: Path) -> BenchResult:
    """A finished sweep point: show its stored numbers instead of recomputing them."""
    print(f"\n{report(record)}\n\nalready done: {path} (force=true recomputes it)\n",
          flush=True)
    write_record(out_dir / "results.json", record)
    log.info("skipped %s: its record exists (%s); force=true recomputes it", record.key, path)
    return BenchResult(record, path, skipped=True)


def _tracker(cfg: BenchConfig, setting: Setting) -> Tracker:
    """One W&B run per job: grouped by sweep and dataset, tagged dataset/method/combo, with
    the resolved config plus ``ipguard`` (the setting, its key, the swept parameter) for
    dashboards; finished with a failure code if the job raises."""
    lg = cfg.logger
    key = setting.key()
    config = plain(cfg)
    config["ipguard"] = {
        "dataset": setting.dataset, "sweep": cfg.store.sweep, "key": key,
        "method": setting.method, "method_label": setting.method_label,
        "combo": setting.combo, "param": setting.swept, "value": setting.value,
        "params": setting.params, "setting": setting.to_json()}
    return Tracker(
        enabled=lg.enabled, project=lg.project, entity=lg.entity, mode=str(lg.mode),
        dir=lg.dir, name=lg.name or f"{setting.dataset}-{key}",
        group=lg.group or run_group(setting.dataset, cfg.store.sweep), job_type="bench",
        tags=[setting.dataset, setting.method, setting.combo.lstrip("-"), cfg.store.sweep],
        config=config, init_timeout=lg.init_timeout,
    )


def _log_to_wandb(tracker: Tracker, cfg: BenchConfig, record: Record, plot_path: Path,
                  fp_path: Path) -> None:
    ex = record.extraction
    area = decompose(record.suspects)
    tracker.summary({
        "mean_rate_positives": area.positives, "mean_rate_negatives": area.negatives,
        "mean_rate_difference": area.difference,
        **{f"mean_rate_{kind}": rate for kind, rate in area.families.items()},
        "aruc": record.aruc, "auc": record.auc, "gap": record.gap,
        "aruc_all_within_budget": record.all_admitted.aruc if record.all_admitted else None,
        "effectiveness": record.effectiveness, "extraction_seconds": ex.seconds,
        "verify_seconds": record.verify_seconds, "success_rate": ex.success_rate,
        "mean_l2": ex.mean_l2, "mean_iterations": ex.mean_iterations,
        **(wandb_summary(record.verdicts) if record.verdicts is not None else {}),
        **_beyond_summary(record),
    })
    columns = ["name", "role", "kind", "arch", "seed", "matching_rate", "test_accuracy",
               "in_default_selection", "hyper", "p_value", "p_value_empirical", "matches"]
    tracker.table("matching_rates", columns, [
        [s.name, s.role, s.kind, s.arch, s.seed, s.matching_rate, s.test_accuracy,
         s.in_default_selection, json.dumps(s.hyper, sort_keys=True), s.p_value,
         s.p_value_empirical, s.matches]
        for s in record.suspects])
    tracker.image("ru_curves", plot_path)
    if cfg.logger.log_fingerprint:
        tracker.artifact(fp_path, name=f"fingerprint-{record.setting.dataset}-{record.key}",
                         type="fingerprint")


def _beyond_summary(record: Record) -> dict[str, Any]:
    """With stealing suspects or harder negatives in the zoo (docs/stealing.md): the ARUC with
    them added and the shares caught / accused at the calibrated thresholds."""
    if all(in_paper(s.kind) for s in record.suspects):
        return {}
    from ipguard.paper.stealing_table import scores

    return {f"stealing/{k}": v for k, v in scores(record).items()}


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="bench")
@task
def _main(cfg: DictConfig) -> float:
    return run_bench(cfg).record.aruc


main = entry(_main)

if __name__ == "__main__":
    main()
