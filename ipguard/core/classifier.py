"""What Verify may touch: a label-only prediction API over pixels in [0, 1]."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from ipguard.models.forest import TreeEnsemble
from ipguard.utils.errors import IPGuardError


@runtime_checkable
class Classifier(Protocol):
    """A suspect as the model owner sees it: labels for queries, nothing else."""

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Labels (n,) int64 for x (n, C, H, W) in [0, 1]."""
        ...


class TorchClassifier:
    """A torch network as a label-only API (eval mode, batched, no gradients)."""

    def __init__(self, module: nn.Module, batch_size: int = 1024, device: str = "cpu") -> None:
        self.module = module.to(device).eval()
        self.batch_size = batch_size
        self.device = device

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        out = [
            self.module(chunk.to(self.device)).float().cpu()
            for chunk in torch.split(x, self.batch_size)
        ]
        return torch.cat(out) if out else torch.empty(0)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x).argmax(dim=1)


class ForestClassifier:
    """A random forest on flattened pixels, evaluated from its pickle-free arrays."""

    def __init__(self, ensemble: TreeEnsemble) -> None:
        self.ensemble = ensemble

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.detach().cpu().reshape(len(x), -1)
        used = int(self.ensemble.feature.max(initial=0))
        if used >= flat.shape[1]:
            raise IPGuardError(f"the forest splits on pixel {used}, but the inputs have "
                               f"{flat.shape[1]}: it was trained on another dataset")
        proba = self.ensemble.predict_proba(flat.numpy())
        return torch.from_numpy(np.argmax(proba, axis=1)).long()


def accuracy(classifier: Classifier, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((classifier.predict(x) == y).float().mean())
