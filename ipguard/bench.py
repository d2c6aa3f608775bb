"""Entry point: extract a fingerprint from a zoo's target, verify every suspect, score it.

    python -m ipguard.bench dataset=digits method=ipguard init=train label=least_likely
    python -m ipguard.bench -m +sweep=fig6 dataset=digits      # a figure's sweep (sweeps/)

Prints the matching-rate table (grouped like the paper's Table 5) and the ARUC, and writes the
run's record to the results store (``<results_dir>/<dataset>/<sweep>/<key>.json``; a finished
point is skipped on rerun unless ``force=true``), plus ``results.json``,
``fingerprint.safetensors`` and ``ru_curves.png`` under the Hydra output directory; the same
numbers go to a W&B run (offline unless configured otherwise)."""

from __future__ import annotations

import copy
import json
import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf, open_dict

from ipguard.config import register_resolvers
from ipguard.errors import ConfigError, IPGuardError, friendly_errors
from ipguard.extract import extract
from ipguard.metrics import Scores, score
from ipguard.plots import plot_ru_curves
from ipguard.report import matching_rate_table
from ipguard.results import SuspectResult, git_revision, method_name, versions, write_record
from ipguard.runtime import configure_threads
from ipguard.seeding import combo_suffix
from ipguard.store import ResultsStore, best_setting, identity, primary_param, record_key, run_group
from ipguard.tracking import Tracker
from ipguard.validation import check_bench_config
from ipguard.verify import verify
from ipguard.zoo import Member, Zoo, load_zoo

log = logging.getLogger(__name__)
register_resolvers()


def in_default_selection(member: Member, max_wp_p: float, max_fp_c: float) -> bool:
    """Positives within the paper's largest pruning levels (p <= 0.5, c <= 7/16 by default)."""
    if member.kind == "wp":
        return float(member.hyper["p"]) <= max_wp_p + 1e-9
    if member.kind == "fp":
        return float(member.hyper["c"]) <= max_fp_c + 1e-9
    return True


def run_bench(cfg: DictConfig) -> dict[str, Any]:
    """Extract, verify every zoo member one at a time, score, and write/log the results.

    Returns the record (the stored one, marked ``skipped``, when this sweep point is done)."""
    configure_threads(cfg.threads)
    check_bench_config(cfg)
    if cfg.store.best_from:
        cfg = with_best_setting(cfg)
        check_bench_config(cfg)  # stored records are input too (a shared results folder)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    method = hydra.utils.instantiate(cfg.method)
    combo = combo_suffix(cfg.init, cfg.label)
    params = method.params()
    try:  # the zoo's identity keys the point; a zoo that cannot be read fails in the W&B run
        zoo: Zoo | None = _load_zoo(cfg)
    except IPGuardError:
        zoo = None
    point = {
        "dataset": cfg.dataset.name, "method": method.name, "params": params,
        "init": cfg.init, "label": cfg.label, "n": cfg.n, "seed": cfg.seed, "r": cfg.metrics.r,
        "selection": {"max_wp_p": cfg.suspects.max_wp_p, "max_fp_c": cfg.suspects.max_fp_c},
        "zoo": zoo.identity() if zoo is not None else None,
    }
    key = record_key(method.name, combo, params, cfg.seed)
    store = ResultsStore(Path(cfg.store.dir))
    if not cfg.force:
        done = store.find(key, identity(point))
        if done is not None:
            return _report_skipped(done, store.path(key), out_dir)

    label = f"{method_name(method.name)}{combo}"
    param = primary_param(method.name, params)
    about = {"dataset": cfg.dataset.name, "sweep": cfg.store.sweep, "key": key,
             "method": method.name, "method_label": label, "combo": combo,
             "param": param, "value": params.get(param) if param else None, "params": params}
    with _tracker(cfg, about) as tracker:
        record = _bench(cfg, zoo, method, point, about, out_dir, tracker)
        record_path = store.write(key, record)
        write_record(out_dir / "results.json", record)
        log.info("results: %s", record_path)
    return record


def _load_zoo(cfg: DictConfig) -> Zoo:
    return load_zoo(cfg.zoo_dir, build_command=f"python -m train.zoo dataset={cfg.dataset.name}")


