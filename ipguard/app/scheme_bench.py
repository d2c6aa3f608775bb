"""The bench for a field scheme (``python -m ipguard.bench scheme=<name>``, docs/schemes.md):
generate one fingerprint from the zoo's target with the owner's training data (and, for CAE,
the owner's auxiliary models from the zoo's ``auxiliary/`` folder), score every suspect
through a :class:`~ipguard.core.schemes.SuspectAPI` that exposes only the access the scheme
declares, and write the run as the methods' runs are written: a ``Record`` in the results
store (``matching_rate`` holds the scheme's score; ``Record.scheme`` says what the score is,
the queries one verification sends; ``extraction.seconds`` the generation time), the same
W&B run, ``results.json`` and ``fingerprint.safetensors`` in the output folder. On a
population (``zoo_is_population=true``, sweeps/schemes-population.yaml) the same runs once per
target, as the method bench does there (ipguard.app.population): generated from that
target's owner's part of the training set, with that target's own auxiliary models, one record
per target with each suspect's part (validation or test).

Kept apart from ``ipguard.app.bench`` (which only dispatches here), because what a record
may say depends on the score: a suspect a probability scheme cannot query (a label-only
random forest) gets no score, recorded as "needs probabilities"; only a score that is a rate
gets the ARUC, the ROC curves and the verdicts (null model, calibrated thresholds), whose
thresholds tau = t/r read a score as a fraction of agreeing answers. Every score gets the
ROC-AUC and the TPR at a 1 % FPR threshold on its own scale (``ipguard.paper.schemes_table``)."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from pathlib import Path

from ipguard.app.config import plain
from ipguard.app.population import owner_data, run_population
from ipguard.app.provenance import provenance
from ipguard.app.schema import BenchConfig
from ipguard.core.metrics import PAPER_R, Scores, score
from ipguard.core.roc import roc_auc
from ipguard.core.schemes import Auxiliary, NeedsProbabilities, SchemeBase, SuspectAPI
from ipguard.paper.plots import plot_ru_curves
from ipguard.paper.schemes_table import HEADER, families, operating, scheme_rows
from ipguard.paper.tables import Table
from ipguard.results.record import Extraction, Record, SchemeRun, SuspectResult
from ipguard.results.setting import Setting
from ipguard.results.store import ResultsStore, write_record
from ipguard.results.tracking import Tracker, run_group
from ipguard.results.verdicts import assess, wandb_summary
from ipguard.utils.errors import ConfigError, MissingZooError
from ipguard.utils.progress import Progress
from ipguard.zoo import Zoo, load_zoo
from ipguard.zoo.population import PopulationSplit
from ipguard.zoo.suspects import in_paper

log = logging.getLogger(__name__)
NEEDS_PROBABILITIES = "needs probabilities"


def run_scheme_bench(cfg: BenchConfig, zoo: Zoo | None, out_dir: Path
                     ) -> tuple[Record, Path, bool]:
    """Run ``cfg.scheme`` on the zoo (loaded again when ``zoo`` is None, to raise its error);
    a setting already in the store is reported, not recomputed. Returns the record, where it
    is stored and whether it was skipped."""
    if cfg.scheme is None:
        raise ConfigError("scheme", None, "name a scheme: scheme=<name> (conf/scheme/)")
    scheme = cfg.scheme.build()
    setting = Setting(
        dataset=cfg.dataset.name, method=scheme.name, params=scheme.params(),
        init=str(cfg.init), label=str(cfg.label), n=int(getattr(scheme, "n", cfg.n)),
        seed=cfg.seed, r=cfg.metrics.r, selection=cfg.suspects)
    if cfg.zoo_is_population:
        build = f"python -m train.zoo dataset={cfg.dataset.name} population=<name>"

        def one(zoo: Zoo, mine: Setting, folder: Path, split: PopulationSplit) -> Record:
            aux = auxiliary(zoo, scheme, cfg.device, build)
            with scheme_tracker(cfg, mine) as tracker:
                return measure_scheme(cfg, zoo, scheme, aux, mine, folder, tracker, split)

        *_, last = run_population(cfg, setting, out_dir, one, scheme.needs_auxiliary)
        return last
    build = f"python -m train.zoo dataset={cfg.dataset.name}"
    zoo = zoo if zoo is not None else load_zoo(cfg.zoo_dir, build_command=build)
    aux = auxiliary(zoo, scheme, cfg.device, build)
    setting = dataclasses.replace(setting, zoo=zoo.identity(auxiliary=scheme.needs_auxiliary))
    store = ResultsStore(Path(cfg.store.dir))
    done = None if cfg.force else store.find(setting)
    if done is not None:
        path = store.path(done.key)
        print(f"\n{scheme_report(done)}\nalready done: {path} (force=true recomputes it)\n",
              flush=True)
        write_record(out_dir / "results.json", done)
        return done, path, True
    with scheme_tracker(cfg, setting) as tracker:
        record = measure_scheme(cfg, zoo, scheme, aux, setting, out_dir, tracker)
        path = store.write(record)
        write_record(out_dir / "results.json", record)
        log.info("results: %s", path)
    return record, path, False


def auxiliary(zoo: Zoo, scheme: SchemeBase, device: str, build: str) -> Auxiliary | None:
    """The owner's surrogates and references (the zoo's ``auxiliary/`` members) for a scheme
    that needs them, on ``device``; None for any other scheme."""
    if not scheme.needs_auxiliary:
        return None
    surrogates, references = zoo.auxiliary("surrogate"), zoo.auxiliary("reference")
    if not surrogates or not references:
        raise MissingZooError(f"{scheme.title()} needs the owner's auxiliary models, but "
                              f"{zoo.root / 'auxiliary'} holds {len(surrogates)} surrogates and "
                              f"{len(references)} references: build them with `{build} "
                              "member=auxiliary`")
    return Auxiliary([m.load_module().to(device) for m in surrogates],
                     [m.load_module().to(device) for m in references])


def measure_scheme(cfg: BenchConfig, zoo: Zoo, scheme: SchemeBase, aux: Auxiliary | None,
                   setting: Setting, out_dir: Path, tracker: Tracker,
                   population: PopulationSplit | None = None) -> Record:
    """Generate once from the owner's data (on a ``population``, its owner's part of the
    training set), score every suspect (one at a time), record, print, log."""
    owner_x, owner_y = owner_data(cfg, population).train_tensors()
    target = zoo.target.load_module().to(cfg.device)
    fp = scheme.generate(target, owner_x, owner_y, aux=aux, seed=setting.seed)
    fp_path = fp.save(out_dir / "fingerprint.safetensors")
    log.info("generated %s in %.2fs: %d queries per verification", scheme.title(), fp.seconds,
             fp.queries)
    effectiveness = scheme.score(fp, SuspectAPI(target, name="the target")).value
    members = list(zoo.suspects())
    suspects: list[SuspectResult] = []
    with Progress(f"score {scheme.title()}", total=len(members), unit="suspect") as progress:
        start = time.perf_counter()
        for member in members:
            api = SuspectAPI(member.load_classifier(cfg.device), name=member.name)
            try:
                found = scheme.score(fp, api)
                value, sent, why = found.value, found.queries, None
            except NeedsProbabilities:
                value, sent, why = math.nan, api.queries, NEEDS_PROBABILITIES
            suspects.append(SuspectResult(
                name=member.name, role=member.role, kind=member.kind, arch=member.arch,
                seed=member.seed, matching_rate=value, test_accuracy=member.test_accuracy,
                hyper=member.hyper,
                in_default_selection=setting.selection.admits(member.kind, member.hyper),
                verify_queries=sent, not_applicable=why))
            progress.update(1, last=member.name)
        seconds = time.perf_counter() - start
    scored = [s for s in suspects if s.scored]
    positives = [s.matching_rate for s in scored if s.role == "positive" and
                 s.in_default_selection]
    negatives = [s.matching_rate for s in scored if s.headline_negative]
    admitted = [s.matching_rate for s in scored if s.role == "positive" and in_paper(s.kind)]
    if not positives or not negatives:
        raise ConfigError("zoo_dir", str(cfg.zoo_dir), f"{scheme.title()} needs at least one "
                          "positive and one negative suspect it can score")
    measure = score if scheme.is_rate else similarity_scores
    record = Record(
        setting=setting, headline=measure(positives, negatives, setting.r),
        all_admitted=measure(admitted, negatives, setting.r), effectiveness=effectiveness,
        suspects=suspects, extraction=Extraction(seconds=fp.seconds, device=cfg.device),
        verify_seconds=seconds,
        provenance=provenance(cfg, out_dir, fp_path.name, tracker),
        scheme=SchemeRun(scheme.name, scheme.title(), scheme.access, scheme.is_rate,
                         fp.queries, {k: v for k, v in fp.meta.items() if k != "params"}))
    if scheme.is_rate and len(scored) == len(suspects):
        record = assess(record)  # p-values, calibrated thresholds (docs/verdicts.md)
    print(f"\n{scheme_report(record)}\n", flush=True)
    log_scheme(tracker, record, out_dir)
    return record


def similarity_scores(positives: list[float], negatives: list[float],
                      r: int = PAPER_R) -> Scores:
    """What applies to a score that is not a rate: the ROC-AUC (ties half) and the gap; no
    ARUC (NaN) and no robustness / uniqueness curves, whose thresholds read rates."""
    return Scores(aruc=math.nan, auc=roc_auc(positives, negatives),
                  gap=min(positives) - max(negatives), tau=[], robustness=[], uniqueness=[],
                  positives=len(positives), negatives=len(negatives))


def scheme_report(record: Record) -> str:
    """The record as the schemes table prints it: the headline, each family."""
    rows, _, _ = scheme_rows(record, families([record], "positive"),
                             families([record], "negative"))
    title = f"{rows[0][0]} on {record.setting.dataset} ({record.key})"
    return Table(title, HEADER, rows).to_markdown()


def scheme_tracker(cfg: BenchConfig, setting: Setting) -> Tracker:
    """One W&B run per job, grouped and tagged as the methods' runs (ipguard.app.bench)."""
    lg, key = cfg.logger, setting.key()
    config = plain(cfg)
    config["ipguard"] = {"dataset": setting.dataset, "sweep": cfg.store.sweep, "key": key,
                         "method": setting.method, "scheme": setting.method,
                         "params": setting.params, "setting": setting.to_json()}
    return Tracker(
        enabled=lg.enabled, project=lg.project, entity=lg.entity, mode=str(lg.mode),
        dir=lg.dir, name=lg.name or f"{setting.dataset}-{key}",
        group=lg.group or run_group(setting.dataset, cfg.store.sweep), job_type="bench",
        tags=[setting.dataset, setting.method, "scheme", cfg.store.sweep], config=config,
        init_timeout=lg.init_timeout)


