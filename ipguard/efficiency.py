"""Table 8: seconds to generate the n fingerprinting points, per method, on the same target.

    python -m ipguard.efficiency                          # digits target and a random ResNet20
    python -m ipguard.efficiency zoo_dir=/path/zoo/digits targets=[digits]

Every method runs through ``extract`` on the same seeded starts and target labels, after a
short untimed warm-up (first calls pay for allocations and lazy imports such as
``torch.optim``). Besides the paper's rows, two pairs measure what batching gains: IPGuard
batched against IPGuard one point at a time (``torch.optim.Adam`` on a single image, as public
reimplementations do) with the same k, lr and cap, once at the settings used for fingerprints
and once with k out of reach so that every point runs to the cap. The table is printed and
written as JSON (atomically, after each target) to ``output``."""

from __future__ import annotations

import dataclasses
import logging
import platform
import time
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.nn import functional as F

from ipguard.config import register_resolvers
from ipguard.errors import ConfigError, friendly_errors
from ipguard.extract import extract
from ipguard.io import write_json
from ipguard.methods.base import Method, MethodOutput
from ipguard.results import git_revision, method_name, versions
from ipguard.runtime import configure_threads
from ipguard.seeding import combo_suffix

log = logging.getLogger(__name__)
register_resolvers()

SCHEMA = "ipguard.efficiency/1"
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
TARGETS = ("digits", "resnet20")


@dataclasses.dataclass
class Target:
    """A white-box target and what its starts are drawn from."""

    name: str
    module: nn.Module
    input_shape: tuple[int, int, int]
    description: str
    train_x: torch.Tensor | None = None


def digits_target(zoo_dir: str | None, epochs: int, seed: int) -> Target:
    """The zoo's trained digits target, or (no zoo) a small_cnn trained here for a few epochs."""
    from ipguard.data.digits import load_digits_data

    data = load_digits_data()
    train_x, train_y = data.train_tensors()
    if zoo_dir:
        from ipguard.zoo import load_zoo

        member = load_zoo(zoo_dir).target
        module = member.load_module()
        description = f"{member.arch} from {zoo_dir} (test accuracy {member.test_accuracy:.3f})"
    else:
        module, accuracy = _train_small_cnn(train_x, train_y, *data.test_tensors(), epochs, seed)
        description = f"small_cnn trained here for {epochs} epochs (test accuracy {accuracy:.3f})"
    return Target("digits", module.eval(), tuple(data.input_shape), description, train_x)


def resnet20_target(seed: int) -> Target:
    """A CIFAR-shaped ResNet20 with random weights: timing needs its shape, not its accuracy."""
    from ipguard.models.cifar import resnet20

    torch.manual_seed(seed)
    module = resnet20(10, CIFAR10_MEAN, CIFAR10_STD).eval()
    return Target("resnet20", module, (3, 32, 32), "ResNet20, random weights, 3x32x32")


def _train_small_cnn(
    x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor, epochs: int,
    seed: int,
) -> tuple[nn.Module, float]:
    """Plain Adam on the digits training split: a converged target in seconds, no zoo needed."""
    from ipguard.models.digits import small_cnn

    torch.manual_seed(seed)
    model = small_cnn(10, 1, 8, mean=[0.305], std=[0.376])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(64):
            optimizer.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            optimizer.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        accuracy = float((model(x_test).argmax(1) == y_test).float().mean())
    return model, accuracy


def _warm_up(method: Method, target: Target, device: str) -> None:
    """Run the method once on two points with a tiny budget, untimed."""
    cheap = {"max_iter": 2, "binary_search_steps": 1}
    names = {f.name for f in dataclasses.fields(method)} if dataclasses.is_dataclass(method) else ()
    small = dataclasses.replace(method, **{k: v for k, v in cheap.items() if k in names})
    x = torch.rand((2, *target.input_shape), generator=torch.Generator().manual_seed(0))
    x = x.to(device)
    with torch.no_grad():
        logits = target.module(x)
    small(target.module, x, logits.argmax(1), logits.argmin(1))


def time_methods(
    target: Target, methods: dict[str, Method], *, init: str, label: str, n: int, seed: int,
    device: str = "cpu",
) -> list[dict[str, Any]]:
    """One row per method: seconds to extract n points on the same starts and labels."""
    target.module.to(device)
    rows = []
    for key, method in methods.items():
        _warm_up(method, target, device)
        timed = _CPUTimed(method)
        fp = extract(target.module, timed, init=init, label=label, n=n, seed=seed,
                     train_x=target.train_x, input_shape=target.input_shape, device=device,
                     target_id=target.name)
        it = fp.stats["iterations"]
        rows.append({
            "key": key,
            "method": method.name,
            "label": _row_label(key, method),
            "params": method.params(),
            "seconds": fp.meta["seconds"],
            "cpu_seconds": timed.cpu_seconds,
            "success_rate": fp.meta["success_rate"],
            "mean_l2": fp.meta["mean_l2"],
            "mean_iterations": float(it.float().mean()),
            "max_iterations": int(it.max()),
            "total_iterations": int(it.sum()),
        })
        log.info("%s on %s: %.2fs", rows[-1]["label"], target.name, fp.meta["seconds"])
    return rows


