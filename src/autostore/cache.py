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
meanwhile cannot break them.

A writer waits at most ``_DROP_TIMEOUT`` for the lock of its key's entry. If a fill holds it that
long, the writer bumps the entry's generation file and removes its metadata without the lock; the
fill compares the generation before its request and after its commit and drops what it committed
when they differ. Whatever the interleaving, no fill that asked the server before the write can
leave its entry behind.

This module knows nothing about formats: it hands out bytes or a local path.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backends.base import Backend
from .errors import AutoStoreError, BackendError, NotFound
from .options import Options

try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]

__all__ = ["CacheInfo", "DownloadCache", "cacheable", "default_cache_dir", "entry_name", "open_cache"]

log = logging.getLogger("autostore")

_FORMAT = 1
#: Entries up to this size have their SHA-256 checked on every hit (< 1 ms); larger ones are
#: checked by size + mtime on every hit and fsynced before they are committed.
VERIFY_MAX = 1 << 20
_LOCK_TIMEOUT = 600.0  # a read waits this long for another fill of the same key, then downloads uncached
_DROP_TIMEOUT = 5.0  # a writer waits this long for its entry's lock, then invalidates it without the lock
_CLEAR_WAIT = 120.0  # clear() waits this long for a fill in progress before skipping its entry
_POLL_MAX = 0.05  # longest pause between two attempts to take a busy lock
_LEFTOVER_AGE = 3600.0  # readers' hard links older than this are removed by cleanup()
_META_SUFFIX = ".meta.json"

_META_FIELDS: dict[str, Any] = {
    "identity": str,
    "key": str,
    "file": str,
    "size": int,
    "mtime_ns": int,
    "sha256": str,
    "etag": (str, type(None)),
    "fetched_at": (int, float),
    "confirmed": bool,
}

_WARNED: set[str] = set()
_WARNED_LOCK = threading.Lock()

_FRESH, _STALE = "fresh", "stale"


@dataclass(frozen=True)
class CacheInfo:
    """What a store's download cache holds (``store.cache_info()``)."""

    directory: Path | None
    entries: int
    bytes: int
    hits: int
    misses: int
    max_bytes: int | None = None

    @property
    def enabled(self) -> bool:
        return self.directory is not None


