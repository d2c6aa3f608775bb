"""Losses for students that learn from a target's outputs rather than from labels
(docs/stealing.md): soft targets (a probability API's answers) and Hinton et al.'s (2015)
distillation. Each is a small frozen dataclass, so its repr names the training in a
checkpoint's identity (train.fit)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

NO_LABEL = -1   # the true-label column of a distillation target when alpha = 1 (never stored)


@dataclass(frozen=True)
class SoftTargets:
    """Cross-entropy against probability vectors ``y`` (n, classes): what a student learns
    from a probability API, -sum_c y_c log softmax(logits)_c averaged over the batch."""

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -(y * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


@dataclass(frozen=True)
class Distillation:
    """alpha * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * CE(s, label), for
    student logits s and a target ``y`` packing the teacher's logits t (n, classes) and the
    true label as a last column (:func:`distillation_targets`). T^2 keeps the soft term's
    gradients at the scale of the hard one's (Hinton et al.). With alpha = 1 the label
    column holds NO_LABEL and is never read."""

    temperature: float
    alpha: float

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        t = self.temperature
        classes = logits.shape[1]
        teacher, labels = y[:, :classes].float(), y[:, classes].long()
        soft = F.kl_div(F.log_softmax(logits.float() / t, dim=1),
                        F.log_softmax(teacher / t, dim=1), reduction="batchmean",
                        log_target=True)
        loss = self.alpha * t * t * soft
        if self.alpha < 1.0:
            loss = loss + (1.0 - self.alpha) * F.cross_entropy(logits.float(), labels)
        return loss


def distillation_targets(teacher_logits: torch.Tensor, labels: torch.Tensor, alpha: float
                         ) -> torch.Tensor:
    """The teacher's logits with the true labels as a last column (NO_LABEL when alpha = 1:
    a student that gives no weight to true labels never has them)."""
    column = labels.float() if alpha < 1.0 else torch.full((len(labels),), float(NO_LABEL))
    return torch.cat([teacher_logits.float(), column[:, None]], dim=1)
