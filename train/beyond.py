"""Building the zoo members beyond the paper (docs/stealing.md): distilled students, students
extracted through the label or the probability API, the adversarially fine-tuned target, and
the harder negatives. Each trains through the zoo's Fitter (Lightning, resumable from
``.partial/<member>/last.ckpt``) and is saved like any member, its attack and budget in
member.json's ``hyper`` with ``agreement``: the fraction of test images on which it gives
the target's label."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import lightning as L
from torch import nn

from ipguard.core.classifier import TorchClassifier
from ipguard.models.layers import count_parameters
from ipguard.zoo import Member, build_from_spec, member_dir
from train.adversarial import PGD
from train.fit import Trained
from train.flops import count_flops
from train.losses import Distillation, SoftTargets, distillation_targets
from train.plan import MemberJob
from train.stealing import (
    SoftmaxAPI,
    agreement,
    attacker_data,
    extraction_set,
    halves,
    load_answers,
    overlap_indices,
    pool_size,
    query_pool,
    save_answers,
    steps_epochs,
    subset_data,
)

if TYPE_CHECKING:
    from train.build import ZooBuilder


def build_beyond(zb: ZooBuilder, job: MemberJob) -> Member:
    """Train and save one member of a stealing family or a harder negative."""
    build = {"distill": _distill, "extract_label": _extract, "extract_prob": _extract,
             "adv_ft": _adv_ft, "half": _harder, "overlap": _harder}[job.kind]
    model, trained, hyper = build(zb, job)
    model = model.eval()
    hyper = {**job.hyper, **hyper, "agreement": _agreement(zb, model)}
    total, nonzero = count_parameters(model)
    flops = count_flops(model, zb.data.input_shape)
    hyper |= {"flops": flops.effective, "flops_dense": flops.dense,
              "flops_reduction": flops.reduction}
    member = Member(name=job.name, role=job.role, kind=job.kind, arch=job.arch, seed=job.seed,
                    parent=job.parent, test_accuracy=trained.test_accuracy, parameters=total,
                    nonzero_parameters=nonzero, train_seconds=trained.seconds, hyper=hyper,
                    model=job.stored_model, path=str(member_dir(zb.root, job.role, job.name)))
    return zb._finish(member, model)


Built = tuple[nn.Module, Trained, dict[str, Any]]


def _student(job: MemberJob) -> nn.Module:
    L.seed_everything(job.seed, verbose=False)
    return build_from_spec(job.model or {})


def _distill(zb: ZooBuilder, job: MemberJob) -> Built:
    """The target's logits on the training inputs (its soft outputs), the student trained on
    them softened at T (and on the true labels with weight 1 - alpha)."""
    target, teacher = zb._target_copy()
    x, y = zb.data.train_tensors()
    logits = TorchClassifier(teacher, device=zb.device).logits(x)
    t, alpha = float(job.hyper["temperature"]), float(job.hyper["alpha"])
    data = attacker_data(zb.data, x, distillation_targets(logits, y, alpha))
    model = _student(job)
    assert job.recipe is not None
    trained = zb.fitter.fit(model, job.recipe, job.seed, job.name, test=zb._network_accuracy,
                            data=data, loss=Distillation(t, alpha))
    return model, trained, {"examples": len(x)}


def _extract(zb: ZooBuilder, job: MemberJob) -> Built:
    """Queries drawn from the attacker's pool, answered once by the target's API (saved,
    so a resumed member does not ask again), and a student trained on the answers for as
    many optimiser steps as the whole pool's student."""
    h = job.hyper
    source, budget, api_kind = str(h["source"]), int(h["budget"]), str(h["api"])
    holdout, noise = float(h.get("holdout", 0.5)), int(h.get("pool", 10000))
    folder = zb.fitter.partial(job.name)
    answered = load_answers(folder)
    if answered is None:
        pool = query_pool(source, zb.data, int(h["query_seed"]), holdout, noise)
        answered = extraction_set(_target_api(zb, api_kind), pool, budget,
                                  int(h["query_seed"]), api_kind)
        save_answers(folder, *answered)
    queries, answers = answered
    assert job.recipe is not None
    size = pool_size(source, zb.data, holdout, noise)
    recipe = dataclasses.replace(job.recipe, epochs=steps_epochs(
        job.recipe.epochs, size, len(queries), job.recipe.batch_size))
    model = _student(job)
    trained = zb.fitter.fit(model, recipe, job.seed, job.name, test=zb._network_accuracy,
                            data=attacker_data(zb.data, queries, answers),
                            loss=SoftTargets() if api_kind == "prob" else None)
    return model, trained, {"queries": len(queries), "pool_size": size,
                            "epochs": recipe.epochs}


def _target_api(zb: ZooBuilder, api_kind: str) -> TorchClassifier | SoftmaxAPI:
    """The built target behind the API the attacker queries (labels or probabilities)."""
    _, network = zb._target_copy()
    network = network.eval()
    return SoftmaxAPI(network, zb.device) if api_kind == "prob" else \
        TorchClassifier(network, device=zb.device)


def _adv_ft(zb: ZooBuilder, job: MemberJob) -> Built:
    """The target fine-tuned on PGD examples of its training batches."""
    _, model = zb._target_copy()
    h = job.hyper
    attack = PGD(float(h["epsilon"]), int(h["steps"]), float(h["step_size"]))
    L.seed_everything(job.seed, verbose=False)
    assert job.recipe is not None
    trained = zb.fitter.fit(model, job.recipe, job.seed, job.name, test=zb._network_accuracy,
                            perturb=attack)
    return model, trained, {}


def _harder(zb: ZooBuilder, job: MemberJob) -> Built:
    """The target's architecture and recipe from scratch, on half A, half B, or a set
    overlapping half A by the configured fraction (train.stealing.overlap_indices)."""
    size = len(zb.data.train)  # type: ignore[arg-type]
    a, b = halves(size, int(job.hyper["split_seed"]))
    if job.kind == "half":
        indices = a if job.hyper["half"] == "A" else b
    else:
        indices = overlap_indices(a, b, float(job.hyper["overlap"]))
    model = _student(job)
    assert job.recipe is not None
    trained = zb.fitter.fit(model, job.recipe, job.seed, job.name, test=zb._network_accuracy,
                            data=subset_data(zb.data, indices))
    shared_a = len(set(indices.tolist()) & set(a.tolist())) / max(1, len(indices))
    return model, trained, {"examples": len(indices), "share_of_target_data": len(indices) / size,
                            "share_from_half_a": shared_a}


def _agreement(zb: ZooBuilder, model: nn.Module) -> float | None:
    """The fraction of test images on which ``model`` gives the target's label."""
    if not len(zb.data.test):  # type: ignore[arg-type]
        return None
    if zb._test is None:
        zb._test = zb.data.test_tensors()
    x = zb._test[0]
    target, _ = zb._target_copy()
    mine = TorchClassifier(model, device=zb.device).predict(x)
    return agreement(mine, target.load_classifier(zb.device).predict(x))


__all__ = ["build_beyond"]
