"""Build a zoo member by member: the target, the positives (post-processed target) and the
negatives (independent models). Each member is written atomically (weights first, then its
member.json), so a member whose member.json exists is complete and is skipped on rerun."""

from __future__ import annotations

import copy
import logging
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from torch import nn

from ipguard.classifier import ForestClassifier, TorchClassifier, accuracy
from ipguard.data import ImageData
from ipguard.errors import ConfigError, IPGuardError, MissingZooError
from ipguard.flops import count_flops
from ipguard.io import atomic_write, remove_stale_tmp
from ipguard.models.forest import train_forest
from ipguard.models.layers import count_parameters
from ipguard.runtime import check_memory, format_bytes, images_bytes, training_bytes
from ipguard.tracking import finish_lightning_logger, lightning_logger
from ipguard.validation import check_zoo_spec
from ipguard.zoo import FOREST_FILE, Member, build_from_spec, is_built, member_dir, save_weights
from train.datamodule import ImageDataModule
from train.module import (
    ClassifierModule,
    LastCheckpoint,
    apply_masks,
    checkpoint_identity,
    read_checkpoint,
)
from train.postprocess import (
    FINETUNE_KINDS,
    filter_pruning_masks,
    prepare_finetune,
    pruning_levels,
    weight_pruning_masks,
    within_budget,
)

log = logging.getLogger(__name__)


