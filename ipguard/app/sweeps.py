"""What the paper's sweep files (``sweeps/<name>.yaml``) say about themselves, read from the
files so that no other config repeats it: the one method a sweep measures, what its sweeper
varies, the figure it draws (Figures 3-6) and the sweeps each method's best setting comes from.
``ipguard.app.config.register`` puts the last two into the figures config's schema."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ipguard.app.schema import FiguresConfig
from ipguard.core.methods import METHODS
from ipguard.core.seeding import INITS, LABELS, combo_suffix
from ipguard.paper.config import FigureSpec
from ipguard.paper.grid import SweepGrid


@dataclass(frozen=True)
class SweepFile:
    """A sweep file's facts: its name, the method it fixes (``defaults: override /method``;
    None when it sweeps ``method`` or has none) and the keys its sweeper varies."""

    name: str
    method: str | None
    params: tuple[str, ...]

    @property
    def figure(self) -> FigureSpec | None:
        """The parameter figure this sweep draws, if it measures one method over the parameter
        the method declares as swept; titled by its name (fig3: Figure 3)."""
        cls = METHODS.get(self.method) if self.method else None
        if cls is None or cls.swept is None or f"method.{cls.swept}" not in self.params:
            return None
        number = re.fullmatch(r"fig(\d+)", self.name)
        return FigureSpec(title=f"Figure {number[1]}" if number else self.name,
                          sweep=self.name, method=cls.name)


def read_sweeps(folder: Path) -> list[SweepFile]:
    """Every sweep file of ``folder``, in natural order (fig3 before fig10)."""
    out = []
    for file in sorted(folder.glob("*.yaml"), key=lambda p: _natural(p.stem)):
        node = OmegaConf.load(file)
        params = OmegaConf.select(node, "hydra.sweeper.params") or {}
        out.append(SweepFile(file.stem, _fixed_method(node.get("defaults") or []),
                             tuple(str(k) for k in params)))
    return out


def sweep_grid(file: Path) -> SweepGrid | None:
    """The grid ``file`` asks for: each swept method parameter's values (by its name, without
    ``method.``), the combos and the seeds, as Hydra's sweeper expands them; None when there is
    no such file."""
    if not file.is_file():
        return None
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = OmegaConf.select(OmegaConf.load(file), "hydra.sweeper.params") or DictConfig({})
    parser = OverridesParser.create()

    def values(key: str) -> list[Any]:
        if key not in params:
            return []
        override = parser.parse_override(f"{key}={params[key]}")
        if override.is_sweep_override():
            return list(override.sweep_iterator())
        return [override.value()]

    combos = [combo_suffix(i, j) for i in values("init") for j in values("label")
              if i in INITS and j in LABELS]
    swept = {str(k).removeprefix("method."): values(str(k)) for k in params
             if str(k).startswith("method.")}
    return SweepGrid(swept, combos, [int(s) for s in values("seed")])


def figures_schema(folder: Path) -> DictConfig:
    """The figures config's schema with what the sweeps of ``folder`` say: ``figures``, the
    figure of each sweep that draws one, and ``tables.best_from``, every sweep that measures a
    single method (where Table 4, Figure 2 and the table sweeps take each method's best)."""
    sweeps = read_sweeps(folder)
    node = OmegaConf.structured(FiguresConfig)
    node.figures = {s.name: s.figure for s in sweeps if s.figure is not None}
    node.tables.best_from = [s.name for s in sweeps if s.method is not None]
    return node


def _fixed_method(defaults: Any) -> str | None:
    """The method a defaults list selects (``override /method: fgsm``), if it selects one."""
    for item in defaults:
        if isinstance(item, DictConfig | dict):
            for key, value in item.items():
                if str(key).split()[-1].strip("/") == "method":
                    return str(value)
    return None


def _natural(name: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", name) if t)
