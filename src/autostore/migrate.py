"""Upgrading stores written by autostore 0.1.x: rename each extensionless file to ``key.<ext>``.

0.1.x stored every value under its bare key (``cfg`` holding JSON, ``df`` holding parquet).
Such files are read by their content already (:mod:`autostore.formats.sniff`); renaming them
makes the format visible to every tool and removes the content check. :func:`plan` decides
without changing anything (``autostore migrate URI`` prints it); :func:`apply` renames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .backends.base import Backend, is_hidden
from .errors import AlreadyExists, NotFound
from .formats.sniff import HEAD_BYTES, from_head, sniff

if TYPE_CHECKING:
    from .store import AutoStore

__all__ = ["Rename", "apply", "plan"]


@dataclass(frozen=True)
class Rename:
    """One extensionless file: ``target`` is its new key, or None with ``reason`` when it stays."""

    key: str
    target: str | None
    reason: str = ""


def plan(store: AutoStore, prefix: str, *, backend: Backend | None = None) -> list[Rename]:
    """What :func:`apply` would do below the folder ``prefix`` ("" or ending with "/") of
    ``backend`` (a backend of ``store``, whose formats name the extensions; default the store's
    own, with full keys). Hidden files (``_SUCCESS``, ``.DS_Store``) and files with a known
    extension are left out."""
    backend = store.core.primary if backend is None else backend
    keys = [m.key for m in backend.list_objects(prefix)]
    existing = set(keys)
    out: list[Rename] = []
    for key in keys:
        rel = key[len(prefix) :]
        if not rel or rel.endswith("/") or is_hidden(rel):
            continue
        if store.core.handlers.known_extension(rel.rpartition("/")[2]) is not None:
            continue
        ext = _content_kind(store, backend, key)
        if ext is None:
            out.append(Rename(key, None, "content not recognised; read it with format=... and write it anew"))
        elif ext == ".txt":
            # 0.1.x stored str values as JSON strings: a plain text file is someone else's (README, Makefile).
            out.append(Rename(key, None, "plain text, not a value 0.1.x wrote; rename it yourself if it is data"))
        elif key + ext in existing:
            out.append(Rename(key, None, f"{rel + ext} exists too; keep one of them"))
        else:
            out.append(Rename(key, key + ext))
    return out


def apply(store: AutoStore, renames: list[Rename], *, backend: Backend | None = None) -> list[Rename]:
    """Rename every planned file (a local rename, or a server-side copy then delete) of
    ``backend`` (default the store's own); returns the renames done. A target that appeared since
    planning is left alone (skipped)."""
    backend = store.core.primary if backend is None else backend
    from .backends.local import LocalBackend

    done: list[Rename] = []
    for item in renames:
        if item.target is None:
            continue
        if isinstance(backend, LocalBackend):
            try:
                backend.rename(item.key, item.target, overwrite=False)
            except (AlreadyExists, NotFound):
                continue
        else:
            try:
                backend.head(item.target)
                continue  # written since the plan: never overwrite it
            except NotFound:
                pass
            backend.copy(item.key, item.target)
            backend.delete(item.key)
        store.core.after_write(backend, item.target)
        store.core.after_delete(backend, item.key)
        done.append(item)
    store.core.index.clear()
    return done


def _content_kind(store: AutoStore, backend: Backend, key: str) -> str | None:
    """The extension the file's bytes call for: the first bytes decide magic-number formats
    (one ranged read); zip archives and JSON/text need the whole file."""
    ext = from_head(backend.get_range(key, 0, HEAD_BYTES))
    if ext is not None and ext != ".zip":
        return ext
    with store.core.local_file(backend, key, ignore_cache=True) as path:
        return sniff(path)
