"""StoreCore: the internal interface of a store, for autostore's own modules (not user API).

An :class:`~autostore.store.AutoStore` keeps the dict API and delegates to ``store.core``, one
StoreCore. The modules below and beside the store (datasets, delta, memoize, versions, migrate,
transfer, hotpath, AutoPath, the CLI) talk to a store through ``store.core`` only, never through
``store._anything``. What they may use:

- **settled options and the backend pool**: ``base_options``, ``options_for(scheme)``,
  ``backend(scheme, bucket)`` (the one place that turns a scheme + bucket into a configured
  backend), ``primary`` and ``prefix`` (the store's own backend and key prefix), ``local``,
  ``uri``, ``stats``;
- **key resolution** (:class:`autostore.resolve.KeyResolver`): ``target(key)`` → (backend, full
  key), ``resolve(backend, full)`` → stored file, ``display_key``, ``replace_siblings``,
  ``forget``, and ``handlers`` / ``index`` (the format registry and the :class:`KeyIndex`);
- **encode/decode** (:class:`autostore.codec.Codec`): ``handler_for_read``, ``handler_for_write``,
  ``decode``, ``encode``, ``read_bytes``, ``local_file``;
- **the cache registry**: ``cache_for(backend)``, ``all_caches()``;
- **the temp dir**: ``temp_path(key)`` (a fresh file name), ``tmp()`` (the folder), ``tmp_dir``;
- **"this key was written/deleted" notices**: ``after_write``/``after_delete`` (the store wrote
  or removed a key: the cache follows) and ``path_wrote``/``path_deleted`` (a file was written or
  removed by its full name, as AutoPath and transfers do: the key index follows too).
"""

from __future__ import annotations

import os
import shutil
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends.base import Backend, ObjectMeta
from .codec import Codec
from .config import settle
from .formats import default_registry
from .formats.base import HandlerRegistry
from .keyindex import KeyIndex
from .metrics import new_recorder
from .options import Options, options_class_for_kind
from .resolve import KeyResolver
from .uri import Location, backend_kind

if TYPE_CHECKING:
    from .cache import DownloadCache

__all__ = ["StoreCore"]


