"""What every network builder shares: a fresh network from a job's constructor under the job's
seed, and a trained network saved as a zoo member (its role, hyper-parameters, parameter
counts, FLOPs, test accuracy and training seconds). Members beyond the paper also record how
often they give the target's label (``agreement``, docs/stealing.md)."""

from __future__ import annotations

from typing import Any

import lightning as L
from torch import nn

from ipguard.core.classifier import TorchClassifier
from ipguard.models.layers import count_parameters
from ipguard.utils.errors import ConfigError
from ipguard.zoo import Member, build_from_spec
from train.context import BuildContext
from train.fit import Trained
from train.flops import count_flops
from train.plan import MemberJob
from train.query_api import agreement
from train.recipe import Recipe


def seeded_network(job: MemberJob) -> nn.Module:
    """The job's constructor built right after seeding with the job's seed (its
    initialisation, and the RNG stream its training then draws from)."""
    L.seed_everything(job.seed, verbose=False)
    return build_from_spec(job.model or {})


def recipe_of(job: MemberJob) -> Recipe:
    """The recipe of a member that must be trained (every member made from the target or a
    student): the plan always gives one, so None is a config no schema caught."""
    if job.recipe is None:
        raise ConfigError(f"{job.name}.recipe", None, f"a {job.kind} member must be trained: "
                          "give it a recipe")
    return job.recipe


def save_network(ctx: BuildContext, job: MemberJob, model: nn.Module, trained: Trained,
                 role: str | None = None, hyper: dict[str, Any] | None = None) -> Member:
    """``model``, trained for ``job``, saved as a member: in ``role`` (default: the job's)
    with ``hyper`` (default: the job's) plus its FLOPs."""
    model = model.eval()
    role = job.role if role is None else role
    hyper = dict(job.hyper if hyper is None else hyper)
    total, nonzero = count_parameters(model)
    flops = count_flops(model, ctx.data.input_shape)
    hyper |= {"flops": flops.effective, "flops_dense": flops.dense,
              "flops_reduction": flops.reduction}
    member = Member(name=job.name, role=role, kind=job.kind, arch=job.arch, seed=job.seed,
                    parent=job.parent, test_accuracy=trained.test_accuracy, parameters=total,
                    nonzero_parameters=nonzero, train_seconds=trained.seconds, hyper=hyper,
                    model=job.stored_model, path=str(ctx.folder(role, job.name)))
    return ctx.save(member, model)


def save_with_agreement(ctx: BuildContext, job: MemberJob, model: nn.Module, trained: Trained,
                        found: dict[str, Any]) -> Member:
    """A member beyond the paper saved with the job's settings, what its builder ``found``
    (queries asked, examples used ...) and its ``agreement`` with the target."""
    model = model.eval()
    hyper = {**job.hyper, **found, "agreement": target_agreement(ctx, model)}
    return save_network(ctx, job, model, trained, hyper=hyper)


def target_agreement(ctx: BuildContext, model: nn.Module) -> float | None:
    """The fraction of test images on which ``model`` gives the target's label; None without
    test images."""
    target = ctx.target_test_labels()
    if target is None:
        return None
    x = ctx.test_split()[0]  # type: ignore[index]  # present: the target's labels exist
    return agreement(TorchClassifier(model, device=ctx.device).predict(x), target)
