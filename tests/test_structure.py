"""The shape of the package (issue 15): every module imports on its own, in a fresh interpreter
(an import cycle can work in one import order and break in another), and no module imports
another's private names (``from .x import _name``)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import autostore

PACKAGE = Path(autostore.__file__).resolve().parent
SRC = PACKAGE.parent

# Cross-module private imports that existed when this test was written, as
# (importing file relative to src/autostore, "module it imports from", "name").
# This list must only shrink (issue 15): fix an entry by giving the name a public spelling or
# moving it to the module that uses it, then delete the entry. Never add one.
PRIVATE_IMPORTS_ALLOWED: frozenset[tuple[str, str, str]] = frozenset()


def _module_names() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


MODULES = _module_names()


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports_in(text: str, filename: str = "<text>") -> list[tuple[str, str]]:
    """``(module, name)`` of every ``from <autostore module> import <private name>`` in ``text``
    (any depth, multi-line included), and of every import from a private module of the package
    (``from ._x import y``). Other libraries' private names are their own business."""
    found = []
    for node in ast.walk(ast.parse(text, filename=filename)):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = node.module or ""
        if node.level == 0 and module.split(".")[0] != "autostore":
            continue
        private_module = any(_is_private(part) for part in module.split(".") if part)
        found += [("." * node.level + module, a.name) for a in node.names if private_module or _is_private(a.name)]
    return found


def _private_imports() -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for module, name in private_imports_in(path.read_text(encoding="utf-8"), str(path)):
            found.add((path.relative_to(PACKAGE).as_posix(), module, name))
    return found


def test_every_module_is_found() -> None:
    # guards the parametrization below against finding nothing (and so proving nothing)
    assert {"autostore", "autostore.store", "autostore.cli", "autostore.cli.app", "autostore.backends.local"} <= set(
        MODULES
    )
    assert len(MODULES) > 40


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone_in_a_fresh_interpreter(module: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    code = f"import importlib, sys; m = importlib.import_module({module!r}); print(m.__name__, m.__file__)"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, f"import {module} failed:\n{proc.stderr}"
    name, file = proc.stdout.split()
    assert name == module
    assert Path(file).resolve().is_relative_to(PACKAGE)  # the package under test, not an installed copy


def test_cli_help_imports_no_heavy_library() -> None:
    # `autostore --help` (and every command's start) must not pay for polars, obstore or boto3
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "autostore", "--help"],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Usage: autostore" in proc.stdout
    imported = {line.rpartition("|")[2].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "autostore.cli.app" in imported and "autostore.cli.browse" in imported  # the probe saw our imports
    heavy = {"polars", "obstore", "boto3", "botocore", "numpy", "pyarrow", "deltalake", "torch"}
    assert not heavy & imported, sorted(heavy & imported)


def test_no_new_cross_module_private_imports() -> None:
    found = _private_imports()
    new = sorted(found - PRIVATE_IMPORTS_ALLOWED)
    assert not new, (
        "a module imports another module's private names (issue 15: talk through public or documented "
        f"internal names instead): {new}"
    )
    gone = sorted(PRIVATE_IMPORTS_ALLOWED - found)
    assert not gone, f"these private imports are gone: delete them from PRIVATE_IMPORTS_ALLOWED: {gone}"


def test_private_import_scan_sees_them() -> None:
    # the scanner itself: a private name, a private module and a multi-line import are found;
    # dunders, public names imported under a private alias and other libraries' names are not
    text = (
        "from .store import _rebuild_store\n"
        "from ..errors import (\n    NotFound,\n    _hidden,\n)\n"
        "from ._private import public\n"
        "def f():\n    from autostore.cache import _entry\n"
        "from . import __version__\n"
        "from .globbing import glob_regex as _glob_regex\n"
        "from collections import _chain_map\n"
    )
    assert sorted(private_imports_in(text)) == [
        ("..errors", "_hidden"),
        ("._private", "public"),
        (".store", "_rebuild_store"),
        ("autostore.cache", "_entry"),
    ]


# The modules that may use an AutoStore's private members: the store itself. Everything else talks
# to a store through ``store.core`` (autostore.core.StoreCore, its internal interface), issue 15.
STORE_PRIVATE_ALLOWED = frozenset({"store.py"})


def store_private_uses_in(text: str, filename: str = "<text>") -> list[tuple[int, str]]:
    """``(line, "owner._name")`` for every attribute access ``<x>._name`` in ``text`` whose owner
    ``<x>`` is a name or attribute ending in ``store`` (``store._target``, ``self._store._tmp``,
    ``self.store._index``, ``dst_store._after_write``); dunders are not private."""
    found = []
    for node in ast.walk(ast.parse(text, filename=filename)):
        if not isinstance(node, ast.Attribute) or not _is_private(node.attr):
            continue
        owner = node.value
        name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else None
        if name is not None and name.lower().endswith("store"):
            found.append((node.lineno, f"{name}.{node.attr}"))
    return sorted(found)


def test_no_module_uses_private_members_of_a_store() -> None:
    found = [
        f"{path.relative_to(PACKAGE).as_posix()}:{line}: {use}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).as_posix() not in STORE_PRIVATE_ALLOWED
        for line, use in store_private_uses_in(path.read_text(encoding="utf-8"), str(path))
    ]
    assert not found, "use store.core (autostore/core.py lists what it offers) instead of:\n" + "\n".join(found)


def test_store_private_scan_sees_them() -> None:
    text = (
        "store._target(k)\n"
        "self._store._path_wrote(b, k)\n"
        "x = self.store._index\n"
        "dst_store._after_write(d, k)\n"
        "store.core.target(k)\n"  # the internal interface: fine
        "store.__class__\n"  # a dunder: fine
        "self._backend._thing\n"  # not a store
        "AutoStore._rebuild\n"
    )
    assert store_private_uses_in(text) == [
        (1, "store._target"),
        (2, "_store._path_wrote"),
        (3, "store._index"),
        (4, "dst_store._after_write"),
        (8, "AutoStore._rebuild"),
    ]
