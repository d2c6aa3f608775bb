"""What one bench run measured: its ``Setting`` (the dataset, method and every parameter, the
combo, n, the seed, r, the headline selection) and how a setting's values are written in its key
(``format_value``) and compared (``canonical``). The key names the run's file in the store."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ipguard.core.extract import PAPER_N
from ipguard.core.methods import method_class, paper_name, swept_param
from ipguard.core.metrics import PAPER_R
from ipguard.core.seeding import combo_suffix
from ipguard.zoo.suspects import Selection


def format_value(value: Any) -> str:
    """A parameter value in a key: short where that is exact (0.01, 3, 0.003922), else the
    shortest text that reads back as the same float, so two values never print alike."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        text = format(float(value), ".6g")
        return text if float(text) == float(value) else repr(float(value))
    if isinstance(value, list | tuple):
        return ",".join(format_value(v) for v in value)
    return "none" if value is None else str(value)


def canonical(value: Any) -> Any:
    """JSON-normal form for comparing settings: numbers as floats, tuples as lists."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return json.loads(json.dumps(value, default=str))


@dataclass(frozen=True)
class Setting:
    """Everything that changes a bench result: the dataset and zoo, the method and all its
    parameters, the combo, n, the seed, Eq. 7's r and the headline selection of positives."""

    dataset: str
    method: str
    params: dict[str, Any]
    init: str
    label: str
    n: int = PAPER_N
    seed: int = 0
    r: int = PAPER_R
    selection: Selection = field(default_factory=Selection)
    zoo: str | None = None

    def __post_init__(self) -> None:
        # as JSON holds them (tuples as lists), so a setting equals itself read back
        object.__setattr__(self, "params", json.loads(json.dumps(self.params, default=str)))

    @property
    def combo(self) -> str:
        return combo_suffix(self.init, self.label)

    @property
    def swept(self) -> str | None:
        return swept_param(self.method, self.params)

    @property
    def value(self) -> Any:
        return self.params.get(self.swept) if self.swept else None

    @property
    def method_label(self) -> str:
        """'IPGuard-TL': the paper's name of the method with its combo."""
        return f"{paper_name(self.method)}{self.combo}"

    def key(self) -> str:
        """``ipguard-TL-k=3-s0``: method, combo, the swept parameter, every other parameter
        that differs from the method's default, n / r / selection where they differ from the
        paper's, and the seed. Unique for every setting but the zoo (see ``identity``)."""
        cls = method_class(self.method)
        defaults = canonical(cls.defaults()) if cls is not None else {}
        swept = self.swept
        parts = [self.method, self.combo.lstrip("-")]
        if swept is not None and swept in self.params:
            parts.append(f"{swept}={format_value(self.params[swept])}")
        for name, value in self.params.items():
            if name != swept and (name not in defaults or canonical(value) != defaults[name]):
                parts.append(f"{name}={format_value(value)}")
        if self.n != PAPER_N:
            parts.append(f"n{self.n}")
        if self.r != PAPER_R:
            parts.append(f"r{self.r}")
        for name, cap in self.selection.to_json().items():
            if cap != getattr(Selection(), name):
                parts.append(f"{name}={format_value(cap)}")
        parts.append(f"s{self.seed}")
        return "-".join(p.replace("/", "_") for p in parts)

    def identity(self) -> dict[str, Any]:
        """The setting in comparable form: two runs are the same point when these agree."""
        return canonical(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "method": self.method, "params": dict(self.params),
                "init": self.init, "label": self.label, "combo": self.combo, "n": self.n,
                "seed": self.seed, "r": self.r, "selection": self.selection.to_json(),
                "zoo": self.zoo}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Setting:
        return cls(dataset=str(data["dataset"]), method=str(data["method"]),
                   params=dict(data.get("params") or {}), init=str(data["init"]),
                   label=str(data["label"]), n=int(data.get("n") or PAPER_N),
                   seed=int(data.get("seed") or 0), r=int(data.get("r") or PAPER_R),
                   selection=Selection.from_json(data.get("selection")),
                   zoo=data.get("zoo"))
