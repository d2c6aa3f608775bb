"""Entry point: extract a fingerprint from a zoo's target, verify every suspect, score it.

    python -m ipguard.bench dataset=digits method=ipguard init=train label=least_likely

Prints the matching-rate table (grouped like the paper's Table 5) and the ARUC, and writes
``results.json``, ``fingerprint.safetensors`` and ``ru_curves.png`` under the Hydra output
directory; the same numbers go to a W&B run (offline unless configured otherwise)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from ipguard.config import register_resolvers
from ipguard.errors import ConfigError, friendly_errors
from ipguard.extract import extract
from ipguard.metrics import Scores, score
from ipguard.plots import plot_ru_curves
from ipguard.report import matching_rate_table
from ipguard.results import SuspectResult, git_revision, versions, write_record
from ipguard.runtime import configure_threads
from ipguard.seeding import combo_suffix
from ipguard.tracking import Tracker
from ipguard.verify import verify
from ipguard.zoo import Member, load_zoo

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
    """Extract, verify every zoo member one at a time, score, and write/log the results."""
    configure_threads(cfg.threads)
    check_bench_config(cfg)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    method = hydra.utils.instantiate(cfg.method)
    method_name = f"{type(method).__name__}{combo_suffix(cfg.init, cfg.label)}"
    zoo = load_zoo(cfg.zoo_dir, build_command=f"python -m train.zoo dataset={cfg.dataset.name}")
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
             cfg.n, method_name, fingerprint.meta["seconds"], fingerprint.meta["success_rate"],
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

    table = matching_rate_table(suspects, method_name)
    summary = _summary_lines(method_name, cfg, default, every, effectiveness)
    print(f"\n{table}\n\n{summary}\n", flush=True)

    plot_path = plot_ru_curves(default.tau, default.robustness, default.uniqueness, default.aruc,
                               out_dir / "ru_curves.png", title=f"{method_name} on "
                               f"{cfg.dataset.name}")
    record = {
        "dataset": cfg.dataset.name,
        "method": method.name,
        "method_label": method_name,
        "params": method.params(),
        "init": cfg.init,
        "label": cfg.label,
        "combo": combo_suffix(cfg.init, cfg.label),
        "n": cfg.n,
        "seed": cfg.seed,
        "aruc": default.aruc,
        "auc": default.auc,
        "gap": default.gap,
        "effectiveness": effectiveness,
        "selection": {"max_wp_p": cfg.suspects.max_wp_p, "max_fp_c": cfg.suspects.max_fp_c},
        "metrics": {"default": default.__dict__, "all_within_budget": every.__dict__},
        "extraction": {k: fingerprint.meta[k] for k in
                       ("seconds", "success_rate", "mean_l2", "mean_iterations")},
        "verify_seconds": verify_seconds,
        "suspects": [s.__dict__ for s in suspects],
        "fingerprint_file": fp_path.name,
        "config": OmegaConf.to_container(cfg, resolve=True),
        "versions": versions(),
        "git": git_revision(),
    }
    record_path = write_record(out_dir / "results.json", record)
    _log_to_wandb(cfg, record, suspects, plot_path, fp_path, method_name)
    log.info("results: %s", record_path)
    return record


def check_bench_config(cfg: DictConfig) -> None:
    """Fail before any work on values the paper's definitions rule out."""
    combo_suffix(cfg.init, cfg.label)
    if int(cfg.n) < 1:
        raise ConfigError("n", cfg.n, "the number of fingerprinting points must be >= 1")
    if int(cfg.metrics.r) < 1:
        raise ConfigError("metrics.r", cfg.metrics.r, "ARUC's number of intervals r must be >= 1")
    if not 0.0 <= float(cfg.threshold) <= 1.0:
        raise ConfigError("threshold", cfg.threshold, "a matching-rate threshold lies in [0, 1]")
    for key in ("max_wp_p", "max_fp_c"):
        value = float(cfg.suspects[key])
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"suspects.{key}", value, "a pruning level lies in [0, 1]")


def _summary_lines(name: str, cfg: DictConfig, default: Scores, every: Scores,
                   effectiveness: float) -> str:
    p, c = cfg.suspects.max_wp_p, cfg.suspects.max_fp_c
    return "\n".join([
        f"{name} on {cfg.dataset.name}: n={cfg.n}, seed={cfg.seed}, target matches "
        f"{effectiveness:.2f} of its own fingerprint",
        f"ARUC = {default.aruc:.4f}  (AUC {default.auc:.4f}, gap {default.gap:+.2f}; "
        f"{default.positives} positives with WP p <= {p:g}, FP c <= {c:g}; "
        f"{default.negatives} negatives)",
        f"ARUC = {every.aruc:.4f}  with every pruned model within the 3 % rule "
        f"({every.positives} positives; rows marked * above)",
    ])


def _log_to_wandb(cfg: DictConfig, record: dict[str, Any], suspects: list[SuspectResult],
                  plot_path: Path, fp_path: Path, method_name: str) -> None:
    lg = cfg.logger
    with Tracker(
        enabled=lg.enabled, project=lg.project, entity=lg.entity, mode=lg.mode, dir=lg.dir,
        name=lg.name or f"{cfg.dataset.name}-{method_name}-s{cfg.seed}", group=lg.group,
        job_type="bench", tags=[cfg.dataset.name, record["method"], record["combo"].lstrip("-")],
        config=record["config"],
    ) as tracker:
        tracker.summary({
            "aruc": record["aruc"], "auc": record["auc"], "gap": record["gap"],
            "aruc_all_within_budget": record["metrics"]["all_within_budget"]["aruc"],
            "effectiveness": record["effectiveness"],
            "extraction_seconds": record["extraction"]["seconds"],
            "success_rate": record["extraction"]["success_rate"],
            "mean_l2": record["extraction"]["mean_l2"],
        })
        tracker.table("matching_rates", ["name", "role", "kind", "matching_rate"],
                      [[s.name, s.role, s.kind, s.matching_rate] for s in suspects])
        tracker.image("ru_curves", plot_path)
        if lg.log_fingerprint:
            tracker.artifact(fp_path, name=f"fingerprint-{cfg.dataset.name}", type="fingerprint")


@hydra.main(version_base="1.3", config_path="../conf", config_name="bench")
@friendly_errors
def main(cfg: DictConfig) -> float:
    return run_bench(cfg)["aruc"]


if __name__ == "__main__":
    main()
