"""The schemes table compares scores on different scales only where they read alike: ROC-AUC
and the TPR at a threshold set on the negatives' own scores (the order statistic, or above
every negative when they are too few), with Clopper-Pearson intervals; the ARUC only for a
rate; "n/a (needs probabilities)" where a scheme could not query a suspect; the queries and
generation seconds of methods and schemes alike; a figure panel per attack family."""

from __future__ import annotations

import math

import pytest

from ipguard.core.metrics import score
from ipguard.paper.schemes_table import NA, NOT_A_RATE, operating, schemes_table
from ipguard.results.record import Extraction, Record, SchemeRun, SuspectResult
from ipguard.results.setting import Setting


def _suspect(name: str, role: str, kind: str, value: float, na: bool = False,
             headline: bool = True) -> SuspectResult:
    return SuspectResult(name=name, role=role, kind=kind, arch="small_cnn", seed=0,
                         matching_rate=math.nan if na else value,
                         in_default_selection=headline,
                         not_applicable="needs probabilities" if na else None)


def _record(method: str, values: dict[str, float], scheme: SchemeRun | None = None,
            forest_na: bool = False) -> Record:
    suspects = [_suspect("ftll", "positive", "ftll", values["ftll"]),
                _suspect("ftal", "positive", "ftal", values["ftal"]),
                _suspect("distill-same", "positive", "distill", values["distill"],
                         headline=False),
                *(_suspect(f"same_arch-s{i}", "negative", "same_arch", values["neg"] + i / 100)
                  for i in range(3)),
                _suspect("forest-s0", "negative", "forest", values["forest"], forest_na)]
    pos = [s.matching_rate for s in suspects[:2]]
    neg = [s.matching_rate for s in suspects[3:] if s.scored]
    rate = scheme is None or scheme.score_is_rate
    return Record(Setting("digits", method, {}, "train", "least_likely", n=50),
                  score(pos, neg) if rate else None, 1.0, suspects,
                  Extraction(seconds=2.5), scheme=scheme)


def test_the_threshold_is_the_order_statistic_or_above_every_negative():
    many = operating(list(range(199)), fpr=0.01)   # N = 199: k = 2, the 2nd largest
    assert many.supported and many.tau == 197 and many.rate([197, 198, 300]).k == 2
    few = operating([0.1, 0.4, 0.3], fpr=0.01)     # N = 3: too few for 1 %
    assert not few.supported and few.tau == 0.4 and "99 needed" in few.method
    rate = few.rate([0.4, 0.5, 0.9, 0.2])          # strictly above: a tie is not a detection
    assert (rate.k, rate.n) == (2, 4) and rate.lo < 0.5 < rate.hi
    assert operating([]) is None


def test_rates_get_an_aruc_similarities_do_not_and_na_is_said():
    method = _record("ipguard", {"ftll": 0.9, "ftal": 0.8, "distill": 0.6, "neg": 0.3,
                                 "forest": 0.1})
    sac = _record("sac_w", {"ftll": 0.99, "ftal": 0.98, "distill": 0.975, "neg": 0.95,
                            "forest": 0.0},
                  SchemeRun("sac_w", "SAC-w", "prob", False, 100), forest_na=True)
    output = schemes_table("digits", [sac, method])
    table = output.items[0].table
    titles = [row[0] for row in table.rows if row[0]]
    assert titles == ["IPGuard-TL", "SAC-w"]                  # the paper's methods first
    head = {d["scheme"]: d for d in table.data if d["family"] == "headline"}
    assert head["ipguard"]["aruc"] == pytest.approx(method.aruc)
    assert head["sac_w"]["aruc"] is None and head["sac_w"]["auc"] == 1.0
    rows = {(d["scheme"], d["family"]): d for d in table.data}
    assert rows[("ipguard", "headline")]["tpr"] == 1.0   # both above the 3 negatives
    assert rows[("ipguard", "distill")]["tpr"] == 1.0 and rows[("sac_w", "distill")]["tpr"] \
        == 1.0
    forest_rows = [r for r in table.rows if r[1].startswith("Random forest")]
    assert forest_rows[0][3] != NA and forest_rows[1][3] == NA
    assert forest_rows[1][2] == "0 (+1 n/a)" and rows[("sac_w", "forest")]["not_applicable"] == 1
    sac_head = next(r for r in table.rows if r[0] == "SAC-w")
    assert sac_head[6] == NOT_A_RATE and sac_head[7] == "100" and sac_head[8] == "2.5"
    ipg_head = next(r for r in table.rows if r[0] == "IPGuard-TL")
    assert ipg_head[7] == "50"   # a method's queries: its n points
    assert any("too few for 1 %" in note for note in table.notes)


def test_the_figure_has_a_panel_per_attack_family(tmp_path):
    method = _record("ipguard", {"ftll": 0.9, "ftal": 0.8, "distill": 0.2, "neg": 0.3,
                                 "forest": 0.1})
    output = schemes_table("digits", [method])
    (figure,) = [item for item in output.items if not hasattr(item, "table")]
    files = figure.draw(tmp_path / f"{figure.stem}.png")
    assert sorted(p.suffix for p in files) == [".pdf", ".png"]
    assert all(p.stat().st_size > 0 for p in files)


def test_no_records_no_table():
    assert schemes_table("digits", []).items == []
