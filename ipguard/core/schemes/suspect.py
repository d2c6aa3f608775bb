"""What a scheme may ask of a suspect: its labels, or its probabilities where the API gives
them, with every query counted.

A :class:`SuspectAPI` wraps a torch network (an ``nn.Module``, or the
:class:`~ipguard.core.classifier.TorchClassifier` the bench builds: labels and probabilities,
the softmax of its logits) or any other :class:`~ipguard.core.classifier.Classifier` (a
:class:`~ipguard.core.classifier.ForestClassifier`, a remote label-only API: labels only). It
exposes the access it was given and no more; a probability scheme handed a label-only suspect
raises :class:`NeedsProbabilities` before it spends a query, which the bench reports as
"n/a (needs probabilities)". One query is one input: ``queries`` counts inputs across calls."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ipguard.core.classifier import Classifier, TorchClassifier
from ipguard.utils.errors import ConfigError, IPGuardError

# What a scheme needs of the suspect's API: its top label, or its probability vector.
ACCESS = ("label", "prob")


class NeedsProbabilities(IPGuardError):
    """A scheme that compares output probabilities was given a suspect that answers labels
    only (a random forest, a label-only API): the scheme does not apply to it."""

    def __init__(self, scheme: str, suspect: str) -> None:
        super().__init__(f"{scheme} needs the suspect's probabilities, but {suspect} answers "
                         "labels only: n/a (needs probabilities)")
        self.scheme, self.suspect = scheme, suspect

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.scheme, self.suspect))


class SuspectAPI:
    """The suspect behind the access a scheme declares, counting queries.

    model: an ``nn.Module`` mapping [0, 1] pixels to logits, a ``TorchClassifier`` (both offer
    probabilities) or any other ``Classifier`` (labels only). access: what to expose ("label"
    or "prob"; default: all the model offers); asking a label-only classifier for "prob" is an
    error. ``predict`` is ``labels``, so the API is itself a ``Classifier`` (``verify`` takes
    it, and its queries are counted). A network is queried where its parameters are, unless
    ``device`` says otherwise."""

    def __init__(self, model: nn.Module | Classifier, access: str | None = None, *,
                 name: str | None = None, batch_size: int = 1024,
                 device: str | None = None) -> None:
        if isinstance(model, nn.Module):
            where = device or str(next((p.device for p in model.parameters()), "cpu"))
            model = TorchClassifier(model, batch_size=batch_size, device=where)
        if not isinstance(model, Classifier):
            raise TypeError(f"a suspect is an nn.Module or a Classifier (with predict), not "
                            f"{type(model).__name__}")
        self.classifier = model
        self.offers = "prob" if isinstance(model, TorchClassifier) else "label"
        access = access or self.offers
        if access not in ACCESS:
            raise ConfigError("access", access, f"choose one of {list(ACCESS)}")
        if access == "prob" and self.offers == "label":
            raise ConfigError("access", access, f"{type(model).__name__} answers labels only")
        self.access = access
        self.name = name or type(model).__name__
        self.queries = 0

    @property
    def gives_probabilities(self) -> bool:
        return self.access == "prob"

    def require(self, access: str, scheme: str) -> None:
        """Raise :class:`NeedsProbabilities` when ``scheme`` needs what this API withholds."""
        if access == "prob" and not self.gives_probabilities:
            raise NeedsProbabilities(scheme, self.name)

    def labels(self, x: torch.Tensor) -> torch.Tensor:
        """The suspect's labels (n,) int64 for x (n, C, H, W) in [0, 1]; n queries."""
        self.queries += len(x)
        return self.classifier.predict(x).cpu().long()

    predict = labels

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """The suspect's probability vectors (n, classes), the softmax of its logits in double
        precision; n queries. Raises :class:`NeedsProbabilities` when the API gives labels
        only."""
        self.require("prob", "this scheme")
        self.queries += len(x)
        assert isinstance(self.classifier, TorchClassifier)
        return F.softmax(self.classifier.logits(x).double(), dim=1)


def as_suspect(suspect: SuspectAPI | nn.Module | Classifier) -> SuspectAPI:
    """``suspect`` itself when it is already an API (its counter keeps running), else a new one
    with all the access the model offers."""
    return suspect if isinstance(suspect, SuspectAPI) else SuspectAPI(suspect)


__all__ = ["ACCESS", "NeedsProbabilities", "SuspectAPI", "as_suspect"]
