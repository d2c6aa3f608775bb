"""The one interface the field's fingerprinting schemes share.

A scheme is a small object holding its hyper-parameters (dataclass fields, the papers'
defaults). ``generate`` makes a fingerprint from the target (an ``nn.Module`` mapping [0, 1]
pixels to logits, white-box to its owner), where the scheme needs them the owner's own data
(``owner_x`` (N, C, H, W) in [0, 1], ``owner_y`` (N,) labels) and the owner's own auxiliary
models (:class:`Auxiliary`: CAE's surrogates derived from the target and independent
references; never the suspects under evaluation). ``score`` queries a suspect through a
:class:`~ipguard.core.schemes.suspect.SuspectAPI` restricted to the access the scheme
declares (``access = "label"`` or ``"prob"``) and returns a :class:`Score`: a similarity,
higher meaning more likely derived, and the queries it spent.

``is_rate`` says whether the score is a rate in [0, 1] (a fraction of queries answered as the
target answered): only then do the paper's robustness, uniqueness and ARUC (Eq. 7, thresholds
tau = t/r) apply; otherwise only threshold-free comparisons do (AUC, TPR at a fixed FPR)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import nn
from torch.nn import functional as F

from ipguard.core.classifier import Classifier
from ipguard.core.schemes.fingerprint import SchemeFingerprint
from ipguard.core.schemes.suspect import SuspectAPI, as_suspect
from ipguard.utils.errors import ConfigError, IPGuardError

# What a probability scheme compares: the logits as far as probabilities determine them (the
# centred log-probabilities), or the probabilities themselves.
OUTPUTS = ("logits", "prob")


@dataclass(frozen=True)
class Score:
    """How alike the suspect is to the target (higher: more likely derived) and the queries
    this verification sent to the suspect."""

    value: float
    queries: int


@dataclass(frozen=True)
class Auxiliary:
    """The owner's own auxiliary models: ``surrogates`` derived from the target (fine-tuned,
    pruned, distilled copies the owner made) and ``references`` trained independently for the
    same task. Built by the zoo builder, never among the suspects a bench evaluates."""

    surrogates: Sequence[nn.Module] = ()
    references: Sequence[nn.Module] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "surrogates", tuple(self.surrogates))
        object.__setattr__(self, "references", tuple(self.references))


class MissingAuxiliary(IPGuardError):
    """A scheme that needs the owner's auxiliary models was given none (or too few)."""


@runtime_checkable
class Scheme(Protocol):
    """What the bench needs of a fingerprinting scheme."""

    name: str
    access: str
    is_rate: bool

    def generate(self, target: nn.Module, owner_x: torch.Tensor, owner_y: torch.Tensor,
                 aux: Auxiliary | None = None, seed: int = 0) -> SchemeFingerprint: ...

    def score(self, fp: SchemeFingerprint,
              suspect: SuspectAPI | nn.Module | Classifier) -> Score: ...


