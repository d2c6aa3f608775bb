"""A zoo as a whole: the members found under one dataset's folder, checked as they load."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ipguard.utils.errors import IPGuardError, MissingZooError
from ipguard.zoo.member import BUILD_COMMAND, MEMBER_FILE, ROLES, Member
from ipguard.zoo.suspects import zoo_order


@dataclass
class Zoo:
    """The members found under one dataset's zoo folder."""

    root: Path
    members: list[Member]

    @property
    def target(self) -> Member:
        targets = [m for m in self.members if m.role == "target"]
        if len(targets) != 1:
            raise MissingZooError(f"{self.root}: expected one target, found {len(targets)}: "
                                  f"build it with `{BUILD_COMMAND} member=target`")
        return targets[0]

    def suspects(self) -> Iterator[Member]:
        """Positives then negatives, in a stable order; rejected pruning steps and the
        owner's auxiliary models are left out."""
        for role in ("positive", "negative"):
            yield from (m for m in self.members if m.role == role)

    def auxiliary(self, kind: str | None = None) -> list[Member]:
        """The owner's own auxiliary models (role ``auxiliary``: CAE's surrogates and
        references, train.builders.auxiliary), of ``kind`` when given; never suspects."""
        return [m for m in self.members if m.role == "auxiliary" and kind in (None, m.kind)]

    def find(self, name: str) -> Member | None:
        return next((m for m in self.members if m.name == name), None)

    def identity(self, auxiliary: bool = False) -> str:
        """A short digest of which members the zoo holds and of their weights: a results
        record made on another build of the zoo (retrained, a member added or deleted) has
        another identity, so a sweep recomputes it instead of mixing two zoos. Cheap: it
        reads the digests member.json records (a member saved before they were recorded
        counts by its weights file's size and modification time). The auxiliary members
        count only with ``auxiliary`` (a scheme that uses them): building them leaves every
        other record of the zoo valid."""
        parts = []
        for m in self.members:
            if m.role == "rejected" or (m.role == "auxiliary" and not auxiliary):
                continue
            weights = m.weights_sha256
            if weights is None and m.weights_file.is_file():
                stat = m.weights_file.stat()
                weights = f"{stat.st_size}:{stat.st_mtime_ns}"
            parts.append([m.role, m.name, weights])
        blob = json.dumps(sorted(parts), separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def member_dir(zoo_root: str | Path, role: str, name: str) -> Path:
    return Path(zoo_root) / role / name


def is_built(folder: str | Path) -> bool:
    """A member is built once its member.json exists (it is written last, atomically)."""
    return (Path(folder) / MEMBER_FILE).is_file()


def load_zoo(root: str | Path, build_command: str = BUILD_COMMAND, check_files: bool = True,
             require_target: bool = True) -> Zoo:
    """Read every member.json under ``root``; a missing zoo says how to build it. Each member
    must sit in the folder of its role, under a name no other member has, and (with
    ``check_files``) have a complete weights file: a broken member fails the run here, before
    any extraction, not in the middle of verification. Only headers are read.
    ``require_target`` False reads a zoo of suspects alone (a population's negatives)."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise MissingZooError(f"the zoo path {root} is a file, not a folder: point zoo_dir at "
                              f"the zoo, or build it with `{build_command}`")
    files = sorted(root.glob(f"*/*/{MEMBER_FILE}")) if root.is_dir() else []
    if not files:
        raise MissingZooError(f"no zoo at {root}: build it first with `{build_command}`")
    members = [Member.load(f.parent) for f in files]
    seen: dict[str, Member] = {}
    for m in members:
        role_dir = m.dir.parent.name
        if role_dir != m.role:
            raise IPGuardError(f"{m.dir / MEMBER_FILE} says role {m.role!r} but lies under "
                               f"{role_dir}/: move the folder or rebuild it with "
                               f"`{build_command}`")
        if m.name in seen:
            raise IPGuardError(f"two members are named {m.name!r}: {seen[m.name].dir} and "
                               f"{m.dir}; delete one (a zoo build never makes both)")
        seen[m.name] = m
        if check_files:
            m.check_files()
    members.sort(key=lambda m: (ROLES.index(m.role), *zoo_order(m.kind, m.hyper, m.arch),
                                m.seed, m.name))
    zoo = Zoo(root, members)
    if require_target:
        _ = zoo.target
    return zoo
