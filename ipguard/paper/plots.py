"""The paper's figures: robustness/uniqueness curves with the ARUC shaded (Figure 2), and ARUC
against a method's parameter with one line per combo (Figures 3-6). Sized for a journal column
(3.4 in wide per panel) and saved as PNG and PDF."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from ipguard.utils.io import atomic_write  # noqa: E402

COLUMN_WIDTH = 3.4  # inches: one column of a two-column paper
# One look per combo across every figure: T solid, R dashed; R(andom label) and L(east likely)
# told apart by colour and marker.
COMBO_STYLE = {
    "-TR": {"color": "tab:blue", "marker": "o", "linestyle": "-"},
    "-TL": {"color": "tab:red", "marker": "s", "linestyle": "-"},
    "-RR": {"color": "tab:green", "marker": "^", "linestyle": "--"},
    "-RL": {"color": "tab:purple", "marker": "D", "linestyle": "--"},
}


def draw_ru(ax: Axes, tau: Sequence[float], robustness: Sequence[float],
            uniqueness: Sequence[float], aruc: float, title: str = "",
            legend: bool = True) -> None:
    """R(tau) and U(tau) against the matching-rate threshold, min of both shaded (the ARUC)."""
    tau_a = np.r_[0.0, np.asarray(tau, dtype=float)]
    rob = np.r_[1.0, np.asarray(robustness, dtype=float)]  # R(0) = 1, U(0) = 0
    uni = np.r_[0.0, np.asarray(uniqueness, dtype=float)]
    ax.step(tau_a, rob, where="pre", label="Robustness", color="tab:blue")
    ax.step(tau_a, uni, where="pre", label="Uniqueness", color="tab:red", linestyle="--")
    ax.fill_between(tau_a, np.minimum(rob, uni), step="pre", alpha=0.25, color="tab:gray",
                    label=f"ARUC = {aruc:.2f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("Matching rate threshold")
    ax.set_ylabel("Robustness / Uniqueness")
    if title:
        ax.set_title(title, fontsize=8)
    if legend:
        ax.legend(fontsize=7, loc="lower left")


def plot_ru_curves(
    tau: Sequence[float],
    robustness: Sequence[float],
    uniqueness: Sequence[float],
    aruc: float,
    path: str | os.PathLike[str],
    title: str = "",
) -> Path:
    """Save R(tau) and U(tau) against the matching-rate threshold, min of both shaded."""
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 2.6), dpi=150)
    draw_ru(ax, tau, robustness, uniqueness, aruc, title)
    fig.tight_layout()
    path = Path(path)
    return save_figure(fig, path, formats=(path.suffix.lstrip(".") or "png",))[0]


@dataclass
class RUPanel:
    """One method's curves at its best setting (a panel of the Figure 2-style plot)."""

    title: str
    tau: list[float]
    robustness: list[float]
    uniqueness: list[float]
    aruc: float


def plot_ru_panels(panels: Sequence[RUPanel], path: str | os.PathLike[str],
                   suptitle: str = "", ncols: int = 3) -> list[Path]:
    """Figure 2 for measured methods: a grid of R/U panels, ARUC shaded and given in each
    panel's title, one legend under the grid."""
    ncols = max(1, min(ncols, len(panels)))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols, 2.2 * nrows + 0.5), dpi=150,
                             squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        draw_ru(ax, panel.tau, panel.robustness, panel.uniqueness, panel.aruc,
                f"{panel.title}: ARUC {panel.aruc:.2f}", legend=False)
    for index, ax in enumerate(axes.flat):
        if index >= len(panels):
            ax.set_visible(False)
        elif index % ncols:
            ax.set_ylabel("")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles[:2] + handles[2:3], ["Robustness R(τ)", "Uniqueness U(τ)",
                                            "min(R, U): its area is the ARUC"],
               loc="lower center", ncol=3, fontsize=7, frameon=False)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout(rect=(0, 0.35 / (2.2 * nrows + 0.5), 1, 1))
    return save_figure(fig, Path(path))


@dataclass
class SweepLine:
    """ARUC (mean over seeds) at each parameter value of one combo, with a band (``lo``,
    ``hi``: its 95 % interval, or the seeds' range)."""

    combo: str
    x: list[float]
    y: list[float]
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)


@dataclass
class SweepPanel:
    title: str
    lines: list[SweepLine]
    note: str = ""  # e.g. "12 points missing", printed in the panel


