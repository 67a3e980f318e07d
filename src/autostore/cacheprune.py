"""Keeping the download cache in bounds: the size budget (least recently used entries go first),
expiry and broken entries (``cleanup``), ``clear``, leftovers of killed fills, orphan lock files,
and what the cache holds (``CacheInfo``)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cacheentries import META_SUFFIX, CacheEntries, remove_file
from .cachelocks import EntryLock

__all__ = ["CacheInfo", "CachePruning"]

log = logging.getLogger("autostore")

_CLEAR_WAIT = 120.0  # clear() waits this long for a fill in progress before skipping its entry
_LEFTOVER_AGE = 3600.0  # readers' hard links older than this are removed by cleanup()


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


@dataclass
class _Group:
    """Files of one entry found by a directory scan."""

    name: str
    meta: str | None = None
    access: float = 0.0
    files: list[str] = field(default_factory=list)
    size: int = 0


class CachePruning(CacheEntries):
    """Maintenance of the entries: cleanup, clear, eviction beyond ``max_bytes``, ``info``."""

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
                lock = EntryLock(Path(shard.path))
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
                if rest == META_SUFFIX[1:]:
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
            remove_file(meta)
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
                        remove_file(Path(entry.path))
                continue
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue
            # Readers' links and torn metadata temp files; a reader that still holds a link open
            # keeps reading its data after the unlink.
            if age > _LEFTOVER_AGE:
                remove_file(Path(entry.path))
