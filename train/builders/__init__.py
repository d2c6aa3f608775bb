"""How each member kind is built: one builder module per family of kinds, and the registry
that maps a kind (``MemberJob.kind``, train.plan) to its :class:`train.context.Builder`.

A new kind is one module here exposing ``BUILDER = Builder(build)`` (``build(ctx, job)``
makes, trains and saves one member through the :class:`train.context.BuildContext`) and one
entry in :data:`BUILDERS`. The families of ``zoo.negatives.archs`` are named by the config,
so they share one entry, :data:`OTHER_ARCH`."""

from __future__ import annotations

from collections.abc import Collection

from ipguard.utils.errors import IPGuardError
from train.builders import (
    adv_finetune,
    auxiliary,
    distillation,
    extraction,
    finetune,
    forest,
    harder,
    jacobian,
    network,
    pruning,
)
from train.context import Builder

OTHER_ARCH = "other_arch"   # any family of zoo.negatives.archs (lenet, vgg, ...)

BUILDERS: dict[str, Builder] = {
    "target": network.BUILDER,
    "ftll": finetune.BUILDER,
    "ftal": finetune.BUILDER,
    "rtll": finetune.BUILDER,
    "rtal": finetune.BUILDER,
    "wp": pruning.BUILDER,
    "fp": pruning.BUILDER,
    "same_arch": network.BUILDER,
    OTHER_ARCH: network.BUILDER,
    "forest": forest.BUILDER,
    "distill": distillation.BUILDER,
    "extract_label": extraction.BUILDER,
    "extract_prob": extraction.BUILDER,
    "extract_jacobian": jacobian.BUILDER,
    "adv_ft": adv_finetune.BUILDER,
    "half": harder.BUILDER,
    "overlap": harder.BUILDER,
    "surrogate": auxiliary.BUILDER,   # the owner's auxiliary models (never suspects)
    "reference": auxiliary.BUILDER,
}


def builder_for(kind: str, arch_families: Collection[str] = ()) -> Builder:
    """The builder of a member ``kind``; ``arch_families``: the zoo's families of other
    architectures (their names are the config's, each built as :data:`OTHER_ARCH`)."""
    key = OTHER_ARCH if kind in arch_families else kind
    if key not in BUILDERS:
        raise IPGuardError(f"no builder for member kind {kind!r}: register one in "
                           "train/builders/__init__.py (BUILDERS)")
    return BUILDERS[key]


__all__ = ["BUILDERS", "OTHER_ARCH", "builder_for"]
