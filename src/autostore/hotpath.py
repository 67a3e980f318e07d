"""The common small read in as few steps as possible.

``store["k00001.json"]`` is one file read (or one GET) and a decode; the general path of
:meth:`AutoStore.read` (URIs, folders, caches, extensionless lookups, retries of stale
resolutions) costs more than that for small values. :func:`read_direct` serves the case that
needs none of it and answers :data:`MISS` for everything else, so the general path stays the one
source of truth.

On a local store any failure here is redone there (a file read costs little). On an object store
a failure is not worth a second request: the GET's own errors are raised as the general path
raises them, a decoding failure is mapped by :func:`autostore.codec.decode_failure`, and only a
file that vanished since the folder was listed goes to the general path (it lists again).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .codec import decode_failure
from .errors import NotFound
from .formats.base import UNSAFE_ALLOWED
from .uri import MAX_SEGMENT_BYTES, SIMPLE_KEY_RE

if TYPE_CHECKING:
    from .store import AutoStore

__all__ = ["MISS", "read_direct"]

MISS: Any = object()
"""Returned when the fast path does not apply; the caller takes the general path."""


def read_direct(store: AutoStore, key: Any) -> Any:
    """The value of ``key`` in ``store``, or :data:`MISS`.

    Applies to plain keys (the characters :func:`autostore.uri.validate_key` accepts without
    normalising) of the store's own location, naming a file by its extension, or an extensionless
    key this store resolved before or whose folder it has listed, in a format decoded from bytes
    by a handler that runs no code on load; on an object store only with the download cache off."""
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
    if not local and core.base_options.cache_enabled:
        return MISS  # reads go through the download cache
    handlers = core.handlers
    backend = core.primary
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
    if handler is None or handler.unsafe or not handler.supports_bytes:
        return MISS
    if local:
        try:
            return _decoded(handler, backend.get_bytes(stored), ext, core.base_options.pickle_allowed)
        except Exception:
            return MISS  # missing, vanished, a folder, undecodable: the general path says which
    try:
        data = backend.get_bytes(stored)
    except NotFound:
        if core.index.forget(backend, full):
            return MISS  # a remembered file vanished: the general path looks it up again
        raise
    try:
        return _decoded(handler, data, ext, core.base_options.pickle_allowed)
    except Exception as exc:
        raise decode_failure(exc, backend.uri(stored), ext)  # noqa: B904 - it sets the cause


def _decoded(handler: Any, data: bytes, ext: str, allowed: bool) -> Any:
    # Handlers that may load code (class references) consult the store's policy.
    token = UNSAFE_ALLOWED.set(allowed)
    try:
        return handler.read_from_bytes(data, ext)
    finally:
        UNSAFE_ALLOWED.reset(token)
