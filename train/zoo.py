"""Entry point: build a dataset's zoo (all of it, or one member kind / seed per job).

    python -m train.zoo dataset=digits                      # the whole digits zoo
    python -m train.zoo -m sweep=zoo dataset=digits         # one job per member family
    python -m train.zoo -m dataset=digits member=same_arch seed='range(1,21)'   # one job each
    python -m train.zoo dataset=digits population=digits    # many targets, 200 negatives

The config is typed by train.schema.TrainConfig (types, choices, ranges); :func:`check_train`
makes the checks no schema can before any data loads; train.plan says which members the job
builds, train.build runs them through the builder of each member's kind (train.builders).
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from ipguard.app.checks import check_device, check_folder, training_images
from ipguard.app.cli import entry, task
from ipguard.app.config import CONF_DIR, plain, typed
from ipguard.app.runtime import configure_threads
from ipguard.utils.errors import ConfigError
from ipguard.utils.targets import check_loader, check_model
from train.build import ZooBuilder, check_memory
from train.plan import model_specs, plan
from train.population import build_population, population_split
from train.query_api import check_budgets, pool_size
from train.schema import TrainConfig, ZooSpec
from train.schema import register as register_train
from train.training_sets import owner_split

log = logging.getLogger(__name__)


def check_train(cfg: TrainConfig, available: int | None = None) -> None:
    """What the schema cannot check, before any data loads or anything trains: the member and
    seed choice, the device, the zoo folder, every model constructor and the loader (allowed
    packages, arguments that fit, torchvision architectures by name, nothing downloaded), and
    whether the largest member fits in memory."""
    jobs = plan(cfg.zoo, "stealing" if cfg.population else cfg.member, cfg.seed)
    if cfg.population is not None:
        if cfg.member != "all" or cfg.seed is not None:
            raise ConfigError("member", cfg.member, "a population builds all of itself: drop "
                              "member= and seed= (a killed build resumes where it stopped)")
        population_split(cfg.zoo, cfg.population)
    fraction = cfg.zoo.data.owner_fraction
    thieves = [job.name for job in jobs if job.hyper.get("source") == "attacker"
               or job.hyper.get("data") == "attacker"]
    if thieves and fraction >= 1.0:
        raise ConfigError("zoo.data.owner_fraction", fraction, f"{thieves[0]} steals with the "
                          "attacker's own data, which needs a share of the training set the "
                          "owner never trains on: set zoo.data.owner_fraction < 1, or give "
                          "the thieves the owner's data (zoo.stealing.extraction.source=train,"
                          " zoo.stealing.distill.data=owner)")
    extraction = cfg.zoo.stealing.extraction
    if extraction is not None and any(job.kind in ("extract_label", "extract_prob")
                                      for job in jobs):
        check_budgets(list(extraction.budgets), pool_size(
            extraction.source, training_images(cfg.dataset), extraction.holdout,
            extraction.pool, fraction))
    check_device(cfg.device)
    check_folder("zoo_dir", cfg.zoo_dir)
    check_loader(cfg.dataset.loader)
    for field, spec in model_specs(cfg.zoo):
        check_model(spec, field)
    check_memory(cfg.zoo, cfg.dataset.name, cfg.dataset.input_shape, cfg.member,
                 train_images=training_images(cfg.dataset), test_images=None,
                 available=available)


def build_zoo(cfg: DictConfig | TrainConfig) -> ZooBuilder | None:
    """Check the config, load the dataset and build the selected members of ``cfg.zoo`` under
    ``cfg.zoo_dir`` (with ``population``, the whole population: None is returned); a member
    interrupted in training resumes from its last checkpoint."""
    settings = cfg if isinstance(cfg, TrainConfig) else typed(cfg, TrainConfig)
    check_train(settings)
    configure_threads(settings.threads)
    split = settings.zoo.data
    data = hydra.utils.call(settings.dataset.loader)
    owner, attacker = owner_split(data, split.owner_fraction, split.split_seed)

    def builder_of(zoo: ZooSpec, root: str | Path) -> ZooBuilder:
        return ZooBuilder(zoo, owner, root, trainer=settings.trainer,
                          log_dir=settings.paths.log_dir, device=settings.device,
                          checkpoint_every_n_epochs=settings.checkpoint_every_n_epochs,
                          wandb=plain(settings.logger), group_size=settings.group_size,
                          checkpoint_min_seconds=settings.checkpoint_min_seconds,
                          attacker=attacker, retrain_at_chance=settings.retrain_at_chance
                          and not settings.trainer.get("fast_dev_run"))

    if settings.population is not None:
        built = build_population(settings.zoo, settings.population, settings.zoo_dir,
                                 builder_of, len(data.train))
        log.info("population %s: %d members built now", settings.zoo_dir, len(built))
        return None
    builder = builder_of(settings.zoo, settings.zoo_dir)
    members = builder.build(member=settings.member, seed=settings.seed)
    log.info("zoo %s: %d members built now, %d already built (%d suspects or target; "
             "pruning steps that broke the 3 %% rule are kept as rejected)", settings.zoo_dir,
             len(builder.built), len(builder.skipped), len(members))
    return builder


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
@task
def _main(cfg: DictConfig) -> None:
    build_zoo(cfg)


main = entry(_main, register_train)

if __name__ == "__main__":
    main()
