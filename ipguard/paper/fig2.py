"""Figure 2, measured: the R(tau)/U(tau) curves of each method at its best setting, the ARUC
shaded (the paper's three cases, good, mediocre and bad fingerprints, side by side)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ipguard.data import dataset_title
from ipguard.paper.base import FigureOut, Output, best_by_method, method_varied, setting_text
from ipguard.paper.plots import RUPanel, plot_ru_panels
from ipguard.results.record import Record


def ru_figure(dataset: str, records: Iterable[Record]) -> Output:
    """``fig2-<dataset>``: a panel per method (best setting over ``records``, which are the
    sweeps Table 4 picks from), in the paper's order of methods."""
    pool = list(records)
    panels = []
    for method, best in best_by_method(pool).items():
        curves = best.first.headline
        if curves is None or not curves.tau:
            continue
        title = setting_text(best, mathtext=True, others=method_varied(pool, method))
        panels.append(RUPanel(title, curves.tau, curves.robustness, curves.uniqueness,
                              best.first.aruc))
    if not panels:
        return Output()
    suptitle = f"{dataset_title(dataset)}: best setting per method" if len(panels) > 1 else ""

    def draw(path: Path) -> list[Path]:
        return plot_ru_panels(panels, path, suptitle=suptitle)

    return Output([FigureOut(f"fig2-{dataset}", draw)])
