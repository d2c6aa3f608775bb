"""The bench runs a field scheme (scheme=<name>) on every suspect of a zoo: one fingerprint from
the target and the owner's data (CAE: and the owner's auxiliary models, built by the zoo
builder under auxiliary/, never suspects), every suspect scored through a SuspectAPI with its
queries counted, "needs probabilities" where a probability scheme meets a label-only forest,
the ARUC and verdicts only for a rate, and the record stored, skipped on rerun and read back
by the schemes table."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from ipguard.app.bench import run_bench
from ipguard.app.config import typed
from ipguard.paper.schemes_table import NA, schemes_table
from ipguard.paper.tables import Table
from ipguard.results.store import read_record, read_records_dir
from ipguard.utils.errors import MissingZooError
from ipguard.zoo import load_zoo
from train.plan import plan
from train.schema import TrainConfig

from conftest import compose_cfg
from helpers import MICRO_ZOO, micro_zoo

AUX = ["member=auxiliary", "zoo.auxiliary.surrogates=2", "zoo.auxiliary.references=2"]


@pytest.fixture(scope="module")
def aux_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the micro zoo with 2 surrogates and 2 references built into it."""
    from train.zoo import build_zoo

    root = tmp_path_factory.mktemp("schemes")
    shutil.copytree(micro_zoo(), root / "zoo" / "digits")
    build_zoo(compose_cfg("train", [*MICRO_ZOO, "logger=none", *AUX], root))
    return root


def _bench(root: Path, *overrides: str):
    cfg = compose_cfg("bench", ["logger=none", "threads=1", "store.sweep=schemes", *overrides],
                      root)
    return run_bench(cfg)


def test_the_auxiliary_members_are_the_owners_and_never_suspects(aux_root):
    zoo = load_zoo(aux_root / "zoo" / "digits")
    aux = zoo.auxiliary()
    assert sorted(m.name for m in aux) == ["reference-0", "reference-1", "surrogate-0",
                                           "surrogate-1"]
    assert all(m.dir.parent.name == "auxiliary" and m.role == "auxiliary" for m in aux)
    assert {m.seed for m in aux} == {4500, 4501, 4600, 4601}
    assert all(m.hyper["agreement"] > 0.5 for m in aux)  # trained, and measured against it
    suspects = {m.name for m in zoo.suspects()}
    assert not suspects & {m.name for m in aux}
    assert not {m.seed for m in zoo.suspects()} & {m.seed for m in aux}
    # built after the suspects were measured, they leave every other record valid
    assert zoo.identity() == load_zoo(micro_zoo()).identity()
    assert zoo.identity(auxiliary=True) != zoo.identity()


def test_auxiliary_members_are_planned_only_when_selected(tmp_path):
    cfg = typed(compose_cfg("train", AUX, tmp_path), TrainConfig)
    jobs = plan(cfg.zoo, "auxiliary")
    assert [(j.name, j.role, j.seed) for j in jobs] == [
        ("surrogate-0", "auxiliary", 4500), ("surrogate-1", "auxiliary", 4501),
        ("reference-0", "auxiliary", 4600), ("reference-1", "auxiliary", 4601)]
    everything = [*plan(cfg.zoo, "all"), *plan(cfg.zoo, "stealing")]
    assert not {j.kind for j in everything} & {"surrogate", "reference"}
    assert not {j.seed for j in jobs} & {j.seed for j in everything}  # seeds of their own


def test_a_label_scheme_scores_every_suspect_and_gets_the_verdicts(aux_root):
    result = _bench(aux_root, "scheme=akh", "scheme.n=20")
    record = result.record
    assert not result.skipped and result.path.parent == aux_root / "results" / "digits" / \
        "schemes"
    assert record.method == "akh" and record.setting.params == {"n": 20, "augment": True}
    assert record.scheme.score_is_rate and record.scheme.access == "label"
    assert record.scheme.queries == 20 and record.extraction.seconds > 0
    assert all(s.scored and s.verify_queries == 20 for s in record.suspects)
    assert {s.kind for s in record.suspects} >= {"forest", "ftll", "same_arch"}
    assert 0 <= record.aruc <= 1 and record.verdicts is not None
    assert record.effectiveness == 1.0  # the target repeats its own mistakes
    stored = json.loads(result.path.read_text())
    assert stored["scheme"]["queries"] == 20 and stored["suspects"][0]["verify_queries"] == 20
    again = _bench(aux_root, "scheme=akh", "scheme.n=20", "method=fgsm")  # another method
    assert again.skipped and again.path == result.path  # a scheme ignores the method


def test_a_probability_scheme_leaves_the_forest_without_a_score(aux_root):
    record = _bench(aux_root, "scheme=sac_w", "scheme.n=20").record
    forests = [s for s in record.suspects if s.kind == "forest"]
    assert forests and all(s.not_applicable == "needs probabilities" and
                           math.isnan(s.matching_rate) and s.verify_queries == 0
                           for s in forests)
    others = [s for s in record.suspects if s.kind != "forest"]
    assert all(s.scored and s.verify_queries == 20 for s in others)
    assert not record.scheme.score_is_rate and record.scheme.access == "prob"
    assert math.isnan(record.aruc) and 0 <= record.auc <= 1 and record.verdicts is None
    back = read_record(aux_root / "results" / "digits" / "schemes" / f"{record.key}.json")
    assert [s.not_applicable for s in back.suspects] == [s.not_applicable for s in
                                                          record.suspects]


def test_cae_is_built_with_the_owners_auxiliary_models(aux_root, tmp_path):
    record = _bench(aux_root, "scheme=cae", "scheme.n=10", "scheme.max_iter=5").record
    zoo = load_zoo(aux_root / "zoo" / "digits")
    assert record.setting.zoo == zoo.identity(auxiliary=True)  # they made the fingerprint
    assert record.scheme.meta["surrogates"] == 2 and record.scheme.meta["references"] == 2
    assert record.scheme.queries == 10 and record.verdicts is not None
    shutil.copytree(micro_zoo(), tmp_path / "zoo" / "digits")   # no auxiliary models
    with pytest.raises(MissingZooError, match=r"member=auxiliary") as exc:
        _bench(tmp_path, "scheme=cae")
    assert "\n" not in str(exc.value)


def test_the_schemes_table_reads_the_records(aux_root):
    _bench(aux_root, "scheme=akh", "scheme.n=20")
    _bench(aux_root, "scheme=sac_w", "scheme.n=20")
    records = read_records_dir(aux_root / "results" / "digits" / "schemes")
    output = schemes_table("digits", records)
    (table,) = [item.table for item in output.items if isinstance(getattr(item, "table", None),
                                                                  Table)]
    titles = [row[0] for row in table.rows if row[0]]
    assert titles[:2] == ["AKH", "SAC-w"]
    forest = [row for row in table.rows if row[1].startswith("Random forest")]
    assert forest[1][3] == NA and forest[0][3] != NA   # AKH scores it, SAC-w cannot
    head = {d["scheme"]: d for d in table.data if d["family"] == "headline"}
    assert head["akh"]["aruc"] is not None and head["sac_w"]["aruc"] is None
    assert head["akh"]["tpr_n"] == head["sac_w"]["tpr_n"] == 6  # the paper's positives
    assert any(getattr(item, "stem", "") == "schemes-digits" and not hasattr(item, "table")
               for item in output.items)
