"""The results record: what one bench run measured, as a typed value.

A ``Record`` is written by ``ipguard.bench``, stored by ``ipguard.results.store`` (one JSON file per
setting) and mirrored to W&B; every table and figure reads records by their fields. Its
``Setting`` says what was measured and names the file (``key()``)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ipguard.core.calibration import Verdicts
from ipguard.core.methods import method_class, paper_name, swept_param
from ipguard.core.metrics import Scores
from ipguard.core.seeding import combo_suffix
from ipguard.zoo.suspects import Selection

SCHEMA = "ipguard.results/2"
SCHEMA_V1 = "ipguard.results/1"  # the flat record of stores made before the typed record
DEFAULT_N = 100   # the paper's number of fingerprinting points
DEFAULT_R = 100   # the paper's intervals in Eq. 7


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
    n: int = DEFAULT_N
    seed: int = 0
    r: int = DEFAULT_R
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
        if self.n != DEFAULT_N:
            parts.append(f"n{self.n}")
        if self.r != DEFAULT_R:
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
                   label=str(data["label"]), n=int(data.get("n") or DEFAULT_N),
                   seed=int(data.get("seed") or 0), r=int(data.get("r") or DEFAULT_R),
                   selection=Selection.from_json(data.get("selection")),
                   zoo=data.get("zoo"))


@dataclass
class SuspectResult:
    """One suspect's matching rate, with what it is (role, kind, pruning level), which points
    matched (``matches``: '1'/'0' per point; None in records stored before they were kept) and its
    p-values against the record's null model (a negative's leaves itself out)."""

    name: str
    role: str
    kind: str
    arch: str
    seed: int
    matching_rate: float
    test_accuracy: float | None = None
    hyper: dict[str, Any] = field(default_factory=dict)
    in_default_selection: bool = True  # counted in the headline ARUC
    matches: str | None = None
    p_value: float | None = None
    p_value_empirical: float | None = None

    @property
    def headline_negative(self) -> bool:
        """A negative the headline ARUC counts: every negative of the paper's zoo, not the
        harder negatives beyond it (docs/stealing.md)."""
        return self.role == "negative" and self.in_default_selection

    @property
    def null_negative(self) -> bool:
        """A negative the null model, the p-values and the calibrated thresholds rest on:
        every independent model, the harder negatives included, so that the false-positive
        rate is measured on the negatives a verdict can wrongly accuse (docs/verdicts.md)."""
        return self.role == "negative"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SuspectResult:
        return cls(**_known(cls, data))



def rates(suspects: Iterable[SuspectResult], role: str,
          headline_only: bool = False) -> list[float]:
    """Matching rates of the suspects with ``role``; ``headline_only`` keeps those the
    headline ARUC counts (the selected positives, the paper's negatives)."""
    return [s.matching_rate for s in suspects if s.role == role
            and (not headline_only or s.in_default_selection)]

@dataclass
class Extraction:
    """How the fingerprint was found: seconds, success, distance, iterations, and per-point
    statistics (``points``: i, j, iterations, success, l2, linf)."""

    seconds: float
    success_rate: float = math.nan
    mean_l2: float = math.nan
    mean_iterations: float = math.nan
    device: str | None = None
    points: dict[str, list[Any]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Extraction:
        values = {"seconds": math.nan, **_known(cls, data)}
        return cls(**{k: (math.nan if v is None and k != "device" else v)
                      for k, v in values.items()})


@dataclass
class Provenance:
    """Where and how the record was made; nothing here changes a number."""

    sweep: str = "adhoc"
    output_dir: str | None = None
    fingerprint_file: str | None = None
    finished_at: str | None = None
    wandb: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    git: str | None = None
    source: str = "bench"  # bench | wandb

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Provenance:
        return cls(**_known(cls, data))


@dataclass
class Record:
    """One bench run: its setting, its scores (headline selection and every admitted
    positive), each suspect's matching rate, the extraction and where it was made, and its
    ``verdicts`` (null model, calibrated thresholds, intervals; None in records
    stored before verdicts)."""

    setting: Setting
    headline: Scores | None
    effectiveness: float
    suspects: list[SuspectResult]
    extraction: Extraction
    all_admitted: Scores | None = None
    verify_seconds: float | None = None
    provenance: Provenance = field(default_factory=Provenance)
    key: str = ""  # the name it is stored under (setting.key() unless read from elsewhere)
    verdicts: Verdicts | None = None

    def __post_init__(self) -> None:
        if not self.key:
            self.key = self.setting.key()

    # what readers ask most
    @property
    def aruc(self) -> float:
        return self.headline.aruc if self.headline is not None else math.nan

    @property
    def auc(self) -> float:
        return self.headline.auc if self.headline is not None else math.nan

    @property
    def gap(self) -> float:
        return self.headline.gap if self.headline is not None else math.nan

    @property
    def method(self) -> str:
        return self.setting.method

    @property
    def combo(self) -> str:
        return self.setting.combo

    @property
    def sweep(self) -> str:
        return self.provenance.sweep

    def rates(self, role: str, headline_only: bool = False) -> list[float]:
        """Matching rates of the positives (or negatives); ``headline_only`` keeps the
        positives the headline selection counts."""
        return rates(self.suspects, role, headline_only)

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "key": self.key,
            "setting": self.setting.to_json(),
            "scores": {"headline": _scores_json(self.headline),
                       "all_admitted": _scores_json(self.all_admitted)},
            "effectiveness": self.effectiveness,
            "suspects": [asdict(s) for s in self.suspects],
            "extraction": asdict(self.extraction),
            "verify_seconds": self.verify_seconds,
            "provenance": asdict(self.provenance),
            "verdicts": self.verdicts.to_json() if self.verdicts is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], key: str | None = None) -> Record:
        """A record of schema 2, or of the flat schema 1 (stores made before this type)."""
        schema = data.get("schema")
        if schema == SCHEMA_V1:
            data = _v1_as_v2(data)
        elif schema != SCHEMA:
            raise ValueError(f"not an ipguard results record (schema {schema!r})")
        scores = data.get("scores") or {}
        return cls(
            setting=Setting.from_json(data["setting"]),
            headline=_scores(scores.get("headline")),
            all_admitted=_scores(scores.get("all_admitted")),
            effectiveness=_number(data.get("effectiveness")),
            suspects=[SuspectResult.from_json(s) for s in data.get("suspects") or []],
            extraction=Extraction.from_json(data.get("extraction") or {}),
            verify_seconds=data.get("verify_seconds"),
            provenance=Provenance.from_json(data.get("provenance") or {}),
            key=str(data.get("key") or key or ""),
            verdicts=Verdicts.from_json(data.get("verdicts")),
        )


def _v1_as_v2(data: Mapping[str, Any]) -> dict[str, Any]:
    """Schema 1 kept the setting and the provenance flat at the top, and the scores under
    ``metrics`` (``default``, ``all_within_budget``)."""
    metrics = data.get("metrics") or {}
    provenance = {k: data[k] for k in ("sweep", "output_dir", "fingerprint_file", "finished_at",
                                       "wandb", "config", "versions", "git", "source")
                  if data.get(k) is not None}
    return {**data, "setting": data, "provenance": provenance,
            "scores": {"headline": metrics.get("default"),
                       "all_admitted": metrics.get("all_within_budget")}}


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``data`` that are fields of the dataclass ``cls`` (others are ignored,
    so a record written by a later version still reads)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _scores_json(scores: Scores | None) -> dict[str, Any] | None:
    return None if scores is None else asdict(scores)


def _scores(data: Mapping[str, Any] | None) -> Scores | None:
    return None if not data else Scores(**{f.name: data[f.name] for f in fields(Scores)})


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)