def plot_aruc_sweep(panels: Sequence[SweepPanel], name: str, xlabel: str,
                    path: str | os.PathLike[str], suptitle: str = "",
                    band: str = "") -> list[Path]:
    """Figures 3-6: ARUC against a parameter (``xlabel``, log scale), one line per combo
    (labelled ``name`` and the combo: the method's name in mathtext), a panel per dataset, one
    legend under the panels. Each panel's best point is ringed and labelled; ``band`` says
    what the shading is, under the legend."""
    n = max(1, len(panels))
    fig, axes = plt.subplots(1, n, figsize=(COLUMN_WIDTH * n, 3.1), dpi=150, squeeze=False,
                             sharey=True)
    handles: dict[str, object] = {}
    for ax, panel in zip(axes[0], panels, strict=False):
        best: tuple[float, float] | None = None
        for line in panel.lines:
            style = COMBO_STYLE.get(line.combo, {"marker": "o"})
            order = np.argsort(line.x)
            x, y = np.asarray(line.x)[order], np.asarray(line.y)[order]
            label = f"{name}{line.combo}"
            (handles[label],) = ax.plot(x, y, label=label, markersize=4, linewidth=1.2,
                                        **style)
            if line.lo and line.hi and len(line.lo) == len(line.x):
                lo, hi = np.asarray(line.lo)[order], np.asarray(line.hi)[order]
                if (hi > lo).any():
                    ax.fill_between(x, lo, hi, color=style.get("color"), alpha=0.15,
                                    linewidth=0)
            if len(y) and (best is None or y.max() > best[1]):
                best = (float(x[int(np.argmax(y))]), float(y.max()))
        if best is not None:
            ax.plot(*best, marker="o", markersize=11, markerfacecolor="none",
                    markeredgecolor="black", linewidth=0)
            ax.annotate(f"{best[1]:.2f}", best, textcoords="offset points", xytext=(0, 8),
                        ha="center", fontsize=7)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_ylim(0, 1.1)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        if panel.note:
            ax.text(0.98, 0.97, panel.note, transform=ax.transAxes, ha="right", va="top",
                    fontsize=6.5, color="tab:red")
        ax.set_xlabel(xlabel)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_title(panel.title, fontsize=9)
    axes[0][0].set_ylabel("ARUC")
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center",
                   ncol=min(4, len(handles)) if n > 1 else 2, fontsize=7, frameon=False,
                   **({"bbox_to_anchor": (0.5, 0.04)} if band else {}))
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    rows = (1 if n > 1 or len(handles) <= 2 else 2) + bool(band)
    if band:
        fig.text(0.5, 0.005, band, ha="center", va="bottom", fontsize=6, color="dimgray")
    fig.tight_layout(rect=(0, 0.055 * rows, 1, 1))
    return save_figure(fig, Path(path))


def save_figure(fig: Figure, path: Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` once per format next to each other (``path``'s suffix is replaced),
    atomically, and close it."""
    out = []
    try:
        for fmt in formats:

            def _save(tmp: Path, fmt: str = fmt) -> None:
                fig.savefig(tmp, format=fmt)

            out.append(atomic_write(path.with_suffix(f".{fmt}"), _save))
        return out
    finally:
        plt.close(fig)


@dataclass
class StealingSeries:
    """Suspects of one stealing family in a stealing panel: each at (its agreement with the
    target on test images, its matching rate), joined by a line where ``line`` (an
    extraction API over its budgets, in order) and labelled by ``notes`` (the budgets)."""

    label: str
    x: list[float]
    y: list[float]
    notes: list[str] = field(default_factory=list)
    line: bool = False
    negative: bool = False


@dataclass
class StealingPanel:
    title: str
    series: list[StealingSeries]


STEALING_STYLE = {
    "Extraction (label API)": {"color": "tab:red", "marker": "o"},
    "Extraction (probability API)": {"color": "tab:blue", "marker": "s"},
    "Distillation": {"color": "tab:green", "marker": "^"},
    "Adversarial fine-tuning": {"color": "tab:purple", "marker": "D"},
}


def plot_stealing(panels: Sequence[StealingPanel], path: str | os.PathLike[str],
                  suptitle: str = "", ncols: int = 3) -> list[Path]:
    """The fingerprint's matching rate against the suspect's agreement with the target (test
    images), a panel per method and combo: extraction through the label and the probability
    API over query budgets (lines, each point labelled with its budget), distilled students
    and adversarial fine-tunes (markers), harder negatives (grey crosses) for reference."""
    ncols = max(1, min(ncols, len(panels)))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.4 * nrows + 0.6), dpi=150,
                             squeeze=False)
    handles: dict[str, object] = {}
    for ax, panel in zip(axes.flat, panels, strict=False):
        for s in panel.series:
            style = {"color": "gray", "marker": "x"} if s.negative else \
                STEALING_STYLE.get(s.label, {"marker": "o"})
            order = np.argsort(s.x) if not s.line else np.arange(len(s.x))
            x, y = np.asarray(s.x)[order], np.asarray(s.y)[order]
            (handles[s.label],) = ax.plot(x, y, linestyle="-" if s.line else "none",
                                          markersize=4, linewidth=1.0, label=s.label, **style)
            for xi, yi, note in zip(s.x, s.y, s.notes, strict=False):
                ax.annotate(note, (xi, yi), textcoords="offset points", xytext=(3, 3),
                            fontsize=5.5, color=style.get("color", "black"))
        ax.set_xlim(None, 1.01)
        ax.set_ylim(-0.03, 1.05)
        ax.grid(True, alpha=0.3)
        ax.set_title(panel.title, fontsize=8)
        ax.set_xlabel("agreement with the target (test)", fontsize=7)
        ax.set_ylabel("matching rate", fontsize=7)
        ax.tick_params(labelsize=6.5)
    for index, ax in enumerate(axes.flat):
        if index >= len(panels):
            ax.set_visible(False)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="lower center",
                   ncol=min(3, len(handles)), fontsize=6.5, frameon=False)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    rows = 1 + (len(handles) > 3)
    fig.tight_layout(rect=(0, 0.2 * rows / (2.4 * nrows + 0.6), 1, 1))
    return save_figure(fig, Path(path))
