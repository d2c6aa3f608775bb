"""What a fingerprint's header and a suspect's ``hyper`` say is read through typed fields, while
the files on disk keep their form: fingerprints of format ``ipguard.fingerprint/1`` and records
of schema 1 and 2 load, and a record written now has the keys it always had."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ipguard.core.fingerprint import FORMAT, Fingerprint, FingerprintMeta
from ipguard.results.record import SCHEMA, Record, SuspectResult
from ipguard.results.record_v1 import SCHEMA_V1
from ipguard.utils.errors import IPGuardError

V1_STORE = Path(__file__).resolve().parents[1] / "data" / "figures_v1" / "results"
# The header extract wrote before the typed metadata (every key, target null without an id).
OLD_HEADER = {"method": "ipguard", "params": {"k": 3.0, "lr": 0.001, "max_iter": 1000,
                                              "betas": [0.9, 0.999], "eps": 1e-08},
              "init": "train", "label": "least_likely", "combo": "-TL", "n": 3, "seed": 0,
              "seconds": 0.5, "target": None, "device": "cpu", "success_rate": 1.0,
              "mean_l2": 0.25, "mean_iterations": 12}


def _fingerprint_file(path: Path, meta: dict) -> Path:
    save_file({"x": torch.rand(3, 1, 4, 4), "y": torch.tensor([0, 1, 2])}, str(path),
              metadata={"meta": json.dumps(meta), "format": FORMAT})
    return path


def test_an_old_fingerprint_header_loads_into_typed_fields(tmp_path):
    fp = Fingerprint.load(_fingerprint_file(tmp_path / "old.safetensors", OLD_HEADER))
    assert fp.meta.method == "ipguard" and fp.meta.combo == "-TL" and fp.meta.n == 3
    assert fp.meta.params["k"] == 3.0 and fp.meta.target is None and fp.meta.extra == {}
    assert fp.meta.mean_iterations == 12.0 and isinstance(fp.meta.mean_iterations, float)
    again = Fingerprint.load(fp.save(tmp_path / "again.safetensors"))
    assert again.meta == fp.meta


def test_keys_this_version_does_not_know_ride_along(tmp_path):
    meta = {"seed": 4, "made_by": "someone else", "notes": {"a": 1}}
    fp = Fingerprint.load(_fingerprint_file(tmp_path / "fp.safetensors", meta))
    assert fp.meta == FingerprintMeta(seed=4, extra={"made_by": "someone else", "notes": {"a": 1}})
    assert fp.meta.to_json() == meta


@pytest.mark.parametrize("meta, shown", [
    ({"n": "many"}, "n='many' is not an integer"),
    ({"seconds": "slow"}, "seconds='slow' is not a number"),
    ({"n": True}, "n=True is not an integer"),
    ({"params": [1, 2]}, "params=[1, 2] is not a JSON object"),
])
def test_a_mistyped_fingerprint_header_is_one_line(tmp_path, meta, shown):
    path = _fingerprint_file(tmp_path / "bad.safetensors", meta)
    with pytest.raises(IPGuardError) as exc:
        Fingerprint.load(path)
    assert shown in str(exc.value) and "\n" not in str(exc.value)
    assert "`python -m ipguard.bench`" in str(exc.value)


def test_a_suspects_hyper_is_read_through_typed_fields():
    stolen = SuspectResult("extract_label-q100", "positive", "extract_label", "lenet5", 1, 0.8,
                           hyper={"agreement": 1, "queries": 100.0, "api": "label",
                                  "attack": "extraction through the label API"})
    assert (stolen.agreement, stolen.queries, stolen.api) == (1.0, 100, "label")
    assert isinstance(stolen.agreement, float) and isinstance(stolen.queries, int)
    paper = SuspectResult("ftll", "positive", "ftll", "small_cnn", 1, 1.0, hyper={"flops": 5})
    assert (paper.agreement, paper.queries, paper.api) == (None, None, None)
    # stored as before: the hyper mapping as it came, no key of its own for the typed reads
    assert asdict(stolen)["hyper"] == stolen.hyper
    assert list(asdict(stolen)) == ["name", "role", "kind", "arch", "seed", "matching_rate",
                                    "test_accuracy", "hyper", "in_default_selection", "matches",
                                    "p_value", "p_value_empirical", "part", "verify_queries",
                                    "not_applicable"]


def test_records_of_both_schemas_load_and_are_written_as_schema_2():
    files = sorted(V1_STORE.rglob("*.json"))
    assert files and all(json.loads(f.read_text())["schema"] == SCHEMA_V1 for f in files)
    for file in files:
        data = json.loads(file.read_text())
        record = Record.from_json(data)
        assert record.key == data["key"] and record.setting.method == data["method"]
        written = record.to_json()
        assert written["schema"] == SCHEMA
        assert list(written) == ["schema", "key", "setting", "scores", "effectiveness",
                                 "suspects", "extraction", "verify_seconds", "provenance",
                                 "verdicts", "scheme"]
        back = Record.from_json(json.loads(json.dumps(written)))
        assert back.to_json() == written
        assert [s.hyper for s in back.suspects] == [s["hyper"] for s in data["suspects"]]
