"""The download cache's entries on disk: their names (SHA-256 of backend identity and key), the
layout below the cache directory, metadata files (the commit point of an entry), content files and
their size/mtime/SHA-256 checks, generation files, and the per-entry lock as a context manager.
``cacheprune`` adds maintenance on top, ``cache`` the read and write paths."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .backends.fileio import read_to_end
from .cachelocks import EntryLock

__all__ = [
    "META_SUFFIX",
    "VERIFY_MAX",
    "CacheEntries",
    "entry_name",
    "file_sha256",
    "holds_entry",
    "key_suffix",
    "link_or_copy",
    "remove_file",
    "warn_once",
]

log = logging.getLogger("autostore")

_FORMAT = 1
#: Entries up to this size have their SHA-256 checked on every hit (< 1 ms); larger ones are
#: checked by size + mtime on every hit and fsynced before they are committed.
VERIFY_MAX = 1 << 20
META_SUFFIX = ".meta.json"

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


@functools.lru_cache(maxsize=4096)  # computed on every hit; a repeated hit finds it here
def entry_name(identity: str, key: str) -> str:
    """Hex SHA-256 naming the entry of ``key`` on the backend ``identity``."""
    return hashlib.sha256(json.dumps([identity, key]).encode()).hexdigest()


def warn_once(directory: Path | str, message: str) -> None:
    with _WARNED_LOCK:
        if str(directory) in _WARNED:
            return
        _WARNED.add(str(directory))
    log.debug("%s", message)
    warnings.warn(message, RuntimeWarning, stacklevel=2)


class CacheEntries:
    """The files of the entries below ``directory`` (see ``autostore.cache`` for the guarantees)."""

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
        # str twins for the hit path, where pathlib's joins cost more than the system calls
        self._objects_dir = str(self._objects)
        self._tmp_dir = str(self._tmp)
        self._counter_lock = threading.Lock()
        self._held: dict[str, EntryLock] = {}  # entry locks this object holds, by entry name

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

    def _check_generation(self, name: str, before: str) -> None:
        """After a commit (lock held): a writer that gave up waiting for this fill bumped the
        generation, so what was committed may predate its write. Unpublish it; the content file
        stays until the next commit or cleanup (this reader may be serving it)."""
        if self._generation(name) != before:
            log.debug("cache: entry %s was written meanwhile; not keeping this fill", name)
            remove_file(self._meta_path(name))

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
        content = f"{name}.{secrets.token_hex(6)}{key_suffix(key)}"
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
            remove_file(tmp)

    def _drop(self, name: str) -> None:
        remove_file(self._meta_path(name))  # first: without metadata nothing is served
        self._remove_versions(name, keep=None)

    def _remove_versions(self, name: str, keep: str | None) -> None:
        shard = self._objects / name[:2]
        try:
            names = os.listdir(shard)
        except FileNotFoundError:
            return
        meta = name + META_SUFFIX
        for entry in names:
            if entry.startswith(name + ".") and entry != keep and entry != meta:
                remove_file(shard / entry)

    def _remove_parts(self, name: str) -> None:
        for path in self._tmp.glob(f"{name}.*.part"):
            remove_file(path)

    # -- helpers ------------------------------------------------------------------------------
    def _meta_path(self, name: str) -> Path:
        return Path(self._meta_file(name))

    def _meta_file(self, name: str) -> str:
        return f"{self._objects_dir}/{name[:2]}/{name}{META_SUFFIX}"

    def _content_file(self, name: str, meta: dict[str, Any]) -> str:
        return f"{self._objects_dir}/{name[:2]}/{meta['file']}"

    def _part(self, name: str) -> Path:
        return self._tmp / f"{name}.{secrets.token_hex(6)}.part"

    def _read_meta(self, name: str) -> dict[str, Any] | None:
        try:
            meta = json.loads(_read_small(self._meta_file(name)))
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
        path = Path(self._content_file(name, meta))
        return path if holds_entry(path, meta, check_hash=check_hash) else None

    def _touch(self, name: str) -> None:
        # The metadata file's mtime is the entry's last access (LRU), set explicitly so that
        # it works whatever the atime mount options are.
        with contextlib.suppress(OSError):
            os.utime(self._meta_file(name))

    @contextlib.contextmanager
    def _locked(self, name: str, timeout: float) -> Iterator[bool]:
        """Hold the lock of entry ``name`` (True), or yield False after ``timeout`` seconds."""
        lock = EntryLock(self._lock_path(name))
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
            remove_file(tmp)
        remove_file(self._meta_path(name))

    def _forget_lock(self, name: str) -> None:
        """The entry is gone for good: remove its lock file (held by us) and generation."""
        lock = self._held.get(name)
        if lock is not None:
            remove_file(self._gen_path(name))
            lock.remove()

    def _unusable(self, exc: OSError) -> None:
        warn_once(
            self.directory,
            f"autostore: cache directory {self.directory} failed ({type(exc).__name__}: {exc}); reading "
            "without the cache. Check its permissions and free space, or set cache_dir=.",
        )


def key_suffix(key: str) -> str:
    """The key's extension, kept on cache files for libraries that look at it."""
    name = key.rpartition("/")[2]
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 0 < len(ext) <= 16 and ext.isascii() and ext.isalnum():
        return "." + ext
    return ""


def link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` with the content of ``src``: a hard link when both are on one filesystem."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _read_small(path: str) -> bytes:
    # Read on every cache hit: four system calls, where open().read() makes nine (fstat,
    # isatty, seeks), each slowed on a hit that follows a large read with cold CPU caches.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return read_to_end(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def holds_entry(path: Path | str, meta: dict[str, Any], *, check_hash: bool) -> bool:
    """Does the file ``path`` (an entry's content, or a link to it) have the size and mtime the
    metadata ``meta`` records, and with ``check_hash`` its SHA-256? False when it is gone."""
    try:
        st = os.stat(path)
        if st.st_size != meta.get("size") or st.st_mtime_ns != meta.get("mtime_ns"):
            return False
        return not check_hash or file_sha256(path) == meta.get("sha256")
    except FileNotFoundError:
        return False  # gone, or evicted between the stat and the hash


def file_sha256(path: Path | str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def remove_file(path: Path | str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
