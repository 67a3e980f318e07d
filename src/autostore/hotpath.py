"""The common read in as few steps as possible.

``store["k00001.json"]`` is one file read (or one GET, or one cache hit) and a decode; the general
path of :meth:`AutoStore.read` (URIs, folders, extensionless lookups, retries of stale
resolutions, read options) costs more than that. :func:`read_direct` serves the case that needs
none of it and answers :data:`MISS` for everything else, so the general path stays the one source
of truth. A format read from a file (parquet, Arrow IPC, CSV, ...) reads a local store's file in
place, and a cache hit's entry file in place (no hard link; an entry evicted before it is opened
is read again by the general path); every Python call saved counts there too, because the calls
after a large read run on cold CPU caches (~0.5 ms per hit of a 20 MiB parquet file, see
docs/performance.md).

On a local store a failure to read bytes is redone there (a small file costs little, and the
general path words the error); a file read in place is read once, its decoding errors mapped by
:func:`autostore.codec.decode_failure` as the general path maps them. On an object store a failure
is not worth a second request: the GET's (or the cache's) own errors are raised as the general
path raises them, a decoding failure is mapped by :func:`autostore.codec.decode_failure`, and only
a file that vanished since the folder was listed goes to the general path (it lists again).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .cacheentries import remove_file
from .codec import decode_failure
from .errors import NotFound
from .formats.base import UNSAFE_ALLOWED
from .uri import MAX_SEGMENT_BYTES, SIMPLE_KEY_RE

if TYPE_CHECKING:
    from .backends.base import Backend
    from .cache import DownloadCache
    from .core import StoreCore
    from .formats.base import DataHandler
    from .store import AutoStore

__all__ = ["MISS", "read_direct"]

MISS: Any = object()
"""Returned when the fast path does not apply; the caller takes the general path."""


def read_direct(store: AutoStore, key: Any) -> Any:
    """The value of ``key`` in ``store``, or :data:`MISS`.

    Applies to plain keys (the characters :func:`autostore.uri.validate_key` accepts without
    normalising) of the store's own location, naming a file by its extension, or an extensionless
    key this store resolved before or whose folder it has listed, in a format whose handler runs
    no code on load. On an object store with the download cache on, the read goes through the
    cache (a hit makes no request); an unusable cache folder is left to the general path."""
    if (
        type(key) is not str
        or len(key) > MAX_SEGMENT_BYTES
        or not SIMPLE_KEY_RE.match(key)
        or key[:1] == "."
        or "/." in key
        or key[-1:] == "/"
    ):
        return MISS
    core = store.core
    local = core.local
    handlers = core.handlers
    backend = core.primary
    cache = None
    if not local and core.base_options.cache_enabled:
        cache = core.cache_for(backend)
        if cache is None:
            return MISS  # an unusable cache folder: the general path reads around it
    full = core.prefix + key
    ext = handlers.known_extension(key[key.rfind("/") + 1 :])
    stored = full
    if ext is None:
        found = core.index.remembered(backend, full)
        if found is None and not local:
            found = core.index.listed(backend, full)
        if found is None:
            return MISS
        stored = found
        ext = handlers.known_extension(stored[stored.rfind("/") + 1 :])
        if ext is None:
            return MISS
    handler = handlers.for_extension_or_none(ext)
    if handler is None or handler.unsafe:
        return MISS
    allowed = core.base_options.pickle_allowed
    if local:
        if handler.supports_bytes:
            try:
                return _decoded(handler.read_from_bytes, backend.get_bytes(stored), ext, allowed)
            except Exception:
                return MISS  # missing, vanished, a folder, undecodable: the general path says which
        try:
            path = backend.local_path(stored)
            if path is None or not stat.S_ISREG(os.stat(path).st_mode):
                return MISS
        except Exception:
            return MISS  # missing, a folder, a symlink out of the root: the general path says which
        # a file worth reading once: its decoding errors are the general path's, not redone
        return _decoded(handler.read_from_file, path, ext, allowed, uri=backend.uri(stored))
    if cache is None and not handler.supports_bytes:
        return MISS  # a temporary download: the general path's
    return _fetched(core, cache, backend, full, stored, handler, ext, allowed)


def _fetched(
    core: StoreCore,
    cache: DownloadCache | None,
    backend: Backend,
    full: str,
    stored: str,
    handler: DataHandler,
    ext: str,
    allowed: bool,
) -> Any:
    """An object store's read: one GET, or through the download cache its bytes or its entry's
    file read in place (``cache`` None only for handlers that decode bytes)."""
    owned = borrowed = False
    read: Callable[[Any, str], Any]
    try:
        if handler.supports_bytes:
            read = handler.read_from_bytes
            source: Any = backend.get_bytes(stored) if cache is None else cache.read_bytes(backend, stored)
        else:
            assert cache is not None
            read = handler.read_from_file
            # The entry's own file, read at once: a hard link (made, checked, removed) cost
            # ~0.1-0.2 ms of a 20 MiB parquet hit on cold CPU caches (docs/performance.md).
            source, owned = cache.checkout(backend, stored, borrow=True)
            borrowed = not owned
    except NotFound:
        if core.index.forget(backend, full):
            return MISS  # a remembered file vanished: the general path looks it up again
        raise
    try:
        return _decoded(read, source, ext, allowed, uri=backend.uri(stored))
    except NotFound:
        if borrowed and not os.path.exists(source):
            return MISS  # the entry was evicted or replaced before it was opened: read again
        raise
    finally:
        if owned:
            remove_file(source)


def _decoded(read: Callable[[Any, str], Any], source: Any, ext: str, allowed: bool, *, uri: str = "") -> Any:
    """``read(source, ext)``; with ``uri``, a failure is raised as the general path raises it
    (:func:`autostore.codec.decode_failure`)."""
    # Handlers that may load code (class references) consult the store's policy.
    token = UNSAFE_ALLOWED.set(allowed)
    try:
        return read(source, ext)
    except Exception as exc:
        if not uri:
            raise
        raise decode_failure(exc, uri, ext)  # noqa: B904 - it sets the cause
    finally:
        UNSAFE_ALLOWED.reset(token)