class SchemeBase(ABC):
    """The shared half of every scheme: checks, timing and the record in ``generate``; access
    and query counting in ``score``. Subclasses implement ``build`` (the tensors, and any
    record entries of their own) and ``similarity``; they declare ``name``, ``paper_name``,
    ``access`` and ``is_rate``."""

    name: ClassVar[str] = "scheme"
    kind: ClassVar[str] = ""  # the registry's key where it is not ``name`` (Points)
    paper_name: ClassVar[str] = ""
    access: ClassVar[str] = "label"
    is_rate: ClassVar[bool] = False
    needs_auxiliary: ClassVar[bool] = False  # generate needs the owner's Auxiliary (CAE)

    def generate(self, target: nn.Module, owner_x: torch.Tensor, owner_y: torch.Tensor,
                 aux: Auxiliary | None = None, seed: int = 0) -> SchemeFingerprint:
        """The fingerprint of ``target``; its record says the seconds this took."""
        check_owner_data(owner_x, owner_y)
        was_training = target.training
        target.eval()
        generator = torch.Generator().manual_seed(seed)
        start = time.perf_counter()
        try:
            tensors, extra = self.build(target, owner_x.detach().float().cpu(),
                                        owner_y.detach().long().cpu(), aux, generator)
        finally:
            target.train(was_training)
        seconds = time.perf_counter() - start
        meta = {"scheme": self.name, "paper_name": self.title(), "access": self.access,
                "is_rate": self.is_rate, "queries": self.queries(tensors), "seconds": seconds,
                "seed": seed, "params": self.params(), **extra}
        return SchemeFingerprint({k: v.detach().cpu() for k, v in tensors.items()}, meta)

    def score(self, fp: SchemeFingerprint,
              suspect: SuspectAPI | nn.Module | Classifier) -> Score:
        """The suspect's similarity to the target, asked through ``self.access`` only."""
        if fp.scheme != self.name:
            raise IPGuardError(f"a {fp.scheme} fingerprint cannot be scored by {self.name}")
        api = as_suspect(suspect)
        api.require(self.access, self.title())
        before = api.queries
        value = self.similarity(fp, api)
        return Score(float(value), api.queries - before)

    @abstractmethod
    def build(self, target: nn.Module, owner_x: torch.Tensor, owner_y: torch.Tensor,
              aux: Auxiliary | None, generator: torch.Generator,
              ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The fingerprint's tensors and any record entries of the scheme's own."""

    @abstractmethod
    def similarity(self, fp: SchemeFingerprint, api: SuspectAPI) -> float:
        """The score's value, from what ``api`` answers."""

    @abstractmethod
    def queries(self, tensors: dict[str, torch.Tensor]) -> int:
        """Inputs one verification of this fingerprint sends to the suspect."""

    def params(self) -> dict[str, Any]:
        """Hyper-parameters, for the record (dataclass fields)."""
        if not is_dataclass(self):
            return {}
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def title(cls) -> str:
        return cls.paper_name or cls.name

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def check_owner_data(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.dim() != 4 or len(x) == 0:
        raise ConfigError("owner_x", tuple(x.shape), "owner data is (N, C, H, W) with N >= 1")
    if y.shape != (len(x),):
        raise ConfigError("owner_y", tuple(y.shape), f"one label per input: ({len(x)},)")
    if x.min() < 0 or x.max() > 1:
        raise ConfigError("owner_x", "outside [0, 1]", "owner data are pixels in [0, 1]")


def device_of(model: nn.Module) -> torch.device:
    """Where the model's parameters live (the CPU for a model without any)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


@torch.no_grad()
def outputs(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """The model's logits on x, batched, on the CPU (the owner's white-box access)."""
    device = device_of(model)
    chunks = [model(c.to(device)).float().cpu() for c in torch.split(x, batch_size)]
    return torch.cat(chunks)


def probabilities(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """The softmax of the model's logits, in double precision (as a ``SuspectAPI`` answers)."""
    return F.softmax(outputs(model, x, batch_size).double(), dim=1)


def represent(p: torch.Tensor, output: str) -> torch.Tensor:
    """What a probability scheme compares of probability vectors p (n, classes): ``"prob"``, p
    itself; ``"logits"``, log p - mean(log p), which is the logits minus their mean (softmax
    forgets a shift of the logits, so that is all of them an API's probabilities determine)."""
    if output == "prob":
        return p
    logp = torch.log(p.double().clamp_min(1e-300))
    return logp - logp.mean(dim=1, keepdim=True)


def check_output(output: str) -> None:
    if output not in OUTPUTS:
        raise ConfigError("scheme.output", output, f"choose one of {list(OUTPUTS)}")


def sample(count: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """n indices into range(count) drawn at random, without replacement while possible."""
    if count < 1:
        raise IPGuardError("nothing to draw from: the owner data hold no suitable input")
    if n <= count:
        return torch.randperm(count, generator=generator)[:n]
    return torch.randint(count, (n,), generator=generator)


def check_positive(field: str, value: float, integer: bool = False) -> None:
    if value <= 0 or (integer and int(value) != value):
        raise ConfigError(field, value, "must be an integer >= 1" if integer else "must be > 0")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "params") and callable(value.params):
        return {"name": getattr(value, "name", type(value).__name__), **value.params()}
    if isinstance(value, tuple):
        return list(value)
    return value


__all__ = ["OUTPUTS", "represent", "check_output", "Score", "Auxiliary", "MissingAuxiliary",
           "Scheme", "SchemeBase", "check_owner_data", "device_of", "outputs",
           "probabilities", "sample", "check_positive"]
