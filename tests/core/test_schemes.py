"""The scheme interface (ipguard.core.schemes, docs/schemes.md): the suspect API's access and
query counting, the fingerprint record and file, the registry, and, on tiny MLPs trained on
scikit-learn's 8x8 digits in this file, that every scheme ranks a copy of the target (and a
lightly fine-tuned copy) above independently trained models.

The defining computations of each scheme are tested in tests/core/test_scheme_defs.py."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from torch import nn
from torch.nn import functional as F

from ipguard.core.classifier import ForestClassifier, TorchClassifier
from ipguard.core.extract import extract
from ipguard.core.methods import FGSM, IGSM, IPGuard
from ipguard.core.schemes import (
    ACCESS,
    CAE,
    SACM,
    SACW,
    SCHEMES,
    Auxiliary,
    Misclassified,
    ModelDiff,
    NeedsProbabilities,
    Points,
    Scheme,
    SchemeFingerprint,
    SuspectAPI,
    Zest,
)
from ipguard.core.verify import verify
from ipguard.models.forest import TreeEnsemble
from ipguard.utils.errors import ConfigError, IPGuardError


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these models are tiny, and several threads on a shared 2-core machine
    make training them many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def mlp(seed: int, hidden: int = 32) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float,
        sgd: bool = False) -> nn.Module:
    """Full-batch Adam (or SGD): a few hundred milliseconds for these sizes."""
    model.train()
    opt = (torch.optim.SGD if sgd else torch.optim.Adam)(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


class Zoo:
    """Digits split in two: the owner's data (the target's training set) and a held-out part;
    the target, a copy, a lightly fine-tuned copy (10 SGD steps: it agrees with the target on
    about 99 % of the held-out inputs), two independent models (one of them of another width,
    trained on the held-out part), and the owner's auxiliary models for CAE (two fine-tuned
    surrogates, two independent references), none of them a suspect."""

    def __init__(self) -> None:
        digits = load_digits()
        x = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16
        y = torch.tensor(digits.target)
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
        train, held = perm[:1200], perm[1200:]
        self.owner_x, self.owner_y = x[train], y[train]
        self.held_x, self.held_y = x[held], y[held]
        self.target = fit(mlp(0), self.owner_x, self.owner_y, 150, 0.01)
        self.copy = copy.deepcopy(self.target)
        self.light = self.finetune(seed=30, steps=10, lr=0.05, sgd=True)
        self.independent = fit(mlp(1), self.owner_x, self.owner_y, 150, 0.01)
        self.other = fit(mlp(5, 48), self.held_x, self.held_y, 150, 0.01)
        self.aux = Auxiliary(
            surrogates=[self.finetune(seed=10, steps=30, lr=0.003),
                        self.finetune(seed=11, steps=30, lr=0.003)],
            references=[fit(mlp(2), self.owner_x, self.owner_y, 150, 0.01),
                        fit(mlp(3), self.owner_x, self.owner_y, 150, 0.01)])

    def finetune(self, seed: int, steps: int, lr: float, sgd: bool = False) -> nn.Module:
        """The target fine-tuned on 300 held-out inputs (all layers)."""
        torch.manual_seed(seed)
        idx = torch.randperm(len(self.held_x))[:300]
        return fit(copy.deepcopy(self.target), self.held_x[idx], self.held_y[idx], steps, lr,
                   sgd)


@functools.lru_cache(maxsize=1)
def zoo() -> Zoo:
    return Zoo()


# Small settings: each scheme generates and scores in well under a second on a slow CPU.
SMALL = {
    "ipguard": lambda: Points(IPGuard(max_iter=200), n=30),
    "igsm": lambda: Points(IGSM(max_iter=100), n=30),
    "akh": lambda: Misclassified(n=30),
    "sac_w": lambda: SACW(n=30),
    "sac_m": lambda: SACM(n=30),
    "modeldiff": lambda: ModelDiff(n=50),
    "cae": lambda: CAE(n=30, max_iter=50, alpha=0.01),
    "zest": lambda: Zest(references=16, samples=100),
}


def test_every_scheme_is_registered_and_declares_its_access_and_score_kind():
    assert set(SCHEMES) == {"points", "akh", "sac_w", "sac_m", "modeldiff", "cae", "zest"}
    for name, cls in SCHEMES.items():
        assert isinstance(cls(), Scheme), name
        assert cls.access in ACCESS, name
        assert isinstance(cls.is_rate, bool), name
        assert cls.__module__ and cls.__doc__, name
    rates = {name for name, cls in SCHEMES.items() if cls.is_rate}
    assert rates == {"points", "akh", "cae"}
    assert {n for n, c in SCHEMES.items() if c.access == "prob"} == {"sac_w", "sac_m",
                                                                     "modeldiff", "zest"}


def test_the_suspect_api_counts_queries_across_calls_and_scores_report_their_own():
    z = zoo()
    api = SuspectAPI(z.copy)
    api.labels(z.owner_x[:5])
    api.probabilities(z.owner_x[:7])
    api.predict(z.owner_x[:3])
    assert api.queries == 15
    scheme = SACM(n=20)
    fp = scheme.generate(z.target, z.owner_x, z.owner_y)
    first = scheme.score(fp, api)
    second = scheme.score(fp, api)
    assert first.queries == second.queries == fp.queries == 20
    assert api.queries == 55
    p = api.probabilities(z.owner_x[:4])
    assert torch.allclose(p.sum(dim=1), torch.ones(4, dtype=p.dtype))
    assert torch.equal(p.argmax(1), api.labels(z.owner_x[:4]))


def test_a_label_only_suspect_refuses_probabilities_before_any_query():
    z = zoo()
    forest = RandomForestClassifier(n_estimators=3, random_state=0)
    forest.fit(z.owner_x.flatten(1).numpy(), z.owner_y.numpy())
    for suspect in (SuspectAPI(ForestClassifier(TreeEnsemble.from_sklearn(forest))),
                    SuspectAPI(z.copy, access="label")):
        assert suspect.access == "label"
        with pytest.raises(NeedsProbabilities, match="n/a \\(needs probabilities\\)"):
            suspect.probabilities(z.owner_x[:2])
        for make in (SACW, ModelDiff):
            scheme = make(n=10)
            fp = scheme.generate(z.target, z.owner_x, z.owner_y)
            with pytest.raises(NeedsProbabilities):
                scheme.score(fp, suspect)
        assert suspect.queries == 0
        label_scheme = Misclassified(n=10)
        fp = label_scheme.generate(z.target, z.owner_x, z.owner_y)
        assert label_scheme.score(fp, suspect).queries == 10
    with pytest.raises(ConfigError, match="labels only"):
        SuspectAPI(ForestClassifier(TreeEnsemble.from_sklearn(forest)), access="prob")
    with pytest.raises(ConfigError):
        SuspectAPI(z.copy, access="logits")


@pytest.mark.parametrize("method", [IPGuard(max_iter=200), FGSM(), IGSM(max_iter=100)],
                         ids=lambda m: m.name)
def test_the_points_scheme_is_extract_and_verify_to_the_bit(method):
    z = zoo()
    scheme = Points(method, init="train", label="least_likely", n=25)
    fp = scheme.generate(z.target, z.owner_x, z.owner_y, seed=4)
    paper = extract(z.target, method, init="train", label="least_likely", n=25, seed=4,
                    train_x=z.owner_x)
    assert torch.equal(fp["x"], paper.x) and torch.equal(fp["y"], paper.y)
    assert scheme.name == method.name and fp.queries == 25 and fp.access == "label"
    for model in (z.copy, z.light, z.independent, z.other):
        expected = verify(paper, TorchClassifier(model)).matching_rate
        assert scheme.score(fp, TorchClassifier(model)).value == expected
        assert scheme.score(fp, model).value == expected


def test_a_fingerprint_records_access_queries_and_seconds_and_survives_a_file(tmp_path):
    z = zoo()
    for name in ("ipguard", "sac_w", "zest"):
        scheme = SMALL[name]()
        fp = scheme.generate(z.target, z.owner_x, z.owner_y, seed=1)
        assert fp.scheme == scheme.name and fp.access == scheme.access
        assert fp.seconds > 0 and fp.meta["seed"] == 1 and fp.meta["params"]
        path = fp.save(tmp_path / f"{name}.safetensors")
        again = SchemeFingerprint.load(path)
        assert again.meta == fp.meta
        assert again.tensors.keys() == fp.tensors.keys()
        assert all(torch.equal(again[k], v) for k, v in fp.tensors.items())
        assert scheme.score(again, z.light) == scheme.score(fp, z.light)
    torch.save({"x": torch.zeros(1)}, tmp_path / "evil.safetensors")
    with pytest.raises(IPGuardError, match="pickle"):
        SchemeFingerprint.load(tmp_path / "evil.safetensors")
    with pytest.raises(IPGuardError, match="cannot be scored"):
        SACM(n=5).score(SchemeFingerprint.load(tmp_path / "sac_w.safetensors"), z.copy)


def test_generation_is_deterministic_for_its_seed():
    z = zoo()
    for name in ("akh", "sac_m", "modeldiff", "zest"):
        a = SMALL[name]().generate(z.target, z.owner_x, z.owner_y, seed=7)
        b = SMALL[name]().generate(z.target, z.owner_x, z.owner_y, seed=7)
        assert all(torch.equal(a[k], b[k]) for k in a.tensors), name


@pytest.mark.parametrize("name", list(SMALL))
def test_every_scheme_ranks_copies_above_independent_models(name):
    z = zoo()
    scheme = SMALL[name]()
    fp = scheme.generate(z.target, z.owner_x, z.owner_y, aux=z.aux, seed=0)
    scores = {k: scheme.score(fp, getattr(z, k)) for k in
              ("copy", "light", "independent", "other")}
    assert all(s.queries == fp.queries for s in scores.values())
    assert scores["copy"].value == pytest.approx(1.0)
    negatives = max(scores["independent"].value, scores["other"].value)
    assert scores["copy"].value > negatives
    assert scores["light"].value > negatives
    if scheme.is_rate:
        assert all(0.0 <= s.value <= 1.0 for s in scores.values())


def test_cae_needs_the_owners_auxiliary_models():
    z = zoo()
    with pytest.raises(IPGuardError, match="surrogate"):
        CAE(n=5).generate(z.target, z.owner_x, z.owner_y)
    with pytest.raises(IPGuardError, match="surrogate"):
        CAE(n=5).generate(z.target, z.owner_x, z.owner_y,
                          aux=Auxiliary(surrogates=[z.copy], references=[]))


@pytest.mark.parametrize("make", [
    lambda: Points(n=0), lambda: Points(init="nowhere"), lambda: Misclassified(n=-1),
    lambda: SACW(output="logprob"), lambda: ModelDiff(pairs="odd"), lambda: ModelDiff(eps=2),
    lambda: CAE(eps=0), lambda: CAE(max_iter=0), lambda: Zest(samples=4),
])
def test_invalid_hyper_parameters_are_refused_with_one_line(make):
    with pytest.raises(ConfigError):
        make()


def test_bad_owner_data_are_refused():
    z = zoo()
    with pytest.raises(ConfigError, match="owner_x"):
        SACM(n=5).generate(z.target, z.owner_x[0], z.owner_y)
    with pytest.raises(ConfigError, match="owner_y"):
        SACM(n=5).generate(z.target, z.owner_x, z.owner_y[:-1])
    with pytest.raises(ConfigError, match="owner_x"):
        SACM(n=5).generate(z.target, z.owner_x * 16, z.owner_y)
