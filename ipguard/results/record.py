"""The results record: what one bench run measured, as a typed value.

A ``Record`` is written by ``ipguard.bench``, stored by ``ipguard.results.store`` (one JSON file per
setting) and mirrored to W&B; every table and figure reads records by their fields. Its
``Setting`` (ipguard.results.setting) says what was measured and names the file (``key()``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ipguard.core.calibration import Verdicts
from ipguard.core.metrics import Scores
from ipguard.results.record_v1 import SCHEMA_V1, v1_as_v2
from ipguard.results.setting import Setting
from ipguard.zoo.hyper import MemberHyper

SCHEMA = "ipguard.results/2"


@dataclass
class SuspectResult:
    """One suspect's matching rate, with what it is (role, kind, and ``hyper``: member.json's
    record of how it was made, open-ended, one set of keys per kind), which points matched
    (``matches``: '1'/'0' per point; None in records stored before they were kept) and its
    p-values against the record's null model (a negative's leaves itself out). What the
    tables read from ``hyper`` they read through its typed view
    (``ipguard.zoo.hyper.MemberHyper``)."""

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
    part: str | None = None  # in a population: "validation" or "test"; None in a zoo's record
    # a field scheme's run (Record.scheme): ``matching_rate`` holds the scheme's score, and
    # these say the inputs this verification sent, or why the suspect has no score (NaN):
    # "needs probabilities" for a label-only suspect of a probability scheme
    verify_queries: int | None = None
    not_applicable: str | None = None

    @property
    def scored(self) -> bool:
        """Whether the suspect has a score (a scheme that does not apply to it leaves none)."""
        return self.not_applicable is None and not math.isnan(self.matching_rate)

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

    @property
    def agreement(self) -> float | None:
        """A stealing suspect's or harder negative's share of test images on which it gives
        the target's label (None for the paper's suspects)."""
        return MemberHyper.of(self.hyper).agreement

    @property
    def queries(self) -> int | None:
        """An extraction attacker's number of queries to the target's API."""
        return MemberHyper.of(self.hyper).queries

    @property
    def api(self) -> str | None:
        """An extraction attacker's API: ``label`` or ``prob``."""
        return MemberHyper.of(self.hyper).api

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
class SchemeRun:
    """A field scheme's run (``ipguard.app.scheme_bench``, docs/schemes.md), beside its
    setting (whose method is the scheme's name, params its hyper-parameters): how its paper
    names it, the access it needs ("label" or "prob"), whether its score is a rate (only then
    do the ARUC and the verdicts apply), the inputs one verification sends and what the
    fingerprint's own record says (``meta``: CAE's mean conferrability, ...). Generation
    seconds are the record's ``extraction.seconds``."""

    name: str
    title: str
    access: str
    score_is_rate: bool
    queries: int
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> SchemeRun | None:
        return None if not data else cls(**_known(cls, data))


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
    population_target: int | None = None   # a population's record: its target's seed
    population_part: str | None = None     # and the population it is in (validation, test)

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
    scheme: SchemeRun | None = None  # a field scheme's run; None for the paper's methods

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
            "scheme": asdict(self.scheme) if self.scheme is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], key: str | None = None) -> Record:
        """A record of schema 2, or of the flat schema 1 (stores made before this type)."""
        schema = data.get("schema")
        if schema == SCHEMA_V1:
            data = v1_as_v2(data)
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
            scheme=SchemeRun.from_json(data.get("scheme")),
        )


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

