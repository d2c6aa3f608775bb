"""The schemes figure (``ipguard.paper.schemes_table``): a panel per attack family, one bar per
fingerprinting scheme, its TPR at a 1 % FPR threshold with the 95 % interval as an error bar
and its ROC-AUC as a dot on the same [0, 1] axis. Its own module: the paper's figures module
is at its size."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ipguard.paper.plots import plt, save_figure


@dataclass
class SchemePanel:
    """One attack family: per scheme (``labels``, top to bottom) the TPR, its interval and the
    ROC-AUC."""

    title: str
    labels: list[str]
    tpr: list[float]
    lo: list[float]
    hi: list[float]
    auc: list[float]


def plot_schemes(panels: Sequence[SchemePanel], path: str | os.PathLike[str],
                 suptitle: str = "", ncols: int = 4) -> list[Path]:
    """Horizontal bars of TPR with Clopper-Pearson error bars and AUC dots, a panel per
    family; the schemes keep one order (and one row) in every panel."""
    labels = list(dict.fromkeys(label for p in panels for label in p.labels))
    ncols = max(1, min(ncols, len(panels)))
    nrows = -(-len(panels) // ncols)
    height = 0.6 + 0.16 * len(labels)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols + 0.8, height * nrows + 0.5),
                             dpi=150, squeeze=False, sharey=True)
    rows = {label: i for i, label in enumerate(labels)}
    for ax, panel in zip(axes.flat, panels, strict=False):
        y = np.array([rows[label] for label in panel.labels], dtype=float)
        tpr = np.asarray(panel.tpr, dtype=float)
        err = np.vstack([tpr - np.asarray(panel.lo), np.asarray(panel.hi) - tpr])
        ax.barh(y, tpr, xerr=err, color="tab:blue", alpha=0.6, height=0.7,
                error_kw={"elinewidth": 0.8, "capsize": 1.5}, label="TPR at the 1 % FPR threshold")
        ax.plot(panel.auc, y, linestyle="none", marker="o", markersize=3, color="black",
                label="ROC-AUC")
        ax.set_xlim(0, 1.02)
        ax.set_title(panel.title, fontsize=7.5)
        ax.grid(True, axis="x", alpha=0.3)
        ax.tick_params(labelsize=6)
    for ax in axes[:, 0]:
        ax.set_yticks(range(len(labels)), labels)
    axes[0, 0].invert_yaxis()  # the y axis is shared: the first scheme on top everywhere
    for index, ax in enumerate(axes.flat):
        if index >= len(panels):
            ax.set_visible(False)
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=2, fontsize=6.5, frameon=False)
    if suptitle:
        fig.suptitle(suptitle, fontsize=8.5)
    fig.tight_layout(rect=(0, 0.3 / (height * nrows + 0.5), 1, 1))
    return save_figure(fig, Path(path))


__all__ = ["SchemePanel", "plot_schemes"]
