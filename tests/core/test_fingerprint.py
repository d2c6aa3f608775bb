"""Fingerprints save and load without pickle; bad files are refused with one clear line."""

import dataclasses

import pytest
import torch
from torch import nn

from ipguard import IPGuard, extract
from ipguard.core.fingerprint import Fingerprint
from ipguard.utils.errors import IPGuardError


def _tiny_target() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 5))


def test_round_trip_keeps_points_labels_and_metadata(tmp_path):
    target = _tiny_target()
    fp = extract(target, IPGuard(k=0.5, lr=0.05), init="random", label="least_likely", n=12,
                 seed=3, input_shape=(1, 4, 4), target_id="t")
    path = fp.save(tmp_path / "fp.safetensors")
    back = Fingerprint.load(path)
    assert torch.equal(back.x, fp.x) and torch.equal(back.y, fp.y)
    params = {**fp.meta.params, "betas": list(fp.meta.params["betas"])}
    assert back.meta == dataclasses.replace(fp.meta, params=params)
    assert back.meta.combo == "-RL" and back.meta.seed == 3 and back.meta.n == 12
    assert back.meta.params["k"] == 0.5 and back.meta.seconds == fp.meta.seconds > 0
    for key in ("i", "j", "iterations", "success", "l2", "linf"):
        assert torch.equal(back.stats[key], fp.stats[key])
    # the file is a safetensors file: no pickle opcodes, a JSON header
    assert path.read_bytes()[8:9] == b"{"


def test_labels_are_the_targets_predictions(tmp_path):
    target = _tiny_target()
    fp = extract(target, IPGuard(k=0.5, lr=0.05), init="random", label="random", n=20, seed=0,
                 input_shape=(1, 4, 4))
    assert torch.equal(fp.y, target(fp.x).argmax(1))


def test_same_seed_gives_identical_fingerprint_bit_for_bit():
    target = _tiny_target()
    a = extract(target, IPGuard(k=1.0, lr=0.05), init="random", label="random", n=8, seed=5,
                input_shape=(1, 4, 4))
    b = extract(target, IPGuard(k=1.0, lr=0.05), init="random", label="random", n=8, seed=5,
                input_shape=(1, 4, 4))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)


@pytest.mark.parametrize(
    "x, y, message",
    [
        (torch.rand(3, 16), torch.zeros(3, dtype=torch.long), "shape"),
        (torch.rand(3, 1, 4, 4) * 2, torch.zeros(3, dtype=torch.long), r"\[0, 1\]"),
        (torch.rand(3, 1, 4, 4), torch.zeros(3), "integer"),
        (torch.rand(3, 1, 4, 4), torch.zeros(2, dtype=torch.long), "y must be"),
    ],
)
def test_bad_fingerprint_files_are_refused(tmp_path, x, y, message):
    from safetensors.torch import save_file

    path = tmp_path / "bad.safetensors"
    save_file({"x": x, "y": y}, str(path))
    with pytest.raises(IPGuardError, match=message):
        Fingerprint.load(path)


def test_truncated_or_foreign_file_is_refused(tmp_path):
    path = tmp_path / "fp.safetensors"
    path.write_bytes(b"\x80\x04K\x01.")  # a pickle, not a safetensors file
    with pytest.raises(IPGuardError, match="not a readable safetensors"):
        Fingerprint.load(path)