def log_scheme(tracker: Tracker, record: Record, out_dir: Path) -> None:
    """The summary (ROC-AUC, TPR at 1 % FPR, ARUC for a rate, queries, seconds), the
    verdicts where they apply, a table of every suspect's score, the ROC curves of a rate."""
    run = record.scheme
    assert run is not None
    scored = [s.matching_rate for s in record.suspects if s.scored]
    op = operating([s.matching_rate for s in record.suspects if s.scored and
                    s.role == "negative"])
    head = [s.matching_rate for s in record.suspects if s.scored and s.role == "positive"
            and s.in_default_selection]
    tracker.summary({
        "auc": record.auc, "aruc": record.aruc if run.score_is_rate else None,
        "gap": record.gap, "effectiveness": record.effectiveness,
        "extraction_seconds": record.extraction.seconds, "generation_seconds":
        record.extraction.seconds, "verify_seconds": record.verify_seconds,
        "queries_per_verification": run.queries, "score_is_rate": run.score_is_rate,
        "access": run.access, "scored": len(scored),
        "not_applicable": len(record.suspects) - len(scored),
        "tpr_fpr1_empirical": op.rate(head).value if op is not None else None,
        **(wandb_summary(record.verdicts) if record.verdicts is not None else {})})
    columns = ["name", "role", "kind", "arch", "seed", "score", "test_accuracy",
               "in_default_selection", "hyper", "queries", "not_applicable"]
    tracker.table("scores", columns, [
        [s.name, s.role, s.kind, s.arch, s.seed, s.matching_rate if s.scored else None,
         s.test_accuracy, s.in_default_selection, json.dumps(s.hyper, sort_keys=True),
         s.verify_queries, s.not_applicable] for s in record.suspects])
    head_scores = record.headline
    if run.score_is_rate and head_scores is not None:
        plot = plot_ru_curves(head_scores.tau, head_scores.robustness, head_scores.uniqueness,
                              head_scores.aruc, out_dir / "ru_curves.png",
                              title=f"{run.title} on {record.setting.dataset}")
        tracker.image("ru_curves", plot)


__all__ = ["NEEDS_PROBABILITIES", "run_scheme_bench", "measure_scheme", "similarity_scores",
           "scheme_report"]
