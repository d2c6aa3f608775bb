"""Every command the README and docs show runs as written, so a reader can paste it: each
``python -m ipguard.bench|ipguard.figures|train.zoo ...`` line is composed with its overrides
(the first value of a sweep) against the real configs and typed by its schema, each
``make <target>`` names a target of the Makefile, and every relative link points at a file."""

from __future__ import annotations

import re
import shlex

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import open_dict

from ipguard.app.config import CONF_DIR, typed
from ipguard.app.schema import BenchConfig, FiguresConfig
from train.schema import TrainConfig

from conftest import REPO

DOCS = [REPO / "README.md", REPO / "sweeps" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
ENTRIES = {"ipguard.bench": ("bench", BenchConfig), "ipguard.figures": ("figures", FiguresConfig),
           "train.zoo": ("train", TrainConfig)}
COMMAND = re.compile(r"python -m (ipguard\.bench|ipguard\.figures|train\.zoo)\b([^`\n]*)")


def _commands() -> list[tuple[str, str, str]]:
    """(where, entry, arguments) for every command in the docs; a backslash continues a line;
    commands with a placeholder (<you>, <dataset>) are left out."""
    out = []
    for doc in DOCS:
        text = doc.read_text().replace("\\\n", " ")
        for line_no, line in enumerate(text.splitlines(), 1):
            for match in COMMAND.finditer(line):
                args = re.split(r"\s(?:&&|\|\||;|\|)\s", match.group(2).split("#")[0])[0]
                args = args.strip()
                if "<" not in args and "..." not in args:
                    out.append((f"{doc.relative_to(REPO)}:{line_no}", match.group(1), args))
    return out


COMMANDS = _commands()


def test_the_docs_show_commands_of_every_entry_point():
    assert {entry for _, entry, _ in COMMANDS} == set(ENTRIES) and len(COMMANDS) > 30


@pytest.mark.parametrize("where, entry, args", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_documented_command_composes(where, entry, args):
    config, schema = ENTRIES[entry]
    parser = OverridesParser.create()
    overrides = []
    for word in shlex.split(args):
        if word.startswith("-"):
            continue  # -m: the multirun runs each of the points composed here
        override = parser.parse_override(word)
        if override.is_sweep_override():
            word = f"{override.get_key_element()}={next(iter(override.sweep_iterator()))}"
        overrides.append(word)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name=config, overrides=[*overrides, "paths.root_dir=/R",
                                                     "paths.output_dir=/R/out"],
                      return_hydra_config=True)
    with open_dict(cfg):
        del cfg["hydra"]
    typed(cfg, schema)


MAKE = re.compile(r"`make ([a-z-]+)")


def test_every_documented_make_target_exists():
    targets = set(re.findall(r"^([a-z-]+):", (REPO / "Makefile").read_text(), re.M))
    named = {t for doc in DOCS for t in MAKE.findall(doc.read_text())}
    assert {"demo", "test"} <= named and named <= targets, named - targets


def test_every_relative_link_points_at_a_file():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.relative_to(REPO)}: {target}"
