"""The download cache: local copies of remote objects, safe to share between threads and processes.

An entry is named by the SHA-256 of (backend identity, full key), so no two keys, buckets or
services ever share one. Layout below the cache directory::

    CACHEDIR.TAG                       tells backup tools to skip the folder
    objects/<h[:2]>/<h>.meta.json      metadata: the commit point of an entry
    objects/<h[:2]>/<h>.<token><ext>   content; every version gets a new name
    locks/<h[:2]>/<h>.lock             the entry's lock (one per entry, removed with it)
    locks/<h[:2]>/<h>.gen              bumped by a writer that could not get the lock
    tmp/                               partial downloads and readers' hard links

A fill downloads into ``tmp/``, checks the size, hashes (and, for large files, fsyncs) the data,
renames it to a fresh content name and only then replaces the metadata atomically; readers
trust nothing but the metadata, so a crash or SIGKILL at any point leaves no servable partial
entry. Fills hold the entry's own file lock, so N processes asking for one cold key download it
once, and a fill never makes another key wait. Readers take no lock: they check size + mtime (and
the SHA-256 for entries up to 1 MiB) and hand out a hard link, so an entry evicted or replaced
meanwhile cannot break them; a caller that opens the file at once (``checkout(borrow=True)``)
gets the entry's own file, which is never changed in place, and reads again if it vanished
before it was opened.

A writer waits at most ``_DROP_TIMEOUT`` for the lock of its key's entry. If a fill holds it that
long, the writer bumps the entry's generation file and removes its metadata without the lock; the
fill compares the generation before its request and after its commit and drops what it committed
when they differ. Whatever the interleaving, no fill that asked the server before the write can
leave its entry behind.

The work is shared by four modules: ``cachelocks`` (the per-entry file lock), ``cacheentries``
(names, layout, metadata, checks), ``cacheprune`` (size budget, expiry, cleanup, clear, info) and
this one (``DownloadCache``'s read and write paths, ``open_cache``). This module knows nothing
about formats: it hands out bytes or a local path.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .backends.base import Backend
from .backends.fileio import read_to_end
from .cacheentries import (
    VERIFY_MAX,
    entry_name,
    holds_entry,
    key_suffix,
    link_or_copy,
    remove_file,
    warn_once,
)
from .cacheprune import CacheInfo, CachePruning
from .errors import AutoStoreError, BackendError, NotFound
from .options import Options

__all__ = ["VERIFY_MAX", "CacheInfo", "DownloadCache", "cacheable", "default_cache_dir", "entry_name", "open_cache"]

log = logging.getLogger("autostore")

_LOCK_TIMEOUT = 600.0  # a read waits this long for another fill of the same key, then downloads uncached
_DROP_TIMEOUT = 5.0  # a writer waits this long for its entry's lock, then invalidates it without the lock

_FRESH, _STALE = "fresh", "stale"


def default_cache_dir() -> Path:
    """The platform's per-user cache folder for autostore (e.g. ``~/.cache/autostore``)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("autostore"))


def cacheable(backend: Backend) -> bool:
    """Local files are read in place; in-memory stores live in one process (their identity
    contains a pid, which a later process may reuse), so neither is cached."""
    return backend.local_path("") is None and not backend.identity.startswith("memory|")


def _identity(backend: Backend) -> str:
    # Works in a child forked after obstore was used too: there the backend answers through its
    # fork-safe transport, whose identity names the same service, so parent and children share
    # entries.
    return backend.settled_identity()


def open_cache(options: Options) -> DownloadCache | None:
    """The cache described by ``options``, or None (with one warning per directory and
    process) when its directory cannot be created or written."""
    directory = Path(os.path.abspath(os.path.expanduser(options.cache_dir))) if options.cache_dir else None
    try:
        if directory is None:
            directory = default_cache_dir()
        cache = DownloadCache(
            directory,
            expiry_hours=options.cache_expiry_hours,
            validation=options.cache_validation,
            max_bytes=options.cache_max_bytes,
        )
        cache.prepare()
    except OSError as exc:
        warn_once(
            directory or "<default>",
            f"autostore: cache directory {directory} is not usable ({type(exc).__name__}: {exc}); reading "
            "without a cache. Set cache_dir= to a writable folder, or cache_enabled=False to silence this.",
        )
        return None
    return cache


