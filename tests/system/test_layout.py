"""The house keeps the shape docs/design.md describes: small modules, a short top level, and no
module reaching into another's private names. (The layers and the absence of import circles are
import-linter contracts in pyproject.toml, checked by `make lint`.)"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("ipguard", "train")
MAX_LINES = 300          # "about 300": a module longer than this has two responsibilities
MAX_TOP_LEVEL = 10       # ipguard/'s entries besides __init__.py: the layers and two entry points


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")
                  if "__pycache__" not in p.parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_private_names(tree: ast.AST) -> set[str]:
    """Private names a module defines: functions, classes, module constants, attributes it
    assigns on ``self`` and parameters' keywords are not counted (only definitions)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if _private(n)}


def test_no_module_is_over_about_300_lines():
    long = {str(p.relative_to(REPO)): n for p in _modules()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these into modules of one responsibility each: {long}"


def test_ipguard_top_level_shows_its_layers():
    entries = sorted(p.name for p in (REPO / "ipguard").iterdir()
                     if p.name not in ("__init__.py", "__pycache__"))
    assert len(entries) <= MAX_TOP_LEVEL, entries
    packages = [e for e in entries if (REPO / "ipguard" / e).is_dir()]
    for package in packages:   # every layer is a real package with a docstring saying its job
        init = REPO / "ipguard" / package / "__init__.py"
        assert init.is_file() and ast.get_docstring(ast.parse(init.read_text())), package


def test_no_module_uses_another_modules_private_names():
    trees = {p: ast.parse(p.read_text()) for p in _modules()}
    owners: dict[str, set[Path]] = defaultdict(set)
    for path, tree in trees.items():
        for name in _defined_private_names(tree):
            owners[name].add(path)
    offenders = []
    for path, tree in trees.items():
        own = _defined_private_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGES):
                offenders += [f"{path.relative_to(REPO)}:{node.lineno} imports {a.name}"
                              for a in node.names if _private(a.name)]
            elif (isinstance(node, ast.Attribute) and _private(node.attr)
                  and node.attr not in own and owners.get(node.attr)
                  and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                where = ", ".join(sorted(str(p.relative_to(REPO)) for p in owners[node.attr]))
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno} uses .{node.attr} "
                                 f"(private to {where})")
    assert offenders == [], "make these public or move the code:\n" + "\n".join(offenders)


@pytest.mark.parametrize("module", ["ipguard.bench", "ipguard.figures"])
def test_entry_modules_only_delegate(module):
    """``python -m ipguard.bench`` and ``ipguard.figures`` stay where users know them; their
    bodies live in the application layer."""
    path = REPO / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text())
    imports = [n for n in tree.body if isinstance(n, ast.ImportFrom)]
    assert [n.module for n in imports] == [f"ipguard.app.{module.split('.')[-1]}"]
    assert len(path.read_text().splitlines()) <= 10


def test_the_public_library_needs_only_the_lower_layers():
    """``from ipguard import ...`` and ``ipguard.zoo`` work without Hydra: they load the core,
    the zoo, the models and utils, never the application, results or paper layers."""
    code = ("import sys, ipguard, ipguard.zoo; print(sorted({m.split('.')[1] for m in sys.modules "
            "if m.startswith('ipguard.')}), 'hydra' in sys.modules, 'omegaconf' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.strip()
    assert out == "['core', 'models', 'utils', 'zoo'] False False"