def quiet_lightning() -> None:
    """Keep a zoo build's console to one line per member: Lightning's banners and tips, and
    its hint to use srun (jobs here are single-process by design), are noise at this scale."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*srun.*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=r".*smaller than the logging interval.*")

PARTIAL = ".partial"  # <zoo>/.partial/<member>/last.ckpt: trainings not finished yet
SELECTIONS = ("all", "target", "positives", "negatives", "finetune", *FINETUNE_KINDS, "wp", "fp",
              "same_arch", "forest")


@dataclass
class Recipe:
    """How one member trains: epochs, optimiser, learning rate, batch size, schedule."""

    epochs: int
    lr: float
    optimizer: str = "adam"
    weight_decay: float = 0.0
    batch_size: int = 64
    schedule: str = "cosine"
    head_lr: float | None = None

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any], where: str) -> Recipe:
        recipe = cls(**dict(cfg))
        if recipe.epochs < 1:
            raise ConfigError(f"{where}.epochs", recipe.epochs, "train for at least 1 epoch")
        if recipe.batch_size < 1:
            raise ConfigError(f"{where}.batch_size", recipe.batch_size, "must be >= 1")
        return recipe


class ZooBuilder:
    """Builds the members that ``zoo`` (the resolved zoo config) describes, under ``root``."""

    def __init__(
        self,
        zoo: Mapping[str, Any],
        data: ImageData,
        root: str | Path,
        trainer: Mapping[str, Any] | None = None,
        log_dir: str | Path | None = None,
        device: str = "cpu",
        checkpoint_every_n_epochs: int = 1,
        wandb: Mapping[str, Any] | None = None,
    ) -> None:
        check_zoo_spec(zoo)
        self.zoo, self.data, self.root = zoo, data, Path(root)
        self.checkpoint_every = int(checkpoint_every_n_epochs)
        self.trainer_kwargs = dict(trainer or {})
        # how batches reach the model, not lightning.Trainer arguments
        self.channels_last = bool(self.trainer_kwargs.pop("channels_last", False))
        self.num_workers = int(self.trainer_kwargs.pop("num_workers", 0))
        self.log_dir = Path(log_dir) if log_dir else None
        self.wandb = dict(wandb or {})  # the logger config: one W&B run per trained member
        self.device = device
        self._test: tuple[torch.Tensor, torch.Tensor] | None = None
        self.built: list[str] = []
        self.skipped: list[str] = []
        quiet_lightning()

    # ----------------------------------------------------------------- plan and dispatch
    def build(self, member: str = "all", seed: int | None = None) -> list[Member]:
        """Build the selected members (skipping finished ones); return every selected member."""
        if member not in self.selections():
            raise ConfigError("member", member, f"choose one of {list(self.selections())}")
        steps = list(self._plan(member, seed))  # checks every count and seed before any work
        self.check_memory(member)
        done: list[Member] = []
        for step in steps:
            done.extend(step())
        return done

    def check_memory(self, member: str = "all", available: int | None = None) -> int:
        """Fail before training when the largest member would not fit in memory: the test
        split (and, for forests, the training split) stacked as float32, plus the largest
        model with its gradients and Adam moments. Returns the estimate in bytes."""
        shape = self.data.input_shape
        test = images_bytes(len(self.data.test), shape)
        forests = int(self.zoo["negatives"].get("forest", {}).get("count", 0))
        train = 0
        if member in ("all", "negatives", "forest") and forests:
            train = 2 * images_bytes(len(self.data.train), shape)  # stacked + scikit-learn's
        model = training_bytes(max(self._parameters(spec) for spec in self._model_specs()))
        need = test + train + model
        check_memory(need, f"building the {self.data.name} zoo (member={member})",
                     f"test split {format_bytes(test)}, training split for the forests "
                     f"{format_bytes(train)}, largest model in training {format_bytes(model)}; "
                     "use a machine with more memory or smaller splits", available)
        return need

    def _model_specs(self) -> list[Mapping[str, Any]]:
        """The target's and the negative families' constructors (families with members)."""
        specs = [self.zoo["target"]["model"]]
        specs += [f["model"] for f in self.zoo["negatives"].get("archs", {}).values()
                  if int(f.get("count", 0)) > 0]
        return specs

    @staticmethod
    def _parameters(spec: Mapping[str, Any]) -> int:
        """Parameter count without allocating or downloading anything (meta device); 0 for a
        constructor that cannot be built there (the estimate then leaves it out)."""
        try:
            with torch.device("meta"):
                model = build_from_spec(_stored_spec(spec))
        except IPGuardError:
            raise
        except Exception as exc:  # noqa: BLE001 - some constructors read tensor values
            log.debug("cannot count parameters of %s on the meta device: %s", spec, exc)
            return 0
        return sum(p.numel() for p in model.parameters())

    def selections(self) -> tuple[str, ...]:
        return SELECTIONS + tuple(self.zoo["negatives"].get("archs", {}))

    def _plan(self, member: str, seed: int | None) -> Iterator[Callable[[], list[Member]]]:
        neg = self.zoo["negatives"]
        families = list(neg.get("archs", {}))
        want = {member}
        if member == "all":
            want = {"target", "positives", "negatives"}
        if "positives" in want:
            want |= {"finetune", "wp", "fp"}
        if "finetune" in want:
            want |= set(FINETUNE_KINDS)
        if "negatives" in want:
            want |= {"same_arch", "forest", *families}
        if "target" in want:
            yield lambda: [self.target()]
        for kind in FINETUNE_KINDS:
            if kind in want:
                yield lambda kind=kind: [self.finetune(kind)]
        for kind in ("wp", "fp"):
            if kind in want:
                yield lambda kind=kind: self.prune_chain(kind)
        if "same_arch" in want:
            for s in self._seeds(neg["same_arch"], seed):
                yield lambda s=s: [self.independent("same_arch", s)]
        for family in families:
            if family in want:
                for s in self._seeds(neg["archs"][family], seed):
                    yield lambda s=s, family=family: [self.independent(family, s)]
        if "forest" in want:
            for s in self._seeds(neg["forest"], seed):
                yield lambda s=s: [self.forest(s)]

    @staticmethod
    def _seeds(cfg: Mapping[str, Any], only: int | None) -> list[int]:
        count, first = int(cfg["count"]), int(cfg.get("first_seed", 0))
        if count < 0:
            raise ConfigError("count", count, "a member count must be >= 0")
        seeds = list(range(first, first + count))
        if only is not None:
            if only not in seeds:
                raise ConfigError("seed", only, f"this family's seeds are {seeds}")
            seeds = [only]
        return seeds

    # ----------------------------------------------------------------- members
    def target(self) -> Member:
        cfg = self.zoo["target"]
        folder = member_dir(self.root, "target", "target")
        if is_built(folder):
            return self._skip(folder)
        seed = int(cfg["seed"])
        L.seed_everything(seed, verbose=False)
        model = build_from_spec(dict(cfg["model"]))
        seconds = self._train_or_load(model, cfg.get("recipe"), "zoo.target.recipe", seed,
                                      "target")
        return self._save(folder, model, seconds, name="target", role="target", kind="target",
                          arch=cfg["arch"], seed=seed, spec=_stored_spec(cfg["model"]),
                          hyper=_pretrained(cfg))

    def finetune(self, kind: str) -> Member:
        folder = member_dir(self.root, "positive", kind)
        if is_built(folder):
            return self._skip(folder)
        target, model = self._target_copy()
        seed = int(target.seed) + 1000 + list(FINETUNE_KINDS).index(kind)
        L.seed_everything(seed, verbose=False)
        trainable = prepare_finetune(model, kind, seed)
        recipe = Recipe.from_cfg(self.zoo["positives"]["finetune"][kind],
                                 f"zoo.positives.finetune.{kind}")
        seconds = self._fit(model, recipe, seed, kind, trainable=trainable)
        return self._save(folder, model, seconds, name=kind, role="positive", kind=kind,
                          arch=target.arch, seed=seed, parent=target.name, spec=target.model)

    def prune_chain(self, kind: str) -> list[Member]:
        """p (or c) = step, 2*step, ... until the accuracy loss exceeds the budget; the first
        level that breaks the 3 % rule is recorded as ``rejected`` and ends the chain."""
        cfg = self.zoo["positives"][kind]
        budget = float(self.zoo["positives"].get("max_accuracy_loss", 0.03))
        target, _ = self._target_copy()
        members: list[Member] = []
        for level in pruning_levels(float(cfg["step"]), float(cfg["largest"])):
            name = _level_name(kind, level)
            kept, rejected = (member_dir(self.root, r, name) for r in ("positive", "rejected"))
            if is_built(rejected):
                self.skipped.append(name)
                break
            if is_built(kept):
                members.append(self._skip(kept))
                continue
            _, model = self._target_copy()
            masks = (weight_pruning_masks if kind == "wp" else filter_pruning_masks)(model, level)
            apply_masks(model, masks)
            seed = int(target.seed) + 2000 + round(level * 1000)
            L.seed_everything(seed, verbose=False)
            recipe = Recipe.from_cfg(cfg["recipe"], f"zoo.positives.{kind}.recipe")
            seconds = self._fit(model, recipe, seed, name, masks=masks)
            acc = accuracy(TorchClassifier(model, device=self.device), *self._test_tensors())
            ok = within_budget(float(target.test_accuracy or 0.0), acc, budget)
            key = "p" if kind == "wp" else "c"
            hyper = {key: level, "accuracy_loss": float(target.test_accuracy or 0.0) - acc,
                     "max_accuracy_loss": budget}
            if kind == "fp":
                hyper["c_fraction"] = str(Fraction(level).limit_denominator(1000))
            member = self._save(kept if ok else rejected, model, seconds, name=name,
                                role="positive" if ok else "rejected", kind=kind,
                                arch=target.arch, seed=seed, parent=target.name,
                                spec=target.model, hyper=hyper)
            if not ok:
                log.info("%s loses %.3f accuracy > %.3f: not a suspect, chain ends", name,
                         hyper["accuracy_loss"], budget)
                break
            members.append(member)
        return members

    def independent(self, family: str, seed: int) -> Member:
        """A negative: same architecture as the target (``same_arch``) or another family,
        trained from scratch on the same data with its own seed."""
        if family == "same_arch":
            cfg = {**self.zoo["target"], **self.zoo["negatives"]["same_arch"]}
        else:
            cfg = self.zoo["negatives"]["archs"][family]
        name = f"{family}-s{seed}"
        folder = member_dir(self.root, "negative", name)
        if is_built(folder):
            return self._skip(folder)
        L.seed_everything(seed, verbose=False)
        model = build_from_spec(dict(cfg["model"]))
        seconds = self._train_or_load(model, cfg.get("recipe"),
                                      f"zoo.negatives.{family}.recipe", seed, name)
        return self._save(folder, model, seconds, name=name, role="negative", kind=family,
                          arch=cfg["arch"], seed=seed, spec=_stored_spec(cfg["model"]),
                          hyper=_pretrained(cfg))

    def forest(self, seed: int) -> Member:
        name = f"forest-s{seed}"
        folder = member_dir(self.root, "negative", name)
        if is_built(folder):
            return self._skip(folder)
        start = time.perf_counter()
        x, y = self.data.train_tensors()
        trees = int(self.zoo["negatives"]["forest"].get("n_estimators", 20))
        _, ensemble = train_forest(x, y, n_estimators=trees, seed=seed)
        seconds = time.perf_counter() - start
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_tmp(folder)
        atomic_write(folder / FOREST_FILE, lambda tmp: ensemble.save(tmp))
        acc = accuracy(ForestClassifier(ensemble), *self._test_tensors())
        nodes = int((ensemble.left != -1).sum() + (ensemble.left == -1).sum())
        member = Member(name=name, role="negative", kind="forest", arch="forest", seed=seed,
                        test_accuracy=acc, parameters=nodes, nonzero_parameters=nodes,
                        train_seconds=seconds, hyper={"n_estimators": trees}, path=str(folder))
        member.save()
        self.built.append(name)
        log.info("built %s: test accuracy %.4f in %.1fs", name, acc, seconds)
        return member

    # ----------------------------------------------------------------- helpers
    def _target_copy(self) -> tuple[Member, nn.Module]:
        folder = member_dir(self.root, "target", "target")
        if not is_built(folder):
            raise MissingZooError(f"the target is not built yet at {folder}: positives need it; "
                                  "run `python -m train.zoo member=target` first")
        target = Member.load(folder)
        return target, copy.deepcopy(target.load_module()).train()

    def _test_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._test is None:
            self._test = self.data.test_tensors()
        return self._test

    def _train_or_load(
        self, model: nn.Module, recipe: Mapping[str, Any] | None, where: str, seed: int,
        name: str,
    ) -> float:
        """Train by the recipe; ``recipe: null`` marks a pretrained model, kept as loaded."""
        if recipe is None:
            return 0.0
        return self._fit(model, Recipe.from_cfg(recipe, where), seed, name)

    def _fit(
        self,
        model: nn.Module,
        recipe: Recipe,
        seed: int,
        name: str,
        trainable: str = "all",
        masks: dict[str, torch.Tensor] | None = None,
    ) -> float:
        if len(self.data.train) == 0:
            raise IPGuardError(f"dataset {self.data.name} has no training images, and {name} "
                               "must be trained: give the dataset's folder (for imagenet: "
                               "dataset.loader.root=/path/to/imagenet)")
        module = ClassifierModule(model, optimizer=recipe.optimizer, lr=recipe.lr,
                                  weight_decay=recipe.weight_decay, schedule=recipe.schedule,
                                  trainable=trainable, masks=masks, head_lr=recipe.head_lr,
                                  channels_last=self.channels_last)
        datamodule = ImageDataModule(self.data, batch_size=recipe.batch_size, seed=seed,
                                     num_workers=self.num_workers)
        loggers: list[Any] = [CSVLogger(str(self.log_dir), name=name)] if self.log_dir else []
        run = lightning_logger(self.wandb, name=f"{self.data.name}-{name}",
                               group=f"zoo-{self.data.name}", tags=[self.data.name, name],
                               config={"member": name, "seed": seed, "recipe": asdict(recipe),
                                       "trainable": trainable})
        if run is not None:
            loggers.append(run)
        identity = {"name": name, "seed": seed, "recipe": asdict(recipe), "trainable": trainable,
                    "masked": sorted(masks) if masks else []}
        ckpt = self._partial(name) / "last.ckpt"
        resume = self._resumable(ckpt, identity)
        checkpoint = LastCheckpoint(ckpt, self.checkpoint_every, identity)
        kwargs = {"enable_progress_bar": False, "enable_model_summary": False,
                  "enable_checkpointing": False, **self.trainer_kwargs}
        trainer = L.Trainer(max_epochs=recipe.epochs, logger=loggers or False,
                            callbacks=[checkpoint], **kwargs)
        try:
            trainer.fit(module, datamodule=datamodule, ckpt_path=resume, weights_only=True)
        except BaseException:
            finish_lightning_logger(run, exit_code=1)  # the member's W&B run ends as failed
            raise
        finish_lightning_logger(run)
        return checkpoint.seconds

    def _partial(self, name: str) -> Path:
        return self.root / PARTIAL / name

    def _clear_partial(self, name: str) -> None:
        """A finished member's checkpoint is no longer needed (nor the empty ``.partial``)."""
        shutil.rmtree(self._partial(name), ignore_errors=True)
        try:
            (self.root / PARTIAL).rmdir()
        except OSError:
            pass  # absent, or another member's training is still in there

    def _resumable(self, ckpt: Path, identity: dict[str, Any]) -> Path | None:
        """``ckpt`` when it is a readable checkpoint of this very training, else None (an
        unreadable, unsafe or foreign one is deleted and the member trains from the start)."""
        if not ckpt.is_file():
            remove_stale_tmp(ckpt.parent)
            return None
        try:
            state = read_checkpoint(ckpt)
            found = checkpoint_identity(state)
        except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint: start afresh
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("%s cannot be resumed (%s: %s): training %s from the start", ckpt,
                        type(exc).__name__, first[:200], identity["name"])
            shutil.rmtree(ckpt.parent, ignore_errors=True)
            return None
        if found != identity:
            log.warning("%s belongs to another training (recipe or seed changed): training %s "
                        "from the start", ckpt, identity["name"])
            shutil.rmtree(ckpt.parent, ignore_errors=True)
            return None
        log.info("resuming %s from its checkpoint after epoch %d", identity["name"],
                 int(state.get("epoch", -1)) + 1)
        return ckpt

    def _skip(self, folder: Path) -> Member:
        member = Member.load(folder)
        self.skipped.append(member.name)
        self._clear_partial(member.name)  # a run killed after writing member.json left it
        return member

    def _save(
        self,
        folder: Path,
        model: nn.Module,
        seconds: float,
        *,
        name: str,
        role: str,
        kind: str,
        arch: str,
        seed: int,
        spec: Mapping[str, Any] | None,
        parent: str | None = None,
        hyper: dict[str, Any] | None = None,
    ) -> Member:
        model = model.eval()
        acc = (accuracy(TorchClassifier(model, device=self.device), *self._test_tensors())
               if len(self.data.test) else None)  # ImageNet weights saved without its folder
        total, nonzero = count_parameters(model)
        flops = count_flops(model, self.data.input_shape)
        hyper = {**(hyper or {}), "flops": flops.effective, "flops_dense": flops.dense,
                 "flops_reduction": flops.reduction}
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_tmp(folder)  # left by a run killed while writing this member
        save_weights(model, folder)
        member = Member(name=name, role=role, kind=kind, arch=str(arch), seed=seed, parent=parent,
                        test_accuracy=acc, parameters=total, nonzero_parameters=nonzero,
                        train_seconds=seconds, hyper=hyper,
                        model=dict(spec) if spec is not None else None, path=str(folder))
        member.save()  # written last: its presence marks the member complete
        self._clear_partial(name)
        self.built.append(name)
        log.info("built %s (%s): test accuracy %s in %.1fs", name, role,
                 "n/a" if acc is None else f"{acc:.4f}", seconds)
        return member


def _stored_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor as member.json records it: pretrained weights live in the member's
    safetensors file, so the network is rebuilt without fetching them again."""
    return {**spec, "weights": None} if spec.get("weights") is not None else dict(spec)


def _pretrained(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Where a loaded (not trained) member's weights came from."""
    if cfg.get("recipe") is not None:
        return {}
    return {"pretrained": cfg["model"].get("weights")}


def _level_name(kind: str, level: float) -> str:
    if kind == "wp":
        return f"wp-p{level:.2f}"
    frac = Fraction(level).limit_denominator(1000)
    if 16 % frac.denominator == 0:  # the paper's steps of 1/16
        return f"fp-c{frac.numerator * 16 // frac.denominator:02d}of16"
    return f"fp-c{frac.numerator}of{frac.denominator}"
