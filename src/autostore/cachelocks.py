"""File locks of the download cache: one exclusive lock per entry, shared by threads and processes
(``flock``, polled so every wait is bounded; ``filelock`` where there is no ``fcntl``)."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]

__all__ = ["EntryLock"]

_POLL_MAX = 0.05  # longest pause between two attempts to take a busy lock


class EntryLock:
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
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

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
