"""Listing and removing memoized results below a prefix of a store (``autostore memo ls/rm``,
``Memoized.clear``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .backends.base import Backend, ObjectMeta
from .errors import (
    NotFound,
)
from .memometa import META_SUFFIX, valid_meta
from .uri import validate_key

if TYPE_CHECKING:
    from .store import AutoStore

__all__ = ["MemoInfo", "list_results", "remove_results"]

_META_RE = re.compile(r"[0-9a-f]{32}\.meta\.json")
_VALUE_RE = re.compile(r"[0-9a-f]{32}\.[0-9a-f]{12}(-\d+)?(\.[^/]*)?")


@dataclass(frozen=True)
class MemoInfo:
    """One stored result, as ``autostore memo ls`` shows it."""

    key: str  # relative to the listed prefix, without .meta.json
    function: str
    created: str | None
    seconds: float | None
    bytes: int
    args: dict[str, str]
    code: str | None
    version: str | None


def _listing(store: AutoStore, prefix: str) -> tuple[Backend, str, list[ObjectMeta]]:
    if prefix:
        validate_key(prefix, uri=store.uri)
        prefix = prefix if prefix.endswith("/") else prefix + "/"
    backend = store.core.primary
    base = store.core.prefix + prefix
    return backend, base, list(backend.list_objects(base))


def list_results(store: AutoStore, prefix: str = "") -> list[MemoInfo]:
    """Every memoized result stored below ``prefix`` of ``store``, by function then creation time."""
    backend, base, objects = _listing(store, prefix)
    sizes = {m.key: m.size for m in objects}
    metas = [m.key for m in objects if _META_RE.fullmatch(m.key.rpartition("/")[2])]

    def read(key: str) -> MemoInfo | None:
        try:
            meta = json.loads(backend.get_bytes(key))
        except (NotFound, ValueError, UnicodeDecodeError):
            return None
        if not valid_meta(meta):
            return None
        folder = key.rpartition("/")[0]
        files = [f"{folder}/{i['file']}" for i in meta["value"]["items"] if "file" in i]
        args = meta.get("args")
        return MemoInfo(
            key=key[len(base) : -len(META_SUFFIX)],
            function=str(meta.get("function", "")),
            created=meta.get("created"),
            seconds=meta.get("seconds"),
            bytes=sum(sizes.get(f, 0) for f in files),
            args={str(k): str(v) for k, v in args.items()} if isinstance(args, dict) else {},
            code=meta.get("code"),
            version=meta.get("version"),
        )

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = [info for info in pool.map(read, metas) if info is not None]
    return sorted(found, key=lambda i: (i.function, i.created or "", i.key))


def _matches(folder: str, function: str | None) -> bool:
    name = folder.rpartition("/")[2]
    return function is None or name == function or name.endswith("." + function)


def remove_results(store: AutoStore, prefix: str = "", function: str | None = None) -> list[str]:
    """Remove the memoized results below ``prefix`` (of ``function`` only: its ``module.qualname``
    or its name), their value files, and value files no metadata names (left by a killed call).
    Returns the removed results' keys (relative to ``prefix``, without .meta.json)."""
    backend, base, objects = _listing(store, prefix)
    metas: list[str] = []
    values: list[str] = []
    for m in objects:
        folder, _, name = m.key.rpartition("/")
        if not _matches(folder, function):
            continue
        if _META_RE.fullmatch(name):
            metas.append(m.key)
        elif _VALUE_RE.fullmatch(name):
            values.append(m.key)
    for group in (metas, values):  # metadata first: a result without it no longer exists
        if group:
            backend.delete_many(group)
            for key in group:
                store.core.after_delete(backend, key)
    return sorted(k[len(base) : -len(META_SUFFIX)] for k in metas)
