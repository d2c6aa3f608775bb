"""The random-forest negatives: scikit-learn's forest on the flattened training pixels (seeded
by the job), saved as pickle-free arrays (ipguard.models.forest); no recipe, no epochs."""

from __future__ import annotations

import time

from ipguard.core.classifier import ForestClassifier
from ipguard.models.forest import train_forest
from ipguard.zoo import Member
from train.context import BuildContext, Builder
from train.plan import MemberJob


def build(ctx: BuildContext, job: MemberJob) -> Member:
    """Train one forest, measure it and save it; its size is counted in node slots."""
    start = time.perf_counter()
    x, y = ctx.data.train_tensors()
    _, ensemble = train_forest(x, y, n_estimators=int(job.hyper["n_estimators"]),
                               seed=job.seed)
    seconds = time.perf_counter() - start
    nodes = int(ensemble.left.size)   # node slots of the padded trees
    member = Member(name=job.name, role=job.role, kind="forest", arch="forest",
                    seed=job.seed, test_accuracy=ctx.accuracy(ForestClassifier(ensemble)),
                    parameters=nodes, nonzero_parameters=nodes, train_seconds=seconds,
                    hyper=dict(job.hyper), path=str(ctx.folder(job.role, job.name)))
    return ctx.save(member, ensemble)


BUILDER = Builder(build)
