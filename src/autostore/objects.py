"""Stored objects by their exact keys, for tools that show and move files as they are stored (the
command line): listings with metadata, the exact-key HEAD, raw bytes, batched deletes, copies.

Nothing here resolves extensions or decodes values (that is :class:`autostore.store.AutoStore`'s
dict API); keys are the full keys in the bucket (or absolute paths without their leading "/") of
the store's own backend, as a store opened on a bucket root or on "/" names them. Deletes and
copies tell the store, so its cache and key index follow, exactly as the store's own writes do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .backends.base import ObjectMeta, ProgressCallback
from .transfer import remove_empty_folders, removed, transfer_object

if TYPE_CHECKING:
    from .store import AutoStore

__all__ = [
    "ObjectMeta",
    "delete",
    "delete_many",
    "get_bytes",
    "head",
    "is_delta_table",
    "is_dir",
    "list_dir",
    "list_objects",
    "prune_empty_folders",
    "same_backend",
    "transfer",
    "uri",
]


def list_objects(store: AutoStore, prefix: str) -> Iterator[ObjectMeta]:
    """Every object below ``prefix``, with size, ETag and modification time."""
    return store.core.primary.list_objects(prefix)


def list_dir(store: AutoStore, prefix: str) -> tuple[list[ObjectMeta], list[str]]:
    """The files directly in the folder ``prefix`` and its sub-folders (ending with "/")."""
    return store.core.primary.list_dir(prefix)


def head(store: AutoStore, key: str) -> ObjectMeta:
    """The metadata of the object named exactly ``key`` (NotFound when there is none)."""
    return store.core.primary.head(key)


def is_dir(store: AutoStore, key: str) -> bool:
    """True when something lives below ``key`` (a folder)."""
    return store.core.primary.is_dir(key)


def get_bytes(store: AutoStore, key: str) -> bytes:
    """The stored bytes of ``key``, undecoded (read from the backend, never from the cache)."""
    return store.core.primary.get_bytes(key)


def uri(store: AutoStore, key: str) -> str:
    """``key`` as a URI (a path on local disk)."""
    return store.core.primary.uri(key)


def delete(store: AutoStore, key: str) -> None:
    """Remove the object ``key``; the store's cache and key index forget it."""
    backend = store.core.primary
    backend.delete(key)
    removed(store, backend, key)


def delete_many(store: AutoStore, keys: list[str]) -> None:
    """Remove the objects ``keys`` in batches (one request per 1000 on S3); the store forgets
    each (caches sharing the directory follow)."""
    backend = store.core.primary
    backend.delete_many(keys)
    for key in keys:
        removed(store, backend, key)


def prune_empty_folders(store: AutoStore, prefix: str) -> None:
    """Remove the empty local folders below ``prefix`` (a no-op for object stores)."""
    root = store.core.primary.local_path(prefix.rstrip("/"))
    if root is not None and root.is_dir():
        remove_empty_folders(str(root))


def same_backend(a: AutoStore, b: AutoStore) -> bool:
    """True when both stores reach their objects through one backend (copies stay server-side)."""
    return a.core.primary is b.core.primary


def is_delta_table(store: AutoStore, prefix: str) -> bool:
    """True when the folder ``prefix`` holds a Delta table (a ``_delta_log/`` folder)."""
    from .delta import is_table

    return is_table(store.core.primary, prefix)


def transfer(
    src: AutoStore,
    src_key: str,
    dst: AutoStore,
    dst_key: str,
    *,
    move: bool,
    size: int | None = None,
    progress: ProgressCallback | None = None,
) -> None:
    """Copy (``move``: move) the object ``src_key`` of ``src`` to ``dst_key`` of ``dst``: the one
    implementation, :func:`autostore.transfer.transfer_object` (a moved source is deleted only if
    unchanged; caches sharing a directory with either store follow)."""
    transfer_object(
        src, src.core.primary, src_key, dst, dst.core.primary, dst_key, move=move, size=size, progress=progress
    )