def _bench(cfg: DictConfig, zoo: Zoo | None, method: Any, point: dict[str, Any],
           about: dict[str, Any], out_dir: Path, tracker: Tracker) -> dict[str, Any]:
    label = about["method_label"]
    if zoo is None:
        zoo = _load_zoo(cfg)  # raises the one-line error, now recorded in the W&B run
        point["zoo"] = zoo.identity()
    data = hydra.utils.call(cfg.dataset.loader)
    train_x = data.train_tensors()[0] if cfg.init == "train" else None

    target = zoo.target
    fingerprint = extract(
        target.load_module(), method, init=cfg.init, label=cfg.label, n=cfg.n, seed=cfg.seed,
        train_x=train_x, input_shape=tuple(data.input_shape), device=cfg.device,
        target_id=target.name,
    )
    fp_path = fingerprint.save(out_dir / "fingerprint.safetensors")
    log.info("extracted %d points with %s in %.2fs (success %.2f, mean L2 %.3f)",
             cfg.n, label, fingerprint.meta["seconds"], fingerprint.meta["success_rate"],
             fingerprint.meta["mean_l2"])

    effectiveness = verify(fingerprint, target.load_classifier(cfg.device)).matching_rate
    suspects: list[SuspectResult] = []
    verify_start = time.perf_counter()
    for member in zoo.suspects():  # one at a time: memory stays flat as the zoo grows
        rate = verify(fingerprint, member.load_classifier(cfg.device)).matching_rate
        suspects.append(SuspectResult(
            name=member.name, role=member.role, kind=member.kind, arch=member.arch,
            seed=member.seed, matching_rate=rate, test_accuracy=member.test_accuracy,
            hyper=member.hyper,
            in_default_selection=in_default_selection(
                member, cfg.suspects.max_wp_p, cfg.suspects.max_fp_c),
        ))
    verify_seconds = time.perf_counter() - verify_start

    negatives = [s.matching_rate for s in suspects if s.role == "negative"]
    positives_all = [s.matching_rate for s in suspects if s.role == "positive"]
    positives = [s.matching_rate for s in suspects if s.role == "positive"
                 and s.in_default_selection]
    if not positives or not negatives:
        raise ConfigError("zoo_dir", str(cfg.zoo_dir),
                          "the zoo needs at least one positive and one negative suspect")
    default = score(positives, negatives, r=cfg.metrics.r)
    every = score(positives_all, negatives, r=cfg.metrics.r)

    table = matching_rate_table(suspects, label)
    summary = _summary_lines(label, cfg.dataset.name, cfg.n, cfg.seed, cfg.suspects,
                             default, every, effectiveness)
    print(f"\n{table}\n\n{summary}\n", flush=True)

    plot_path = plot_ru_curves(default.tau, default.robustness, default.uniqueness, default.aruc,
                               out_dir / "ru_curves.png", title=f"{label} on "
                               f"{cfg.dataset.name}")
    record = {
        **point,
        "key": about["key"],
        "sweep": about["sweep"],
        "method_label": label,
        "combo": about["combo"],
        "param": {"name": about["param"], "value": about["value"]},
        "aruc": default.aruc,
        "auc": default.auc,
        "gap": default.gap,
        "effectiveness": effectiveness,
        "metrics": {"default": default.__dict__, "all_within_budget": every.__dict__},
        "extraction": {
            **{k: fingerprint.meta[k] for k in
               ("seconds", "success_rate", "mean_l2", "mean_iterations")},
            "device": cfg.device,
            "points": {k: v.tolist() for k, v in fingerprint.stats.items()},
        },
        "verify_seconds": verify_seconds,
        "suspects": [s.__dict__ for s in suspects],
        "fingerprint_file": fp_path.name,
        "output_dir": str(out_dir),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wandb": tracker.describe(),
        "config": OmegaConf.to_container(cfg, resolve=True),
        "versions": versions(),
        "git": git_revision(),
    }
    _log_to_wandb(tracker, cfg, record, suspects, plot_path, fp_path)
    return record


def with_best_setting(cfg: DictConfig) -> DictConfig:
    """A copy of ``cfg`` whose method parameters and combo are those of the best-ARUC record
    of this method in the sweeps ``store.best_from`` (how Tables 5-8 pick each method's
    setting, as the paper does)."""
    best = best_setting(cfg.store.root, list(cfg.store.best_from), str(cfg.method._target_))
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        for name, value in best["params"].items():
            if name in cfg.method and not name.startswith("_"):  # never the _target_
                cfg.method[name] = value
        cfg.init, cfg.label = best["init"], best["label"]
    log.info("best setting of %s in %s: %s%s %s (ARUC %.4f, %s)", cfg.method._target_,
             list(cfg.store.best_from), best["method"], best.get("combo"), best["params"],
             best["aruc"], best.get("key"))
    return cfg