class DownloadCache(CachePruning):
    """Entries below ``directory``; see the module docstring for the guarantees."""

    # -- public reads -------------------------------------------------------------------------
    def read_bytes(self, backend: Backend, key: str, *, fresh: bool = False) -> bytes:
        """The object's bytes, from the entry when it is valid (``fresh``: fetched anew)."""
        try:
            data, _path, _owned = self._get(backend, key, fresh, as_bytes=True)
        except AutoStoreError:
            raise
        except OSError as exc:
            self._unusable(exc)
            return backend.get_bytes(key)
        assert data is not None
        return data

    @contextlib.contextmanager
    def local_file(self, backend: Backend, key: str, *, fresh: bool = False) -> Iterator[Path]:
        """A path holding the object: a hard link to the entry's file (no copy), valid until
        the block ends even if the entry is evicted or replaced meanwhile."""
        path, owned = self.checkout(backend, key, fresh=fresh)
        try:
            yield path
        finally:
            if owned:
                remove_file(path)

    def checkout(self, backend: Backend, key: str, *, fresh: bool = False, borrow: bool = False) -> tuple[Path, bool]:
        """:meth:`local_file` without the block, for hot paths: the path, and whether it is the
        caller's to remove (``remove_file``) once read.

        ``borrow``: a hit hands out the entry's own file instead of a hard link to it, for a
        caller that opens it at once. An entry's file is never changed in place (a new version
        gets a new name), so the caller reads the checked content or, when the entry is evicted
        or replaced before it opens the file, gets ``FileNotFoundError`` and reads again."""
        try:
            _data, path, owned = self._get(backend, key, fresh, as_bytes=False, borrow=borrow)
        except AutoStoreError:
            raise
        except OSError as exc:
            self._unusable(exc)
            path, owned = self._download_uncached(backend, key), True
        assert path is not None
        return path, owned

    # -- public writes ------------------------------------------------------------------------
    def stored(
        self,
        backend: Backend,
        key: str,
        data: bytes | bytearray | memoryview | None,
        etag: str | None,
        *,
        path: Path | None = None,
        confirmed: bool = False,
    ) -> None:
        """The store wrote ``key``. With its bytes (or the local file ``path`` it uploaded) and
        ETag the entry takes them, marked unconfirmed: the next read confirms them with one
        conditional GET (no body when unchanged), so a concurrent writer elsewhere can never make
        the entry stale. ``confirmed`` skips that GET; only for objects no one else can have
        written (created if absent, or under a name unique to this writer). Without bytes or
        ETag the entry is dropped."""
        try:
            ident = _identity(backend)
            name = entry_name(ident, key)
            size = len(data) if data is not None else os.path.getsize(path) if path is not None else None
            keep = size is not None and etag is not None and (self.max_bytes is None or size <= self.max_bytes)
            with self._locked(name, _DROP_TIMEOUT) as got:
                if not got:
                    log.debug("cache entry of %s busy; invalidating it without the lock", backend.uri(key))
                    self._invalidate_unlocked(name)
                    return
                if not keep:
                    self._drop(name)
                    self._forget_lock(name)
                    return
                part = self._part(name)
                try:
                    if data is not None:
                        with open(part, "wb") as f:
                            f.write(data)
                    else:
                        assert path is not None
                        link_or_copy(path, part)
                    self._commit(name, ident, key, part, etag, time.time(), confirmed=confirmed)
                finally:
                    remove_file(part)
        except AutoStoreError:
            raise
        except OSError as exc:
            self._unusable(exc)
            return
        self._evict_if_needed()

    def forget(self, backend: Backend, key: str) -> None:
        """The store deleted (or moved away) ``key``: drop its entry."""
        self.stored(backend, key, None, None)

    # -- the read path ------------------------------------------------------------------------
    def _get(
        self, backend: Backend, key: str, fresh: bool, *, as_bytes: bool, borrow: bool = False
    ) -> tuple[bytes | None, Path | None, bool]:
        ident = _identity(backend)
        name = entry_name(ident, key)
        started = time.time()
        if not fresh:  # lock-free fast path
            served = self._serve(name, ident, key, started, fresh, as_bytes, borrow)
            if served is not None:
                self._count(backend, hit=True)
                return served
        with self._locked(name, _LOCK_TIMEOUT) as got:
            if not got:
                log.warning("cache entry of %s busy for %.0fs; reading it uncached", backend.uri(key), _LOCK_TIMEOUT)
                self._count(backend, hit=False)
                if as_bytes:
                    return backend.get_bytes(key), None, False
                return None, self._download_uncached(backend, key), True
            served = self._serve(name, ident, key, started, fresh, as_bytes)  # filled while we waited?
            if served is not None:
                self._count(backend, hit=True)
                return served
            result = self._fill(backend, name, ident, key, fresh, as_bytes)
        self._evict_if_needed()
        return result

    def _serve(
        self, name: str, ident: str, key: str, started: float, fresh: bool, as_bytes: bool, borrow: bool = False
    ) -> tuple[bytes | None, Path | None, bool] | None:
        meta = self._read_meta(name)
        if meta is None or meta.get("identity") != ident or meta.get("key") != key:
            return None
        if self._state(meta, started, fresh) != _FRESH:
            return None
        return self._open(name, meta, as_bytes, borrow)

    def _state(self, meta: dict[str, Any], started: float, fresh: bool) -> str:
        confirmed = bool(meta.get("confirmed"))
        fetched = float(meta.get("fetched_at", 0.0))
        if fresh or self.always:
            # Only a fetch sent after this read began counts (another process's, too).
            return _FRESH if confirmed and fetched >= started else _STALE
        if not confirmed:
            return _STALE
        if self.expiry_seconds == 0:
            return _FRESH
        age = time.time() - fetched
        return _FRESH if 0 <= age < self.expiry_seconds else _STALE

    def _open(
        self, name: str, meta: dict[str, Any], as_bytes: bool, borrow: bool = False
    ) -> tuple[bytes | None, Path | None, bool] | None:
        """Serve a committed entry, or None when its content is missing or does not match: its
        bytes, a hard link to its file, or with ``borrow`` its file (see :meth:`checkout`)."""
        size = int(meta["size"])
        path = self._content_file(name, meta)
        if as_bytes:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return None
            try:
                st = os.fstat(fd)
                if st.st_size != size or st.st_mtime_ns != meta["mtime_ns"]:
                    return None
                data = read_to_end(fd, size)
            finally:
                os.close(fd)
            if len(data) != size or (size <= VERIFY_MAX and hashlib.sha256(data).hexdigest() != meta["sha256"]):
                return None
            self._touch(name)
            return data, None, False
        if not borrow:
            link = f"{self._tmp_dir}/ln-{secrets.token_hex(8)}{key_suffix(str(meta['key']))}"
            try:
                os.link(path, link)
            except FileNotFoundError:
                return None  # evicted or replaced a moment ago
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK, errno.EOPNOTSUPP):
                    raise
                # no hard links here: hand out the entry itself, checked as its link would be
            else:
                # The link is checked, not the entry: it is what the caller reads, whatever
                # replaced the entry's file since the metadata was read.
                if not holds_entry(link, meta, check_hash=size <= VERIFY_MAX):
                    remove_file(link)
                    return None
                self._touch(name)
                return None, Path(link), True
        if not holds_entry(path, meta, check_hash=size <= VERIFY_MAX):
            return None
        self._touch(name)
        return None, Path(path), False

    def _fill(
        self, backend: Backend, name: str, ident: str, key: str, fresh: bool, as_bytes: bool
    ) -> tuple[bytes | None, Path | None, bool]:
        """Download (or revalidate) the entry; called with its lock held."""
        self._remove_parts(name)  # left by a fill that was killed
        old = self._read_meta(name)
        if old is not None and (old.get("identity") != ident or old.get("key") != key):
            old = None
        etag = None
        small = old is not None and int(old.get("size", 0)) <= VERIFY_MAX
        if old is not None and not fresh and old.get("etag") and self._content(name, old, check_hash=small):
            etag = str(old["etag"])
        part = self._part(name)
        # Created here so that a broken cache folder is an OSError of ours (the backend would
        # report it as a failed download).
        open(part, "xb").close()
        generation = self._generation(name)  # a writer that cannot wait for us bumps it
        asked_at = time.time()  # before the request: a write finished later may not be in it
        try:
            result = backend.download(key, part, if_none_match=etag)
        except NotFound:
            remove_file(part)
            self._drop(name)  # the object is gone, so is its entry
            self._forget_lock(name)
            raise
        except BaseException:
            remove_file(part)
            raise
        if result is None:  # 304 Not Modified: the entry is current
            assert old is not None
            remove_file(part)
            meta = dict(old, fetched_at=asked_at, confirmed=True)
            backend.stats.cache(revalidated=True)
            self._write_meta(name, meta)
            served = self._open(name, meta, as_bytes)
            self._check_generation(name, generation)
            if served is not None:
                self._count(backend, hit=True)
                return served
            return self._fill(backend, name, ident, key, True, as_bytes)  # changed under us: refetch
        self._count(backend, hit=False)
        try:
            size = os.path.getsize(part)
            if size != result.size:
                raise BackendError(
                    f"Download of {backend.uri(key)} was cut short ({size} of {result.size} bytes); retry."
                )
            if self.max_bytes is not None and size > self.max_bytes:
                log.debug("cache: %s (%d bytes) exceeds cache_max_size; not cached", backend.uri(key), size)
                if old is None:
                    self._forget_lock(name)  # no entry to guard
                if as_bytes:
                    return part.read_bytes(), None, False
                # Renamed away from the ".part" name so no fill or cleanup takes it for debris.
                link = self._tmp / f"ln-{secrets.token_hex(8)}{key_suffix(key)}"
                os.replace(part, link)
                return None, link, True
            meta = self._commit(name, ident, key, part, result.etag, asked_at, confirmed=True)
        finally:
            remove_file(part)
        served = self._open(name, meta, as_bytes)
        self._check_generation(name, generation)
        if served is None:
            raise OSError(f"cache entry {name} changed while it was being committed")
        return served

    def _count(self, backend: Backend, *, hit: bool) -> None:
        backend.stats.cache(hit=hit, miss=not hit)
        with self._counter_lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def _download_uncached(self, backend: Backend, key: str) -> Path:
        fd, tmp = tempfile.mkstemp(prefix="autostore-", suffix=key_suffix(key))
        os.close(fd)
        try:
            backend.download(key, Path(tmp))
        except BaseException:
            remove_file(Path(tmp))
            raise
        return Path(tmp)
