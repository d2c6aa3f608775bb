"""The target as an extraction attacker sees it (docs/stealing.md): the pool of inputs the
attacker can send, the queries drawn from it under a budget, the target's answers through
its label or probability API (saved once, so a resumed student does not ask again), and how
often two models' labels agree.

An extraction attacker sees the target only through an API: ``Classifier.predict`` (labels,
what Verify queries) or :class:`ProbabilityAPI` (probability vectors). :class:`Budgeted`
refuses queries beyond the budget, so a student provably saw at most that many answers."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from ipguard.core.classifier import Classifier, TorchClassifier
from ipguard.data import ImageData
from ipguard.utils.errors import ConfigError, IPGuardError
from ipguard.utils.io import atomic_write

QUERIES_FILE = "queries.safetensors"   # <zoo>/.partial/<member>/: the answers, asked once


@runtime_checkable
class ProbabilityAPI(Protocol):
    """A target that answers each query with its probability vector."""

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities (n, classes) for x (n, C, H, W) in [0, 1]."""
        ...


class SoftmaxAPI:
    """A torch network as a probability API (eval mode, batched, no gradients)."""

    def __init__(self, module: nn.Module, device: str = "cpu") -> None:
        self._net = TorchClassifier(module, device=device)

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(self._net.logits(x), dim=1)


class Budgeted:
    """An API (label or probability) that answers at most ``budget`` queries in all and
    counts them (``asked``): what an extraction attacker with that budget may use."""

    def __init__(self, api: Classifier | ProbabilityAPI, budget: int) -> None:
        self._api, self.budget, self.asked = api, int(budget), 0

    def _spend(self, x: torch.Tensor) -> None:
        if self.asked + len(x) > self.budget:
            raise IPGuardError(f"{self.asked + len(x)} queries exceed the budget of "
                               f"{self.budget}")
        self.asked += len(x)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        self._spend(x)
        return self._api.predict(x)  # type: ignore[union-attr]

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        self._spend(x)
        return self._api.predict_proba(x)  # type: ignore[union-attr]


def query_pool(source: str, data: ImageData, seed: int, holdout: float = 0.5,
               pool: int = 10000) -> torch.Tensor:
    """The unlabelled inputs an extraction attacker can send: the target's training inputs
    (``train``), a seeded ``holdout`` fraction of them, or ``pool`` uniform-noise images of
    the input shape (``noise``). No label leaves this function."""
    if source == "noise":
        gen = torch.Generator().manual_seed(seed)
        return torch.rand((pool, *data.input_shape), generator=gen)
    x, _ = data.train_tensors()
    if source == "train":
        return x
    if source == "holdout":
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
        return x[order[: max(1, math.floor(holdout * len(x)))]]
    raise ConfigError("zoo.stealing.extraction.source", source, "choose train, holdout or noise")


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


def ask(api: Classifier | ProbabilityAPI | Budgeted, x: torch.Tensor, api_kind: str
        ) -> torch.Tensor:
    """The API's answers for ``x``: labels (int64) or probability vectors (float32)."""
    if api_kind == "prob":
        return api.predict_proba(x).float()  # type: ignore[union-attr]
    return api.predict(x).long()  # type: ignore[union-attr]


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


def pool_size(source: str, data: ImageData | int, holdout: float = 0.5, pool: int = 10000
              ) -> int:
    """How many inputs :func:`query_pool` gives (``data``: the dataset or the size of its
    training set), without building them."""
    if source == "noise":
        return pool
    size = data if isinstance(data, int) else len(data.train)  # type: ignore[arg-type]
    return size if source == "train" else max(1, math.floor(holdout * size))


def extraction_set(api: Classifier | ProbabilityAPI, pool: torch.Tensor, budget: int,
                   seed: int, api_kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The attacker's training set: ``budget`` queries drawn from ``pool`` (0: all of it)
    and the API's answers, asked once through a :class:`Budgeted` view of ``api``; the
    attacker never touches anything but the API."""
    queries = draw_queries(pool, budget, seed)
    answers = ask(Budgeted(api, len(queries)), queries, api_kind)
    return queries, answers


def agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    """The fraction of inputs on which two models' labels agree."""
    return int((a == b).sum()) / len(a) if len(a) else math.nan