class StoreCore(KeyResolver, Codec):
    """The state and plumbing of one store: options, backends, key index, caches, temp dir."""

    def __init__(self, location: Location, option_list: list[Options], kwargs: dict[str, Any]) -> None:
        self.location = location
        self.lock = threading.RLock()
        self.backends: dict[tuple[str, str], Backend] = {}
        self.tmp_dir: Path | None = None
        self._tmp_finalizer: weakref.finalize[Any, Any] | None = None  # removes it if close() never comes
        self.handlers: HandlerRegistry = default_registry().copy()
        self.index = KeyIndex(self.handlers.known_extension)
        self._caches: dict[str, DownloadCache | None] = {}
        self.stats = new_recorder()  # every backend of this store counts its requests here

        primary_scheme = location.scheme
        self._options: dict[str, Options] = {}
        unscoped: Options | None = None
        for o in option_list:
            if o.scheme is None or (type(o) is Options and o.scheme in ("file", primary_scheme)):
                unscoped = o
            else:
                self._options[o.scheme] = o
        base = self._options.get(primary_scheme) or unscoped
        cls = options_class_for_kind(location.kind)
        if base is None:
            base = cls(scheme=primary_scheme) if cls is not Options else Options()
        elif not isinstance(base, cls):
            base = cls(scheme=primary_scheme).inherit(base)
        if kwargs:
            base = base.replace(**kwargs)
        if unscoped is not None and base is not unscoped and type(unscoped) is Options:
            base = base.inherit(unscoped)
        self._explicit_base = base
        self._options[primary_scheme] = base  # explicit options per scheme; config/env fill the rest
        self._effective: dict[tuple[str, str], Options] = {}
        self.base_options = self.settled(primary_scheme, "" if location.is_local else location.bucket)

        self.local = location.is_local
        if location.is_local:
            from .backends.local import LocalBackend

            root = "/" + location.key.rstrip("/")
            self.primary: Backend = LocalBackend(root, durable=self.base_options.durable)
            self.primary.stats = self.stats
            self.prefix = ""
            self.backends[("file", root)] = self.primary
        else:
            self.primary = self.backend(location.scheme, location.bucket)
            key = location.key
            self.prefix = key if not key or key.endswith("/") else key + "/"

    @property
    def uri(self) -> str:
        """The store's root as a URI (a path for local stores)."""
        return self.primary.uri(self.prefix)

    # -- options and backends -----------------------------------------------------------------
    def options_for(self, scheme: str) -> Options:
        """The options used for ``scheme://`` URIs (explicit ones, else defaults + shared fields)."""
        scheme = scheme.lower()
        if scheme == self.location.scheme:
            return self.base_options
        return self.settled(scheme, "")

    def settled(self, scheme: str, bucket: str) -> Options:
        """Explicit options for ``scheme`` completed from the environment and the config file."""
        found = self._effective.get((scheme, bucket))
        if found is None:
            explicit = self._options.get(scheme)
            if explicit is None:
                cls = options_class_for_kind(backend_kind(scheme))
                explicit = (cls(scheme=scheme) if cls is not Options else Options(scheme=scheme)).inherit(
                    self._explicit_base
                )
            found = self._effective[(scheme, bucket)] = settle(explicit, scheme, bucket or None)
        return found

    def backend(self, scheme: str, bucket: str) -> Backend:
        """The configured backend for ``scheme://bucket`` ("file", "/" for local paths), built
        once per store and shared by every key, AutoPath and command on it."""
        ident = (scheme, bucket)
        backend = self.backends.get(ident)
        if backend is not None:
            return backend
        with self.lock:
            backend = self.backends.get(ident)
            if backend is None:
                kind = backend_kind(scheme)
                if kind == "local":
                    from .backends.local import LocalBackend

                    # Absolute paths inside a local store's root keep its rules (no symlink out).
                    fence = self.primary_root() if bucket == "/" else None
                    backend = LocalBackend(bucket, fence=fence, durable=self.base_options.durable)
                else:
                    from .backends.objectstore import ObjectStoreBackend

                    backend = ObjectStoreBackend(scheme, kind, bucket, self.settled(scheme, bucket))
                backend.stats = self.stats
                self.backends[ident] = backend
        return backend

    # -- "this key was written / deleted" -------------------------------------------------------
    def after_write(
        self, backend: Backend, stored: str, meta: ObjectMeta | None = None, data: bytes | None = None
    ) -> None:
        """Hook for the cache: a key this store wrote (with its bytes and ETag when known)."""
        cache = self.cache_for(backend)
        if cache is not None:
            cache.stored(backend, stored, data, meta.etag if meta is not None else None)

    def after_delete(self, backend: Backend, stored: str) -> None:
        """Hook for the cache: a key this store removed."""
        cache = self.cache_for(backend)
        if cache is not None:
            cache.forget(backend, stored)

    def path_wrote(self, backend: Backend, key: str, meta: ObjectMeta | None = None, data: bytes | None = None) -> None:
        """An AutoPath wrote the file ``key`` by its full name: the cache keeps or drops its entry,
        and an extensionless key naming it is looked up again (it may be ambiguous now)."""
        self.after_write(backend, key, meta, data)
        if self.index.empty:
            # Nothing to update (a read resolves by listing then); skipping the views and the
            # extension lookup saves ~1 % of a small PUT, where this runs on cold CPU caches.
            return
        for b, k in self.index_views(backend, key):
            ext = self.handlers.known_extension(k.rpartition("/")[2])
            if ext:
                self.index.added(b, k[: -len(ext)], k)

    def path_deleted(self, backend: Backend, key: str) -> None:
        """An AutoPath removed the file ``key``."""
        self.after_delete(backend, key)
        for b, k in self.index_views(backend, key):
            ext = self.handlers.known_extension(k.rpartition("/")[2])
            self.forget(b, k[: -len(ext)] if ext else k, k)

    # -- download cache -------------------------------------------------------------------------
    def cache_for(self, backend: Backend) -> DownloadCache | None:
        """The download cache used for ``backend`` (None: caching off, a local store, or no
        usable cache directory)."""
        if not self.options_for(backend.scheme).cache_enabled:
            return None
        from .cache import cacheable

        return self.cache_for_scheme(backend.scheme) if cacheable(backend) else None

    def cache_for_scheme(self, scheme: str) -> DownloadCache | None:
        """The download cache of ``scheme://`` objects (None when caching is off for it)."""
        if scheme not in self._caches:
            with self.lock:
                if scheme not in self._caches:
                    from .cache import open_cache

                    opts = self.options_for(scheme)
                    self._caches[scheme] = open_cache(opts) if opts.cache_enabled else None
        return self._caches[scheme]

    def all_caches(self) -> list[DownloadCache]:
        """This store's caches, one per distinct directory (primary scheme first)."""
        primary = self.location.scheme
        schemes = [primary, *(s for s in list(self._options) if s != primary)]
        found: dict[Path, DownloadCache] = {}
        for scheme in schemes:
            cache = self.cache_for_scheme(scheme)
            if cache is not None:
                found.setdefault(cache.directory, cache)
        return list(found.values())

    # -- temporary files ------------------------------------------------------------------------
    def temp_path(self, key: str) -> Path:
        """A fresh file name in this store's temporary folder (made on first use)."""
        import uuid

        if self.tmp_dir is None:
            with self.lock:
                if self.tmp_dir is None:
                    import tempfile

                    self.tmp_dir = Path(tempfile.mkdtemp(prefix="autostore-"))
                    # Removed when the store is garbage collected or the interpreter exits, even
                    # without close(); never by a forked child (the folder is its parent's).
                    self._tmp_finalizer = weakref.finalize(self, _remove_tmp_dir, str(self.tmp_dir), os.getpid())
        return self.tmp_dir / f"{uuid.uuid4().hex[:12]}-{key.rpartition('/')[2][-100:]}"

    def tmp(self) -> Path:
        """This store's temporary folder (made on first use)."""
        return self.temp_path("x").parent

    def close(self) -> None:
        """Release clients and remove temporary files. The store can be used again after."""
        with self.lock:
            for backend in self.backends.values():
                backend.close()
            if self._tmp_finalizer is not None:
                self._tmp_finalizer()  # removes the folder (once; a later GC does nothing)
                self._tmp_finalizer = None
            self.tmp_dir = None


def _remove_tmp_dir(path: str, pid: int) -> None:
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)