class _CPUTimed(Method):
    """The method as extract sees it, also clocking the process CPU time of the call: with one
    thread that is the method's compute, whatever other jobs share the CPUs meanwhile."""

    def __init__(self, method: Method) -> None:
        self.method = method
        self.name = method.name
        self.cpu_seconds = 0.0

    def __call__(
        self, model: nn.Module, x_init: torch.Tensor, i: torch.Tensor, j: torch.Tensor
    ) -> MethodOutput:
        start = time.process_time()
        out = self.method(model, x_init, i, j)
        self.cpu_seconds = time.process_time() - start
        return out

    def params(self) -> dict[str, object]:
        return self.method.params()


def _row_label(key: str, method: Method) -> str:
    base = method_name(method.name)
    return f"{base}, every point to the cap" if key.endswith("_cap") else base


def ratios(rows: list[dict[str, Any]], spec: dict[str, list[str]],
           column: str = "seconds") -> dict[str, float]:
    """column(slower) / column(faster) for each named pair whose two rows both ran."""
    value = {r["key"]: r[column] for r in rows}
    out = {}
    for name, (slower, faster) in spec.items():
        if slower in value and faster in value and value[faster] > 0:
            out[name] = value[slower] / value[faster]
    return out


def format_table(result: dict[str, Any]) -> str:
    """Table 8 for one target, with iterations and success so the times can be read."""
    head = (f"Table 8 on {result['target']} ({result['description']}), combo "
            f"{result['combo']}, n={result['n']}, {result['threads']} CPU thread(s), "
            f"device {result['device']}")
    lines = [head, f"{'method':<46}{'seconds':>11}{'CPU s':>11}{'iters mean':>12}{'max':>7}"
             f"{'success':>9}{'mean L2':>9}  params"]
    for r in result["rows"]:
        params = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in r["params"].items() if _shown(r["method"], k))
        lines.append(f"{r['label']:<46}{r['seconds']:>11.3f}{r['cpu_seconds']:>11.3f}"
                     f"{r['mean_iterations']:>12.1f}"
                     f"{r['max_iterations']:>7d}{r['success_rate']:>9.2f}{r['mean_l2']:>9.3f}"
                     f"  {params}")
    for name, value in result["ratios"].items():
        cpu = result["cpu_ratios"].get(name)
        lines.append(f"{name}: {value:.1f}x wall-clock" + (f", {cpu:.1f}x CPU time" if cpu else ""))
    return "\n".join(lines)


def _shown(method: str, param: str) -> bool:
    """Adam's betas and epsilon stay out of the table; FGSM's and IGSM's eps is the bound."""
    return param != "betas" and (param != "eps" or method in ("fgsm", "igsm"))


def run_efficiency(cfg: DictConfig) -> dict[str, Any]:
    """Time every configured method on every configured target; print and save the tables."""
    threads = configure_threads(cfg.threads)
    unknown = [t for t in cfg.targets if t not in TARGETS]
    if unknown:
        raise ConfigError("targets", list(cfg.targets), f"choose among {list(TARGETS)}")
    output = Path(cfg.output)
    record: dict[str, Any] = {
        "schema": SCHEMA, "n": cfg.n, "seed": cfg.seed, "threads": threads,
        "device": cfg.device, "cpu": platform.processor() or platform.machine(),
        "targets": {}, "config": OmegaConf.to_container(cfg, resolve=True),
        "versions": versions(), "git": git_revision(),
    }
    spec = {k: list(v) for k, v in cfg.ratios.items()}
    for name in cfg.targets:
        tcfg = cfg.target[name]
        started = time.perf_counter()
        target = (digits_target(cfg.zoo_dir, int(tcfg.epochs), int(cfg.seed)) if name == "digits"
                  else resnet20_target(int(cfg.seed)))
        methods = {key: _build_method(cfg, key, tcfg.get("override", {}).get(key))
                   for key in tcfg.methods}
        rows = time_methods(target, methods, init=tcfg.init, label=tcfg.label, n=int(cfg.n),
                            seed=int(cfg.seed), device=cfg.device)
        result = {
            "target": name, "description": target.description, "init": tcfg.init,
            "label": tcfg.label, "combo": combo_suffix(tcfg.init, tcfg.label), "n": int(cfg.n),
            "threads": threads, "device": cfg.device, "rows": rows,
            "ratios": ratios(rows, spec), "cpu_ratios": ratios(rows, spec, "cpu_seconds"),
            "wall_seconds": time.perf_counter() - started,
        }
        record["targets"][name] = result
        write_json(output, record)  # after each target: a long run keeps what it measured
        print(f"\n{format_table(result)}\n", flush=True)
    log.info("efficiency table: %s", output)
    return record


def _build_method(cfg: DictConfig, key: str, override: DictConfig | None) -> Method:
    if key not in cfg.methods:
        raise ConfigError("target.<name>.methods", key, f"choose among {list(cfg.methods)}")
    spec = OmegaConf.to_container(cfg.methods[key], resolve=True)
    if override:
        spec.update(OmegaConf.to_container(override, resolve=True))
    return hydra.utils.instantiate(spec)


@hydra.main(version_base="1.3", config_path="../conf", config_name="efficiency")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_efficiency(cfg)


if __name__ == "__main__":
    main()
