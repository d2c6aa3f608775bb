"""The target as an extraction attacker sees it (docs/stealing.md): the pool of inputs the
attacker can send, the queries drawn from it under a budget, the target's answers through
its label or probability API (saved once, so a resumed student does not ask again), and how
often two models' labels agree.

An extraction attacker sees the target only through a :class:`QueryAPI`: labels (what Verify
queries) or probability vectors, never both, never the network or its logits, and no query
past its budget, so a student provably saw at most that many answers of one kind."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from ipguard.core.classifier import TorchClassifier
from ipguard.data import ImageData
from ipguard.utils.errors import ConfigError, IPGuardError
from ipguard.utils.io import atomic_write
from train.training_sets import owner_size

QUERIES_FILE = "queries.safetensors"   # <zoo>/.partial/<member>/: the answers, asked once


ANSWERS = ("label", "prob")


class QueryAPI:
    """The target as a prediction API, all an extraction attacker holds: one kind of answer
    (``label``: ``predict``, or ``prob``: ``predict_proba``), every query counted across calls
    (``asked``) and refused past ``budget`` before anything is answered. It exposes no network,
    logits or other answer kind: asking for them is an error, not a convention."""

    __slots__ = ("_answer", "answers", "asked", "budget")

    def __init__(self, answer: Callable[[torch.Tensor], torch.Tensor], answers: str,
                 budget: int) -> None:
        if answers not in ANSWERS:
            raise ConfigError("zoo.stealing.extraction.apis", answers, "label or prob")
        self._answer, self.answers, self.budget, self.asked = answer, answers, int(budget), 0

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Labels (n,) int64: the label API's only answer."""
        return self._ask(x, "label").long()

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Probability vectors (n, classes) float32: the probability API's only answer."""
        return self._ask(x, "prob").float()

    def _ask(self, x: torch.Tensor, answers: str) -> torch.Tensor:
        if answers != self.answers:
            raise IPGuardError(f"this API answers with {self.answers}s only; {answers} "
                               "answers are not part of its threat model")
        if self.asked + len(x) > self.budget:
            raise IPGuardError(f"{self.asked + len(x)} queries exceed the budget of "
                               f"{self.budget} ({self.asked} asked before)")
        self.asked += len(x)
        return self._answer(x)


def network_api(module: nn.Module, answers: str, budget: int, device: str = "cpu") -> QueryAPI:
    """A torch network behind a :class:`QueryAPI`: eval mode, batched, no gradients; labels
    are the logits' argmax, probabilities their softmax."""
    net = TorchClassifier(module, device=device)
    answer = net.predict if answers == "label" else (lambda x: F.softmax(net.logits(x), dim=1))
    return QueryAPI(answer, answers, budget)


def query_pool(source: str, data: ImageData, seed: int, holdout: float = 0.5,
               pool: int = 10000, attacker: ImageData | None = None) -> torch.Tensor:
    """The unlabelled inputs an extraction attacker can send: its own data, which the target
    never saw (``attacker``: the ``attacker`` part of the training set), the target's training
    inputs (``train``, in ``data``), a seeded ``holdout`` fraction of them, or ``pool``
    uniform-noise images of the input shape (``noise``). No label leaves this function."""
    if source == "noise":
        gen = torch.Generator().manual_seed(seed)
        return torch.rand((pool, *data.input_shape), generator=gen)
    if source == "attacker":
        if attacker is None:
            raise ConfigError("zoo.stealing.extraction.source", source, "this zoo has no "
                              "attacker's data: set zoo.data.owner_fraction < 1, or choose "
                              "train, holdout or noise")
        return attacker.train_tensors()[0]
    x, _ = data.train_tensors()
    if source == "train":
        return x
    if source == "holdout":
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
        return x[order[: max(1, math.floor(holdout * len(x)))]]
    raise ConfigError("zoo.stealing.extraction.source", source,
                      "choose attacker, train, holdout or noise")


def check_budgets(budgets: list[int], pool: int) -> None:
    """Every query budget fits the attacker's pool (before anything trains)."""
    for budget in budgets:
        if budget > pool:
            raise ConfigError("zoo.stealing.extraction.budgets", budget,
                              f"the query pool holds {pool} inputs: use budgets <= {pool} "
                              "(0: the whole pool), or a larger source")


def draw_queries(pool: torch.Tensor, budget: int, seed: int) -> torch.Tensor:
    """The first ``budget`` inputs (0: all) of a seeded permutation of ``pool``: a smaller
    budget's queries are a prefix of a larger one's, and both APIs get the same queries."""
    check_budgets([budget], len(pool))
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))
    return pool[order[: budget or len(pool)]]


def ask(api: QueryAPI, x: torch.Tensor) -> torch.Tensor:
    """The API's answers for ``x``, of the one kind it gives: labels (int64) or probability
    vectors (float32)."""
    return api.predict_proba(x) if api.answers == "prob" else api.predict(x)


def save_answers(folder: Path, x: torch.Tensor, y: torch.Tensor) -> Path:
    """The queries and their answers, written atomically: a resumed member reads them back
    instead of asking the API again."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {"x": x.contiguous(), "y": y.contiguous()}
    return atomic_write(folder / QUERIES_FILE, lambda tmp: save_file(state, str(tmp)))


def load_answers(folder: Path) -> tuple[torch.Tensor, torch.Tensor] | None:
    file = folder / QUERIES_FILE
    if not file.is_file():
        return None
    try:
        state = load_file(str(file))
        return state["x"], state["y"]
    except Exception:  # noqa: BLE001 - unreadable: ask again (the file is rewritten)
        return None


def steps_epochs(epochs: int, pool: int, used: int, batch_size: int) -> int:
    """Epochs on ``used`` examples giving at least the optimiser steps of ``epochs`` on the
    whole ``pool``: every budget's student trains as long as the whole pool's."""
    per_pool, per_used = math.ceil(pool / batch_size), math.ceil(used / batch_size)
    return max(1, math.ceil(epochs * per_pool / per_used))


def pool_size(source: str, data: ImageData | int, holdout: float = 0.5, pool: int = 10000,
              owner_fraction: float = 1.0) -> int:
    """How many inputs :func:`query_pool` gives (``data``: the dataset, or the size of its
    whole training set, of which the owner holds ``owner_fraction``), without building them."""
    if source == "noise":
        return pool
    size = data if isinstance(data, int) else len(data.train)  # type: ignore[arg-type]
    owner = owner_size(size, owner_fraction)
    if source == "attacker":
        return size - owner
    return owner if source == "train" else max(1, math.floor(holdout * owner))


def extraction_set(api: QueryAPI, pool: torch.Tensor, budget: int, seed: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The attacker's training set: ``budget`` queries drawn from ``pool`` (0: all of it)
    and the API's answers; the attacker touches nothing but the API, which counts them."""
    queries = draw_queries(pool, budget, seed)
    return queries, ask(api, queries)


def agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    """The fraction of inputs on which two models' labels agree."""
    return int((a == b).sum()) / len(a) if len(a) else math.nan
