"""What a member builder works with (train.builders): the zoo's data and Fitter, the test split
and the accuracy on it, the built target, and the one way a member is saved. ZooBuilder
(train.build) makes one context per build and hands it to the builder of each member's kind;
a builder needs nothing else of the build, so builders stay small and independent of it.

Also the shape of a registry entry (:class:`Builder`): kept here, beside what it receives, so
that builder modules import neither each other nor the registry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ipguard.core.classifier import Classifier, TorchClassifier, accuracy
from ipguard.data import ImageData
from ipguard.models.forest import TreeEnsemble
from ipguard.utils.errors import ConfigError, MissingZooError
from ipguard.zoo import Member, is_built, member_dir, save_member
from train.fit import Fitter
from train.plan import MemberJob

# Test images a forward pass on the CPU: activations of 1024 CIFAR images overflow the caches
# (ResNet20 on 1000 test images: 0.72 s at 1024, 0.31 s at 128, the same logits bit for bit).
CPU_TEST_BATCH = 128
GPU_TEST_BATCH = 1024


@dataclass
class BuildContext:
    """One build's shared means: ``data`` is the owner's, ``attacker`` the attacker's part of
    the training set (None in the paper's zoo, where every training input is the owner's).
    ``built`` names the members saved through :meth:`save`, in order (the build's report)."""

    data: ImageData
    fitter: Fitter
    root: Path
    device: str = "cpu"
    attacker: ImageData | None = None
    retrain_at_chance: bool = True
    built: list[str] = field(default_factory=list)
    _test: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, init=False,
                                                            repr=False)
    _target_labels: torch.Tensor | None = field(default=None, init=False, repr=False)

    def test_split(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The test images and labels, stacked once per build; None without test images
        (ImageNet weights saved without its folder)."""
        if not len(self.data.test):  # type: ignore[arg-type]
            return None
        if self._test is None:
            self._test = self.data.test_tensors()
        return self._test

    def accuracy(self, classifier: Classifier) -> float | None:
        """``classifier``'s test accuracy; None without test images."""
        test = self.test_split()
        return None if test is None else accuracy(classifier, *test)

    def network_accuracy(self, model: nn.Module) -> float | None:
        """A network's test accuracy, in batches that suit the device."""
        batch = CPU_TEST_BATCH if self.device == "cpu" else GPU_TEST_BATCH
        return self.accuracy(TorchClassifier(model, batch_size=batch, device=self.device))

    def attacker_data(self) -> ImageData:
        """The attacker's data, which the target never saw; an error where the zoo has none."""
        if self.attacker is None:
            raise ConfigError("zoo.data.owner_fraction", 1.0, "a thief with the attacker's own "
                              "data needs a share of the training set the owner never trains "
                              "on: set zoo.data.owner_fraction < 1 (the population configs "
                              "do), or give the thief the owner's data (source=train, "
                              "distill data=owner)")
        return self.attacker

    def target(self) -> Member:
        """The built target's record; a member made from it needs it built first."""
        folder = member_dir(self.root, "target", "target")
        if not is_built(folder):
            raise MissingZooError(f"the target is not built yet at {folder}: positives need it; "
                                  "run `python -m train.zoo member=target` first")
        return Member.load(folder)

    def target_test_labels(self) -> torch.Tensor | None:
        """The built target's labels of the test images, computed once per build (every
        member beyond the paper records its agreement with them); None without test images."""
        test = self.test_split()
        if test is None:
            return None
        if self._target_labels is None:
            self._target_labels = self.target().load_classifier(self.device).predict(test[0])
        return self._target_labels

    def target_copy(self) -> tuple[Member, nn.Module]:
        """The built target and a fresh copy of its network (train mode) to post-process."""
        target = self.target()
        return target, target.load_module().train()

    def folder(self, role: str, name: str) -> Path:
        """Where a member of ``role`` named ``name`` lives in this zoo."""
        return member_dir(self.root, role, name)

    def save(self, member: Member, artifact: nn.Module | TreeEnsemble) -> Member:
        """Save a finished member (weights or forest first, member.json last) and drop its
        resumable checkpoint, which is no longer needed."""
        save_member(member, artifact)
        self.fitter.clear_partial(member.name)
        self.built.append(member.name)
        return member


MemberBuilder = Callable[[BuildContext, MemberJob], Member]
GroupBuilder = Callable[[BuildContext, Sequence[MemberJob]], list[Member]]


@dataclass(frozen=True)
class Builder:
    """How members of one kind are built: ``build`` makes and saves one member; ``group``,
    where the kind allows it, trains several members of one seeded family at once
    (train.group) and saves each, in the jobs' order."""

    build: MemberBuilder
    group: GroupBuilder | None = None
