"""Robustness/uniqueness curves with the ARUC shaded, as in the paper's Figure 2."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ipguard.io import atomic_write  # noqa: E402


def plot_ru_curves(
    tau: Sequence[float],
    robustness: Sequence[float],
    uniqueness: Sequence[float],
    aruc: float,
    path: str | os.PathLike[str],
    title: str = "",
) -> Path:
    """Save R(tau) and U(tau) against the matching-rate threshold, min of both shaded."""
    tau_a, rob, uni = np.asarray(tau), np.asarray(robustness), np.asarray(uniqueness)
    fig, ax = plt.subplots(figsize=(3.4, 2.6), dpi=150)
    ax.step(tau_a, rob, where="post", label="Robustness", color="tab:blue")
    ax.step(tau_a, uni, where="post", label="Uniqueness", color="tab:red", linestyle="--")
    ax.fill_between(tau_a, np.minimum(rob, uni), step="post", alpha=0.25, color="tab:gray",
                    label=f"ARUC = {aruc:.2f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("Matching rate threshold")
    ax.set_ylabel("Robustness / Uniqueness")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path = Path(path)

    def _save(tmp: Path) -> None:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png")

    try:
        return atomic_write(path, _save)
    finally:
        plt.close(fig)
