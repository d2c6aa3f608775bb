"""Safe loading (docs/reliability.md, section 3): no pickle on any file a user may receive from
someone else. A weights, forest or fingerprint file carrying a pickle payload is refused unread (the
payload never runs: its marker file is never created), a member.json naming a callable outside the
model packages is refused before anything is imported or called, and the zoo builder's own Lightning
checkpoints are read with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from ipguard.core.fingerprint import Fingerprint
from ipguard.utils.errors import IPGuardError
from ipguard.zoo import Member, load_zoo

from conftest import compose_cfg
from helpers import MICRO_ZOO, QUICK_BENCH, copy_zoo


class Payload:
    """Unpickling this writes ``marker``: proof that a loader ran code from the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def _plant(file: Path, marker: Path, how: str) -> None:
    """Replace ``file`` by a pickle whose loading would create ``marker``."""
    file.unlink(missing_ok=True)
    if how == "torch.save":  # torch's zip format, what a .pt/.ckpt "weights" file would be
        torch.save({"net.0.weight": Payload(marker)}, file)
    else:  # a bare pickle
        file.write_bytes(pickle.dumps({"state": Payload(marker)}, protocol=int(how)))


def test_the_payload_really_runs_when_unpickled(tmp_path):
    """The control: a plain torch.load (weights_only=False) of the same file runs the code."""
    marker = tmp_path / "marker"
    _plant(tmp_path / "w.pt", marker, "torch.save")
    torch.load(tmp_path / "w.pt", weights_only=False)
    assert marker.read_text() == "pwned"


@pytest.mark.parametrize("how", ["torch.save", "2", "4", "5"])
def test_weights_file_with_a_pickle_payload_is_refused(tmp_path, how):
    zoo = copy_zoo(tmp_path)
    marker = tmp_path / "marker"
    file = zoo / "negative" / "same_arch-s1" / "weights.safetensors"
    _plant(file, marker, how)
    with pytest.raises(IPGuardError, match="is a pickle") as exc:
        load_zoo(zoo)
    assert str(file) in str(exc.value)
    with pytest.raises(IPGuardError, match="is a pickle"):
        Member.load(file.parent).load_module()
    assert not marker.exists()


def test_bench_on_a_zoo_with_a_pickled_member_refuses_it(tmp_path):
    from ipguard.app.bench import run_bench

    zoo = copy_zoo(tmp_path)
    marker = tmp_path / "marker"
    _plant(zoo / "positive" / "rtal" / "weights.safetensors", marker, "torch.save")
    cfg = compose_cfg("bench", [*QUICK_BENCH, f"zoo_dir={zoo}"], tmp_path)
    with pytest.raises(IPGuardError, match="rtal/weights.safetensors is a pickle"):
        run_bench(cfg)
    assert not marker.exists()


def test_forest_file_with_a_pickle_payload_is_refused(tmp_path):
    zoo = copy_zoo(tmp_path)
    marker = tmp_path / "marker"
    file = zoo / "negative" / "forest-s0" / "forest.safetensors"
    _plant(file, marker, "4")
    with pytest.raises(IPGuardError, match="is a pickle"):
        Member.load(file.parent).load_classifier()
    assert not marker.exists()


@pytest.mark.parametrize("how", ["torch.save", "4"])
def test_fingerprint_file_with_a_pickle_payload_is_refused(tmp_path, how):
    marker = tmp_path / "marker"
    file = tmp_path / "fingerprint.safetensors"
    _plant(file, marker, how)
    with pytest.raises(IPGuardError, match="pickle file, refused unread"):
        Fingerprint.load(file)
    assert not marker.exists()


@pytest.mark.parametrize("target, kwargs", [
    ("os.system", {"command": "touch {marker}"}),
    ("builtins.exec", {"source": "open('{marker}', 'w')"}),
    ("subprocess.run", {"args": ["touch", "{marker}"]}),
    # names the model packages merely import (safetensors' writer, torch.hub's downloader)
    ("ipguard.models.forest.save_file", {"tensor_dict": {}, "filename": "{marker}"}),
    ("torchvision.models.resnet.load_state_dict_from_url", {"url": "file://{marker}"}),
    ("ipguard.models.digits._private", {}),
    ("ipguard.models..os.system", {"command": "touch {marker}"}),
])
def test_member_json_naming_a_foreign_callable_is_refused(tmp_path, target, kwargs):
    zoo = copy_zoo(tmp_path)
    marker = tmp_path / "marker"
    file = zoo / "negative" / "same_arch-s1" / "member.json"
    data = json.loads(file.read_text())
    spec = json.loads(json.dumps(kwargs).replace("{marker}", str(marker)))
    data["model"] = {"_target_": target, **spec}
    file.write_text(json.dumps(data))
    member = load_zoo(zoo).find("same_arch-s1")
    with pytest.raises(IPGuardError) as exc:
        member.load_module()
    assert str(file) in str(exc.value) and target in str(exc.value)
    assert not marker.exists()


def test_a_pickled_lightning_checkpoint_is_not_resumed(tmp_path, caplog):
    """The builder's own checkpoints are local files, but they are read with
    torch.load(weights_only=True) all the same: a planted one is refused, the member trains
    from the start, and the payload never runs."""
    from train.zoo import build_zoo

    marker = tmp_path / "marker"
    ckpt = tmp_path / "zoo" / "digits" / ".partial" / "target" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    torch.save({"state_dict": {}, "epoch": 1, "callbacks": {"LastCheckpoint": Payload(marker)}},
               ckpt)
    caplog.set_level("WARNING", logger="train.fit")
    build_zoo(compose_cfg("train", [*MICRO_ZOO, "member=target"], tmp_path))
    assert "cannot be resumed" in caplog.text and "UnpicklingError" in caplog.text
    assert not marker.exists()
    assert (tmp_path / "zoo" / "digits" / "target" / "target" / "member.json").is_file()


def test_results_and_members_are_plain_json(tmp_path):
    """What a run writes for others to read is JSON or safetensors, never a pickle."""
    from ipguard.app.bench import run_bench
    from ipguard.utils.io import is_pickle

    zoo = copy_zoo(tmp_path)
    run_bench(compose_cfg("bench", [*QUICK_BENCH, f"zoo_dir={zoo}"], tmp_path))
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in
               (".json", ".safetensors")]
    assert any(p.name == "fingerprint.safetensors" for p in written)
    for p in written:
        assert not is_pickle(p), p
        if p.suffix == ".json":
            json.loads(p.read_text())