def _report_skipped(record: dict[str, Any], path: Path, out_dir: Path) -> dict[str, Any]:
    """A finished sweep point: show its stored numbers instead of recomputing them."""
    suspects = [SuspectResult(**s) for s in record["suspects"]]
    metrics = record["metrics"]
    default = Scores(**metrics["default"])
    every = Scores(**metrics["all_within_budget"])
    label = record["method_label"]
    table = matching_rate_table(suspects, label)
    summary = _summary_lines(label, record["dataset"], record["n"], record["seed"],
                             record["selection"], default, every, record["effectiveness"])
    print(f"\n{table}\n\n{summary}\n\nalready done: {path} (force=true recomputes it)\n",
          flush=True)
    write_record(out_dir / "results.json", record)
    log.info("skipped %s: its record exists (%s); force=true recomputes it", record["key"], path)
    return {**record, "skipped": True}


def _summary_lines(name: str, dataset: str, n: int, seed: int, selection: Any,
                   default: Scores, every: Scores, effectiveness: float) -> str:
    p, c = selection["max_wp_p"], selection["max_fp_c"]
    return "\n".join([
        f"{name} on {dataset}: n={n}, seed={seed}, target matches "
        f"{effectiveness:.2f} of its own fingerprint",
        f"ARUC = {default.aruc:.4f}  (AUC {default.auc:.4f}, gap {default.gap:+.2f}; "
        f"{default.positives} positives with WP p <= {p:g}, FP c <= {c:g}; "
        f"{default.negatives} negatives)",
        f"ARUC = {every.aruc:.4f}  with every pruned model within the 3 % rule "
        f"({every.positives} positives; rows marked * above)",
    ])


def _tracker(cfg: DictConfig, about: dict[str, Any]) -> Tracker:
    """One W&B run per job: grouped by sweep and dataset, tagged dataset/method/combo, with
    the resolved config plus ``ipguard`` (method, combo, swept parameter, key) for dashboards;
    finished with a failure code if the job raises."""
    lg = cfg.logger
    config = OmegaConf.to_container(cfg, resolve=True)
    config["ipguard"] = about
    return Tracker(
        enabled=lg.enabled, project=lg.project, entity=lg.entity, mode=lg.mode, dir=lg.dir,
        name=lg.name or f"{cfg.dataset.name}-{about['key']}",
        group=lg.group or run_group(cfg.dataset.name, cfg.store.sweep),
        job_type="bench",
        tags=[cfg.dataset.name, about["method"], about["combo"].lstrip("-"), cfg.store.sweep],
        config=config, init_timeout=float(lg.get("init_timeout") or 30.0),
    )


def _log_to_wandb(tracker: Tracker, cfg: DictConfig, record: dict[str, Any],
                  suspects: list[SuspectResult], plot_path: Path, fp_path: Path) -> None:
    extraction = record["extraction"]
    tracker.summary({
        "aruc": record["aruc"], "auc": record["auc"], "gap": record["gap"],
        "aruc_all_within_budget": record["metrics"]["all_within_budget"]["aruc"],
        "effectiveness": record["effectiveness"],
        "extraction_seconds": extraction["seconds"],
        "verify_seconds": record["verify_seconds"],
        "success_rate": extraction["success_rate"],
        "mean_l2": extraction["mean_l2"],
        "mean_iterations": extraction["mean_iterations"],
    })
    columns = ["name", "role", "kind", "arch", "seed", "matching_rate", "test_accuracy",
               "in_default_selection", "hyper"]
    tracker.table("matching_rates", columns, [
        [s.name, s.role, s.kind, s.arch, s.seed, s.matching_rate, s.test_accuracy,
         s.in_default_selection, json.dumps(s.hyper, sort_keys=True)] for s in suspects])
    tracker.image("ru_curves", plot_path)
    if cfg.logger.log_fingerprint:
        tracker.artifact(fp_path, name=f"fingerprint-{cfg.dataset.name}-{record['key']}",
                         type="fingerprint")


@hydra.main(version_base="1.3", config_path="../conf", config_name="bench")
@friendly_errors
def main(cfg: DictConfig) -> float:
    return run_bench(cfg)["aruc"]


if __name__ == "__main__":
    main()