def default_cache_dir() -> Path:
    """The platform's per-user cache folder for autostore (e.g. ``~/.cache/autostore``)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("autostore"))


def entry_name(identity: str, key: str) -> str:
    """Hex SHA-256 naming the entry of ``key`` on the backend ``identity``."""
    return hashlib.sha256(json.dumps([identity, key]).encode()).hexdigest()


def cacheable(backend: Backend) -> bool:
    """Local files are read in place; in-memory stores live in one process (their identity
    contains a pid, which a later process may reuse), so neither is cached."""
    return backend.local_path("") is None and not backend.identity.startswith("memory|")


def _identity(backend: Backend) -> str:
    # Works in a child forked after obstore was used too: there the backend answers through its
    # fork-safe transport, whose identity names the same service, so parent and children share
    # entries.
    return backend.settled_identity()


def _warn_once(directory: Path | str, message: str) -> None:
    with _WARNED_LOCK:
        if str(directory) in _WARNED:
            return
        _WARNED.add(str(directory))
    log.debug("%s", message)
    warnings.warn(message, RuntimeWarning, stacklevel=2)


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
        _warn_once(
            directory or "<default>",
            f"autostore: cache directory {directory} is not usable ({type(exc).__name__}: {exc}); reading "
            "without a cache. Set cache_dir= to a writable folder, or cache_enabled=False to silence this.",
        )
        return None
    return cache


@dataclass
class _Group:
    """Files of one entry found by a directory scan."""

    name: str
    meta: str | None = None
    access: float = 0.0
    files: list[str] = field(default_factory=list)
    size: int = 0


class DownloadCache:
    """Entries below ``directory``; see the module docstring for the guarantees."""

    def __init__(self, directory: Path, *, expiry_hours: float, validation: str, max_bytes: int | None) -> None:
        self.directory = Path(directory)
        self.expiry_seconds = float(expiry_hours) * 3600.0
        self.always = validation == "always"
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._objects = self.directory / "objects"
        self._locks = self.directory / "locks"
        self._tmp = self.directory / "tmp"
        self._counter_lock = threading.Lock()
        self._held: dict[str, _EntryLock] = {}  # entry locks this object holds, by entry name

    def prepare(self) -> None:
        """Create the folders and prove they are writable (OSError otherwise)."""
        for d in (self._objects, self._locks, self._tmp):
            d.mkdir(parents=True, exist_ok=True)
        tag = self.directory / "CACHEDIR.TAG"
        if not tag.exists():
            tag.write_text("Signature: 8a477f597d28d172789f06886806bc55\n# autostore download cache; safe to delete.\n")
        fd, probe = tempfile.mkstemp(dir=self._tmp, prefix="probe-")
        os.close(fd)
        os.unlink(probe)

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
        try:
            _data, path, owned = self._get(backend, key, fresh, as_bytes=False)
        except AutoStoreError:
            raise
        except OSError as exc:
            self._unusable(exc)
            path, owned = self._download_uncached(backend, key), True
        assert path is not None
        try:
            yield path
        finally:
            if owned:
                _unlink(path)

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
                        _link_or_copy(path, part)
                    self._commit(name, ident, key, part, etag, time.time(), confirmed=confirmed)
                finally:
                    _unlink(part)
        except AutoStoreError:
            raise
        except OSError as exc:
            self._unusable(exc)
            return
        self._evict_if_needed()

    def forget(self, backend: Backend, key: str) -> None:
        """The store deleted (or moved away) ``key``: drop its entry."""
        self.stored(backend, key, None, None)

    # -- maintenance --------------------------------------------------------------------------
    def cleanup(self, *, verify: bool = False) -> int:
        """Remove expired and broken entries, leftovers of killed fills, and least recently
        used entries beyond the size budget. ``verify`` also checks every entry's SHA-256.
        Returns the number of entries removed."""
        now = time.time()

        def doomed(name: str, meta: dict[str, Any] | None) -> bool:
            if meta is None:
                return True  # content without (readable) metadata: debris of a killed fill
            if self._content(name, meta, check_hash=verify) is None:
                return True
            return bool(self.expiry_seconds) and now - float(meta["fetched_at"]) > self.expiry_seconds

        removed = 0
        for group in self._scan():
            # Judged without the lock first (cheap), then again under it before removing.
            if doomed(group.name, self._read_meta(group.name)) and self._remove_group(group, wait=0, doomed=doomed):
                log.debug("cache: removed entry %s", group.name)
                removed += 1
        self._remove_leftovers()
        self._remove_orphan_locks()
        return removed + self._evict_if_needed()

    def clear(self) -> int:
        """Remove every entry (waiting for fills in progress). Returns the count. Files that
        readers are using stay valid for them."""
        removed = sum(1 for group in self._scan() if self._remove_group(group, wait=_CLEAR_WAIT))
        self._remove_leftovers()
        self._remove_orphan_locks()
        return removed

    def _remove_orphan_locks(self) -> None:
        """Lock and generation files without an entry (a fill that failed; a writer that
        invalidated an entry), and the shared stripe locks of caches written before 0.2."""
        try:
            shards = list(os.scandir(self._locks))
        except FileNotFoundError:
            return
        for shard in shards:
            if shard.is_file(follow_symlinks=False):  # locks/<3 hex>.lock: the old layout
                lock = _EntryLock(Path(shard.path))
                if lock.acquire(0):
                    lock.remove()
                    lock.release()
                continue
            try:
                names = {e.name.partition(".")[0] for e in os.scandir(shard.path)}
            except (FileNotFoundError, NotADirectoryError):
                continue
            for name in names:
                if self._meta_path(name).exists():
                    continue
                with self._locked(name, 0) as got:
                    if got and not self._meta_path(name).exists():
                        self._forget_lock(name)

    def info(self) -> CacheInfo:
        groups = self._scan()
        return CacheInfo(
            directory=self.directory,
            entries=sum(1 for g in groups if g.meta is not None),
            bytes=sum(g.size for g in groups),
            hits=self.hits,
            misses=self.misses,
            max_bytes=self.max_bytes,
        )

    # -- the read path ------------------------------------------------------------------------
    def _get(
        self, backend: Backend, key: str, fresh: bool, *, as_bytes: bool
    ) -> tuple[bytes | None, Path | None, bool]:
        ident = _identity(backend)
        name = entry_name(ident, key)
        started = time.time()
        if not fresh:  # lock-free fast path
            served = self._serve(name, ident, key, started, fresh, as_bytes)
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
        self, name: str, ident: str, key: str, started: float, fresh: bool, as_bytes: bool
    ) -> tuple[bytes | None, Path | None, bool] | None:
        meta = self._read_meta(name)
        if meta is None or meta.get("identity") != ident or meta.get("key") != key:
            return None
        if self._state(meta, started, fresh) != _FRESH:
            return None
        return self._open(name, meta, as_bytes)

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

    def _open(self, name: str, meta: dict[str, Any], as_bytes: bool) -> tuple[bytes | None, Path | None, bool] | None:
        """Serve a committed entry, or None when its content is missing or does not match."""
        size = int(meta["size"])
        if as_bytes:
            try:
                with open(self._objects / name[:2] / str(meta["file"]), "rb") as f:
                    st = os.fstat(f.fileno())
                    if st.st_size != size or st.st_mtime_ns != meta["mtime_ns"]:
                        return None
                    data = f.read()
            except FileNotFoundError:
                return None
            if len(data) != size or (size <= VERIFY_MAX and hashlib.sha256(data).hexdigest() != meta["sha256"]):
                return None
            self._touch(name)
            return data, None, False
        path = self._content(name, meta, check_hash=False)
        if path is None:
            return None
        if size <= VERIFY_MAX and _file_sha256(path) != meta["sha256"]:
            return None
        link = self._tmp / f"ln-{secrets.token_hex(8)}{_suffix(str(meta['key']))}"
        try:
            os.link(path, link)
        except FileNotFoundError:
            return None  # evicted or replaced a moment ago
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK, errno.EOPNOTSUPP):
                raise
            self._touch(name)  # no hard links here: hand out the entry itself
            return None, path, False
        st = os.stat(link)
        if st.st_size != size or st.st_mtime_ns != meta["mtime_ns"]:
            _unlink(link)
            return None
        self._touch(name)
        return None, link, True

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
            _unlink(part)
            self._drop(name)  # the object is gone, so is its entry
            self._forget_lock(name)
            raise
        except BaseException:
            _unlink(part)
            raise
        if result is None:  # 304 Not Modified: the entry is current
            assert old is not None
            _unlink(part)
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
                link = self._tmp / f"ln-{secrets.token_hex(8)}{_suffix(key)}"
                os.replace(part, link)
                return None, link, True
            meta = self._commit(name, ident, key, part, result.etag, asked_at, confirmed=True)
        finally:
            _unlink(part)
        served = self._open(name, meta, as_bytes)
        self._check_generation(name, generation)
        if served is None:
            raise OSError(f"cache entry {name} changed while it was being committed")
        return served

    def _check_generation(self, name: str, before: str) -> None:
        """After a commit (lock held): a writer that gave up waiting for this fill bumped the
        generation, so what was committed may predate its write. Unpublish it; the content file
        stays until the next commit or cleanup (this reader may be serving it)."""
        if self._generation(name) != before:
            log.debug("cache: entry %s was written meanwhile; not keeping this fill", name)
            _unlink(self._meta_path(name))

    # -- committing and dropping ----------------------------------------------------------------
    def _commit(
        self, name: str, ident: str, key: str, part: Path, etag: str | None, fetched_at: float, *, confirmed: bool
    ) -> dict[str, Any]:
        """Move the complete file ``part`` into place and publish its metadata (lock held)."""
        with open(part, "r+b") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
            size = os.fstat(f.fileno()).st_size
            if size > VERIFY_MAX:
                os.fsync(f.fileno())  # data durable before the metadata that vouches for it
        content = f"{name}.{secrets.token_hex(6)}{_suffix(key)}"
        shard = self._objects / name[:2]
        shard.mkdir(exist_ok=True)
        os.replace(part, shard / content)
        st = os.stat(shard / content)
        meta = {
            "format": _FORMAT,
            "identity": ident,
            "key": key,
            "file": content,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "sha256": digest,
            "etag": etag,
            "fetched_at": fetched_at,
            "confirmed": confirmed,
        }
        self._write_meta(name, meta)
        self._remove_versions(name, keep=content)
        return meta

    def _write_meta(self, name: str, meta: dict[str, Any]) -> None:
        tmp = self._tmp / f"{name}.{secrets.token_hex(6)}.meta"
        try:
            tmp.write_text(json.dumps(meta))
            os.replace(tmp, self._meta_path(name))
        finally:
            _unlink(tmp)

    def _drop(self, name: str) -> None:
        _unlink(self._meta_path(name))  # first: without metadata nothing is served
        self._remove_versions(name, keep=None)

    def _remove_versions(self, name: str, keep: str | None) -> None:
        shard = self._objects / name[:2]
        try:
            names = os.listdir(shard)
        except FileNotFoundError:
            return
        meta = name + _META_SUFFIX
        for entry in names:
            if entry.startswith(name + ".") and entry != keep and entry != meta:
                _unlink(shard / entry)

    def _remove_parts(self, name: str) -> None:
        for path in self._tmp.glob(f"{name}.*.part"):
            _unlink(path)

    # -- helpers ------------------------------------------------------------------------------
    def _meta_path(self, name: str) -> Path:
        return self._objects / name[:2] / (name + _META_SUFFIX)

    def _part(self, name: str) -> Path:
        return self._tmp / f"{name}.{secrets.token_hex(6)}.part"

    def _read_meta(self, name: str) -> dict[str, Any] | None:
        try:
            with open(self._meta_path(name), "rb") as f:
                meta = json.loads(f.read())
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (ValueError, UnicodeDecodeError):
            return None  # torn or foreign file: treated as absent, replaced by the next fill
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            return None
        for field_name, kinds in _META_FIELDS.items():
            value = meta.get(field_name)
            if not isinstance(value, kinds) or isinstance(value, bool) != (kinds is bool):
                return None
        content = meta["file"]
        if "/" in content or os.sep in content or not content.startswith(name + "."):
            return None
        return meta

    def _content(self, name: str, meta: dict[str, Any], *, check_hash: bool) -> Path | None:
        path = self._objects / name[:2] / str(meta["file"])
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        if st.st_size != meta.get("size") or st.st_mtime_ns != meta.get("mtime_ns"):
            return None
        if check_hash and _file_sha256(path) != meta.get("sha256"):
            return None
        return path

    def _touch(self, name: str) -> None:
        # The metadata file's mtime is the entry's last access (LRU), set explicitly so that
        # it works whatever the atime mount options are.
        with contextlib.suppress(OSError):
            os.utime(self._meta_path(name))

    def _count(self, backend: Backend, *, hit: bool) -> None:
        backend.stats.cache(hit=hit, miss=not hit)
        with self._counter_lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    @contextlib.contextmanager
    def _locked(self, name: str, timeout: float) -> Iterator[bool]:
        """Hold the lock of entry ``name`` (True), or yield False after ``timeout`` seconds."""
        lock = _EntryLock(self._lock_path(name))
        if not lock.acquire(timeout):
            yield False
            return
        try:
            self._held[name] = lock
            yield True
        finally:
            self._held.pop(name, None)
            lock.release()

    def _lock_path(self, name: str) -> Path:
        return self._locks / name[:2] / f"{name}.lock"

    def _gen_path(self, name: str) -> Path:
        return self._locks / name[:2] / f"{name}.gen"

    def _generation(self, name: str) -> str:
        try:
            return self._gen_path(name).read_text()
        except (FileNotFoundError, NotADirectoryError):
            return ""

    def _invalidate_unlocked(self, name: str) -> None:
        """Make the entry unservable without its lock (see the module docstring): bump its
        generation first, then remove its metadata. Content files stay for the next locked
        commit or cleanup to remove (a reader may be about to link them)."""
        gen = self._gen_path(name)
        gen.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp / f"{name}.{secrets.token_hex(6)}.gen"
        try:
            tmp.write_text(secrets.token_hex(8))
            os.replace(tmp, gen)
        finally:
            _unlink(tmp)
        _unlink(self._meta_path(name))

    def _forget_lock(self, name: str) -> None:
        """The entry is gone for good: remove its lock file (held by us) and generation."""
        lock = self._held.get(name)
        if lock is not None:
            _unlink(self._gen_path(name))
            lock.remove()

    def _download_uncached(self, backend: Backend, key: str) -> Path:
        fd, tmp = tempfile.mkstemp(prefix="autostore-", suffix=_suffix(key))
        os.close(fd)
        try:
            backend.download(key, Path(tmp))
        except BaseException:
            _unlink(Path(tmp))
            raise
        return Path(tmp)

    def _unusable(self, exc: OSError) -> None:
        _warn_once(
            self.directory,
            f"autostore: cache directory {self.directory} failed ({type(exc).__name__}: {exc}); reading "
            "without the cache. Check its permissions and free space, or set cache_dir=.",
        )

    # -- scanning, eviction ---------------------------------------------------------------------
    def _scan(self) -> list[_Group]:
        groups: dict[str, _Group] = {}
        try:
            shards = [e.path for e in os.scandir(self._objects) if e.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            return []
        for shard in shards:
            try:
                entries = list(os.scandir(shard))
            except FileNotFoundError:
                continue
            for entry in entries:
                head, dot, rest = entry.name.partition(".")
                if not dot:
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                group = groups.setdefault(head, _Group(head))
                if rest == _META_SUFFIX[1:]:
                    group.meta = entry.path
                    group.access = st.st_mtime
                else:
                    group.files.append(entry.path)
                    group.size += st.st_size
        return list(groups.values())

    def _remove_group(
        self,
        group: _Group,
        *,
        wait: float,
        doomed: Callable[[str, dict[str, Any] | None], bool] | None = None,
    ) -> bool:
        with self._locked(group.name, wait) as got:
            if not got:
                return False  # a fill is in progress; leave it alone
            meta = self._meta_path(group.name)
            if doomed is not None:
                if not doomed(group.name, self._read_meta(group.name)):
                    return False  # refreshed since it was judged
            elif group.meta is None and meta.exists():
                return False  # committed since the scan
            _unlink(meta)
            self._remove_versions(group.name, keep=None)
            self._forget_lock(group.name)
            return True

    def _evict_if_needed(self) -> int:
        """Remove least recently used entries until the committed ones fit in max_bytes."""
        if self.max_bytes is None:
            return 0
        try:
            groups = self._scan()
            total = sum(g.size for g in groups)
            removed = 0
            # Orphans (no metadata) first, then by last access.
            for group in sorted(groups, key=lambda g: (g.meta is not None, g.access)):
                if total <= self.max_bytes:
                    break
                if self._remove_group(group, wait=0):
                    total -= group.size
                    removed += group.meta is not None
            return removed
        except OSError as exc:
            self._unusable(exc)
            return 0

    def _remove_leftovers(self) -> None:
        now = time.time()
        try:
            entries = list(os.scandir(self._tmp))
        except FileNotFoundError:
            return
        for entry in entries:
            name = entry.name
            if name.endswith(".part"):
                # A partial download: remove it unless its fill is still running (lock held).
                with self._locked(name.partition(".")[0], 0) as got:
                    if got:
                        _unlink(Path(entry.path))
                continue
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue
            # Readers' links and torn metadata temp files; a reader that still holds a link open
            # keeps reading its data after the unlink.
            if age > _LEFTOVER_AGE:
                _unlink(Path(entry.path))


class _EntryLock:
    """An exclusive lock on one cache entry, shared by threads and processes: ``flock`` on
    ``path`` (polled, so every wait is bounded). The file can be removed by its holder
    (``remove``): a waiter that then gets the lock of the removed file notices it (the path no
    longer names the file it locked) and locks the path anew. Without ``fcntl`` (Windows),
    ``filelock`` locks the file and it is never removed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._fallback: Any = None

    def acquire(self, timeout: float) -> bool:
        if _fcntl is None:  # pragma: no cover - Windows
            from filelock import FileLock, Timeout

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fallback = FileLock(str(self.path))
            try:
                self._fallback.acquire(timeout=timeout)
            except Timeout:
                return False
            return True
        deadline = time.monotonic() + timeout
        pause = 0.001
        fd = self._open()
        try:
            while True:
                try:
                    _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        return False
                    time.sleep(pause)
                    pause = min(pause * 2, _POLL_MAX)
                    continue
                if self._names(fd):
                    self._fd, fd = fd, -1
                    return True
                os.close(fd)  # locked a file its holder removed: lock the one the path names now
                fd = -1
                fd = self._open()
        finally:
            if fd >= 0:
                os.close(fd)

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)

    def _names(self, fd: int) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)

    def remove(self) -> None:
        """Remove the lock file (only while holding it)."""
        if self._fd is not None:
            _unlink(self.path)

    def release(self) -> None:
        if self._fallback is not None:  # pragma: no cover - Windows
            self._fallback.release()
            self._fallback = None
            return
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                # Explicitly: a forked child may share this descriptor, and closing would not do.
                _fcntl.flock(fd, _fcntl.LOCK_UN)
            finally:
                os.close(fd)


def _suffix(key: str) -> str:
    """The key's extension, kept on cache files for libraries that look at it."""
    name = key.rpartition("/")[2]
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 0 < len(ext) <= 16 and ext.isascii() and ext.isalnum():
        return "." + ext
    return ""


def _link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` with the content of ``src``: a hard link when both are on one filesystem."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _unlink(path: Path | str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
