"""Entry point: build a dataset's zoo (all of it, or one member kind / seed per job).

    python -m train.zoo dataset=digits                      # the whole digits zoo
    python -m train.zoo -m dataset=digits member=same_arch seed='range(1,21)'   # one job each
"""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig, OmegaConf

from ipguard.config import register_resolvers
from ipguard.errors import friendly_errors
from ipguard.runtime import configure_threads
from ipguard.validation import check_train_config
from train.build import SELECTIONS, ZooBuilder

log = logging.getLogger(__name__)
register_resolvers()


def build_zoo(cfg: DictConfig) -> ZooBuilder:
    """Load the dataset and build the selected members of ``cfg.zoo`` under ``cfg.zoo_dir``.

    The config is checked first (one line naming a bad field), then the memory the largest
    member needs; a member interrupted in training resumes from its last checkpoint."""
    check_train_config(cfg, SELECTIONS)
    configure_threads(cfg.threads)
    data = hydra.utils.call(cfg.dataset.loader)
    zoo = OmegaConf.to_container(cfg.zoo, resolve=True)
    trainer = OmegaConf.to_container(cfg.trainer, resolve=True)
    wandb = OmegaConf.to_container(cfg.logger, resolve=True) if "logger" in cfg else None
    builder = ZooBuilder(zoo, data, cfg.zoo_dir, trainer=trainer, log_dir=cfg.paths.log_dir,
                         device=cfg.device, wandb=wandb,
                         checkpoint_every_n_epochs=cfg.get("checkpoint_every_n_epochs", 1))
    members = builder.build(member=cfg.member, seed=cfg.seed)
    log.info("zoo %s: %d members built now, %d already built (%d suspects or target; "
             "pruning steps that broke the 3 %% rule are kept as rejected)", cfg.zoo_dir,
             len(builder.built), len(builder.skipped), len(members))
    return builder


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@friendly_errors
def main(cfg: DictConfig) -> None:
    build_zoo(cfg)


if __name__ == "__main__":
    main()
