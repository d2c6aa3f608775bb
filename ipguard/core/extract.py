"""Extract (Section 4.2): find n points near the target's boundary; they and the target's
labels are the fingerprint."""

from __future__ import annotations

import time

import torch
from torch import nn

from ipguard.core.fingerprint import Fingerprint, FingerprintMeta
from ipguard.core.methods.base import Method
from ipguard.core.seeding import check_combo, combo_suffix, initial_points, target_labels
from ipguard.utils.errors import ConfigError
from ipguard.utils.progress import Progress

# The paper's n: "the 100 fingerprinting data points" of every experiment (Section 5, Table 8).
# The one home of the default: the bench's n, a record's setting and ``extract`` read it here.
PAPER_N = 100


def extract(
    target: nn.Module,
    method: Method,
    *,
    init: str = "train",
    label: str = "least_likely",
    n: int = PAPER_N,
    seed: int = 0,
    train_x: torch.Tensor | None = None,
    input_shape: tuple[int, ...] | None = None,
    device: str = "cpu",
    target_id: str | None = None,
) -> Fingerprint:
    """Run ``method`` on n seeded starts and return the fingerprint with per-point statistics.

    init: "train" (T, random training examples from ``train_x``) or "random" (R, uniform).
    label: "random" (R, a label != the initial prediction) or "least_likely" (L)."""
    check_combo(init, label)
    if n < 1:
        raise ConfigError("n", n, "the number of fingerprinting points must be >= 1")
    target = target.to(device).eval()
    generator = torch.Generator().manual_seed(seed)
    x0 = initial_points(init, n, generator, train_x=train_x, input_shape=input_shape)
    with torch.no_grad():
        logits0 = target(x0.to(device)).float().cpu()
    i = logits0.argmax(dim=1)
    j = target_labels(label, logits0, generator)

    # The bar or log lines of the method's iterations (ipguard.utils.progress): on a terminal a bar
    # with the points still active, elsewhere a line every so often.
    with Progress(f"extract {method.title()}{combo_suffix(init, label)} n={n}") as progress:
        start = time.perf_counter()
        out = method(target, x0.to(device), i.to(device), j.to(device), progress=progress)
        if device != "cpu" and torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start

    x = out.x.detach().float().cpu().clamp(0, 1)
    with torch.no_grad():
        y = target(x.to(device)).argmax(dim=1).cpu()
    delta = (x - x0).flatten(1)
    stats = {
        "i": i,
        "j": j,
        "iterations": out.iterations.cpu().long(),
        "success": (y == j),
        "l2": delta.norm(dim=1),
        "linf": delta.abs().amax(dim=1),
    }
    meta = FingerprintMeta(
        method=method.name, params=method.params(), init=init, label=label,
        combo=combo_suffix(init, label), n=n, seed=seed, seconds=seconds, target=target_id,
        device=device, success_rate=float(stats["success"].float().mean()),
        mean_l2=float(stats["l2"].mean()),
        mean_iterations=float(stats["iterations"].float().mean()))
    return Fingerprint(x=x, y=y, meta=meta, stats=stats)
