"""The common local read in as few steps as possible.

``store["k00001.json"]`` on a local folder is a file read and a decode; the general path of
:meth:`AutoStore.read` (URIs, folders, caches, extensionless lookups, retries of stale
resolutions) costs more than the read itself for small files. :func:`read_local` serves the case
that needs none of it and answers :data:`MISS` for everything else, so the general path stays the
one source of truth (errors included: any failure here is redone there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .formats.base import UNSAFE_ALLOWED
from .uri import MAX_SEGMENT_BYTES, SIMPLE_KEY_RE

if TYPE_CHECKING:
    from .store import AutoStore

__all__ = ["MISS", "read_local"]

MISS: Any = object()
"""Returned when the fast path does not apply; the caller takes the general path."""


def read_local(store: AutoStore, key: Any) -> Any:
    """The value of ``key`` in the local store ``store``, or :data:`MISS`.

    Applies to plain keys (the characters :func:`autostore.uri.validate_key` accepts without
    normalising) naming a file by its extension, or an extensionless key this store already
    resolved, whose format is decoded from bytes by a handler that runs no code on load."""
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
    handlers = core.handlers
    backend = core.primary
    ext = handlers.known_extension(key[key.rfind("/") + 1 :])
    stored = key
    if ext is None:
        remembered = core.index.remembered(backend, key)  # a local store's keys have no prefix
        if remembered is None:
            return MISS
        stored = remembered
        ext = handlers.known_extension(stored[stored.rfind("/") + 1 :])
        if ext is None:
            return MISS
    handler = handlers.for_extension_or_none(ext)
    if handler is None or handler.unsafe or not handler.supports_bytes:
        return MISS
    try:
        data = backend.get_bytes(stored)
        # Handlers that may load code (class references) consult the store's policy.
        token = UNSAFE_ALLOWED.set(core.base_options.pickle_allowed)
        try:
            return handler.read_from_bytes(data, ext)
        finally:
            UNSAFE_ALLOWED.reset(token)
    except Exception:
        return MISS  # missing, vanished, a folder, undecodable: the general path says which
