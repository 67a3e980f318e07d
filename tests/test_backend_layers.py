"""The backends layer (issue 15): no module of autostore.backends imports one that imports it
back, directly or around a longer loop, counting imports inside functions too (a late import
hides a cycle from the import system, not from a reader); backends import nothing above them
(store, path, formats, CLI); and the objects users and other modules import from
``autostore.backends.objectstore`` and ``autostore.options`` stay importable there."""

from __future__ import annotations

import ast
from pathlib import Path

import autostore

PACKAGE = Path(autostore.__file__).resolve().parent
BACKENDS = PACKAGE / "backends"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """autostore modules ``path`` imports anywhere in its text (``from .x import y`` may name the
    module x or its submodule x.y: both are returned)."""
    name = _module(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found |= {target} | {f"{target}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {m for m in found if m.startswith("autostore") and m != name}


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    return {m: _imports(p) & set(modules) for m, p in modules.items()}


def _reaches(graph: dict[str, set[str]], start: str, goal: str, within: str) -> bool:
    seen, todo = set(), [start]
    for _ in range(len(graph) + 1):  # bounded: each module is visited once
        if not todo:
            return False
        current = todo.pop()
        for nxt in graph.get(current, set()):
            if nxt == goal:
                return True
            if nxt.startswith(within) and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def test_no_import_cycle_inside_backends() -> None:
    graph = _graph()
    backends = sorted(m for m in graph if m.startswith("autostore.backends."))
    assert len(backends) > 15
    cycles = [m for m in backends if _reaches(graph, m, m, "autostore.backends.")]
    assert cycles == []


def test_no_backend_module_and_another_import_each_other() -> None:
    graph = _graph()
    mutual = sorted(
        (a, b) for a in graph for b in graph[a] if a in graph.get(b, set()) and "autostore.backends." in a + b
    )
    assert mutual == []


def test_backends_import_nothing_above_them() -> None:
    above = ("autostore.store", "autostore.path", "autostore.cli", "autostore.formats", "autostore.datasets")
    found = {(_module(p), m) for p in BACKENDS.rglob("*.py") for m in _imports(p) if m.startswith(above)}
    assert found == set()


def test_names_importers_use_stay_importable() -> None:
    import autostore.backends.local as local
    import autostore.backends.objectstore as objectstore
    import autostore.options as options

    for module, names in (
        (
            objectstore,
            "ObjectStoreBackend StaticCredentials s3_settings worst_case_seconds backoff_bounds register_builder "
            "register_fork_transport azure_config refuse_unoverridable_env",
        ),
        (
            options,
            "Options S3Options GCSOptions AzureOptions AZURITE_ACCOUNT AZURITE_KEY parse_size read_env env_is_set "
            "aws_shared_files options_class_for_kind",
        ),
        (local, "LocalBackend TEMP_MARKER ensure_parent file_meta temp_sibling remove_stale_temp_files"),
    ):
        missing = [n for n in names.split() if not hasattr(module, n)]
        assert missing == [], module.__name__
    assert autostore.S3Options is options.S3Options
    assert options.S3Options(region_name="eu-west-1").region_name == "eu-west-1"
