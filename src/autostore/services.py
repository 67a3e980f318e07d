"""What an AutoStore offers beyond the dict API, each a short entry point into its own room:
async variants (``aget``, ``aput``, ...), ``list_files`` (glob patterns, :mod:`autostore.globbing`),
the download cache's upkeep (``cleanup_cache``, ``clear_cache``, ``cache_info``), request counts
(``stats``), object versions and Delta history (:mod:`autostore.versions`, :mod:`autostore.delta`)
and ``memoize`` (:mod:`autostore.memoize`).
:class:`StoreServices` is a base of :class:`autostore.store.AutoStore`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from .globbing import glob_regex, literal_prefix
from .uri import folder_key, validate_key

if TYPE_CHECKING:
    from .cache import CacheInfo
    from .core import StoreCore
    from .delta import TableVersion
    from .metrics import StoreStats
    from .store import AutoStore
    from .versions import ObjectVersion

__all__ = ["StoreServices"]


class StoreServices:
    """Async, cache upkeep, stats, versions and memoize entry points of an AutoStore."""

    core: StoreCore  # set by AutoStore.__init__

    if TYPE_CHECKING:  # provided by AutoStore

        def read(self, key: str) -> Any: ...

        def write(self, key: str, value: Any) -> str: ...

        def get_many(self, keys: Iterable[str], *, max_concurrency: int | None = None) -> list[Any]: ...

        def put_many(
            self, items: Mapping[str, Any] | Iterable[tuple[str, Any]], *, max_concurrency: int | None = None
        ) -> list[str]: ...

    # -- async --------------------------------------------------------------------------------
    async def aget(self, key: str) -> Any:
        """``store[key]`` without blocking the event loop."""
        import asyncio

        return await asyncio.to_thread(self.read, key)

    async def aput(self, key: str, value: Any) -> str:
        """``store[key] = value`` without blocking the event loop."""
        import asyncio

        return await asyncio.to_thread(self.write, key, value)

    async def aget_many(self, keys: Iterable[str], *, max_concurrency: int | None = None) -> list[Any]:
        """Async ``get_many``."""
        import asyncio

        names = list(keys)
        return await asyncio.to_thread(self.get_many, names, max_concurrency=max_concurrency)

    async def aput_many(
        self, items: Mapping[str, Any] | Iterable[tuple[str, Any]], *, max_concurrency: int | None = None
    ) -> list[str]:
        """Async ``put_many``."""
        import asyncio

        pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
        return await asyncio.to_thread(self.put_many, pairs, max_concurrency=max_concurrency)

    # -- listing by pattern -------------------------------------------------------------------
    def list_files(self, pattern: str = "*", recursive: bool = True) -> Iterator[str]:
        """Stored file names (with extensions, relative to the store) matching a glob ``pattern``,
        in listing order.

        ``?`` and ``[ab]``/``[!ab]`` match one character inside a name; ``*`` matches inside one
        folder, or across folders when ``recursive`` is true (0.1.x behaviour); ``**`` always spans
        folders (``**/`` also matches no folder). Only the folder before the first wildcard is
        listed on the server, page by page.
        """
        core = self.core
        literal = literal_prefix(pattern)
        folder = literal.rpartition("/")[0]
        if folder:
            validate_key(folder, uri=core.uri)  # no "..", absolute paths or "//" in the listed folder
        search = core.prefix + (folder + "/" if folder else "")
        cut = len(core.prefix)
        regex = glob_regex(pattern, recursive)
        for meta in core.primary.list_objects(search):
            rel = meta.key[cut:]
            if rel and not rel.endswith("/") and regex.match(rel):
                yield rel

    # -- download cache and request counts -----------------------------------------------------
    def cleanup_cache(self, verify: bool = False) -> int:
        """Remove expired and broken cache entries, leftovers of interrupted downloads, and the
        least recently used entries beyond ``cache_max_size``; ``verify=True`` also re-hashes
        every entry. Returns how many entries were removed."""
        return sum(cache.cleanup(verify=verify) for cache in self.core.all_caches())

    def clear_cache(self) -> int:
        """Remove every entry of this store's cache directory (shared with any store using it)."""
        return sum(cache.clear() for cache in self.core.all_caches())

    def cache_info(self) -> CacheInfo:
        """Entries, bytes on disk, and this store's hits and misses (``directory`` is None when
        caching is off)."""
        from .cache import CacheInfo

        caches = self.core.all_caches()
        if not caches:
            return CacheInfo(directory=None, entries=0, bytes=0, hits=0, misses=0)
        infos = [c.info() for c in caches]
        return CacheInfo(
            directory=infos[0].directory,
            entries=sum(i.entries for i in infos),
            bytes=sum(i.bytes for i in infos),
            hits=sum(i.hits for i in infos),
            misses=sum(i.misses for i in infos),
            max_bytes=infos[0].max_bytes,
        )

    def stats(self, reset: bool = False) -> StoreStats:
        """Requests this store (and every AutoPath on it) sent, by kind, with bytes moved,
        retries, failed requests, cache hits/misses/revalidations and seconds spent waiting on
        the backend; ``reset=True`` starts counting again from zero. See ``autostore.stats()``
        for the whole process."""
        return self.core.stats.snapshot(reset=reset)

    # -- versions and Delta tables ----------------------------------------------------------------
    def versions(self, key: str) -> list[ObjectVersion]:
        """Every version of the object at ``key``, newest first (delete markers included), with
        ``version_id``, ``modified_time``, ``size``, ``etag``, ``is_latest``, ``is_delete_marker``.
        Extensionless keys resolve as reads do (also a key deleted since). S3-compatible stores;
        a bucket without versioning lists the current object only (``version_id`` None); other
        backends raise UnsupportedOperation. See :mod:`autostore.versions`."""
        from .versions import list_versions

        return list_versions(cast("AutoStore", self), key)

    def restore(self, key: str, version: str | int) -> str | int | None:
        """Make an old version current again: for an object, a server-side copy of ``version``
        onto ``key`` (the versions in between stay) - returns the new version id; for a Delta
        table folder, one RESTORE commit - returns the new table version."""
        from .versions import restore_version

        return restore_version(cast("AutoStore", self), key, version)

    def history(self, key: str) -> list[TableVersion]:
        """The versions (commits) of the Delta table in the folder ``key``, newest first: version,
        timestamp, operation, rows added/updated/removed where the log has them."""
        from .delta import table_history

        backend, full = self.core.target(key)
        return table_history(cast("AutoStore", self), backend, folder_key(full))

    # -- memoize ------------------------------------------------------------------------------
    def memoize(
        self,
        func: Callable[..., Any] | None = None,
        /,
        *,
        prefix: str = "",
        version: str | int | None = None,
        ignore: Iterable[str] = (),
        track: Iterable[str] = (),
        name: str | None = None,
        lock_timeout: float = 600.0,
    ) -> Any:
        """Decorator: keep ``func``'s results in this store, at
        ``<prefix><module>.<qualname>/<digest>.<ext>`` in their natural format, keyed by the code
        (or ``version=``, which then decides alone) and the arguments (minus ``ignore=``;
        AutoPath arguments and ``track=`` store keys by their ETag). Exceptions are never cached.
        ``@store.memoize`` or ``@store.memoize(prefix="features/", version="2", ignore=["verbose"])``;
        ``async def`` functions get an awaitable wrapper. See :mod:`autostore.memoize`."""
        from .memoize import memoize

        options = {"prefix": prefix, "version": version, "ignore": ignore, "track": track, "name": name}
        return memoize(cast("AutoStore", self), func, **options, lock_timeout=lock_timeout)
