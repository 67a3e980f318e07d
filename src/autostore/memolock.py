"""The per-machine lock of a memoized result: concurrent callers on one machine (threads, tasks,
processes) wait for one computation, in a folder beside the download cache."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends.base import Backend

if TYPE_CHECKING:
    from .store import AutoStore

__all__ = ["MachineLock", "lock_dir"]

log = logging.getLogger("autostore")

_POLL = 0.05


class MachineLock:
    """One result's file lock: concurrent callers on this machine (threads, tasks, processes)
    compute once. A fresh descriptor per call, so two threads or tasks of one process exclude
    each other too. Waiting is bounded: after ``timeout`` the caller computes anyway (the commit
    stays create-if-absent, so that costs a computation, never a wrong result)."""

    def __init__(self, path: Path | None, timeout: float, what: str) -> None:
        self.path = path
        self.timeout = timeout
        self.what = what
        self._lock: Any = None

    def _new(self) -> Any:
        from filelock import FileLock

        assert self.path is not None
        return FileLock(str(self.path), thread_local=False)

    def acquire(self) -> None:
        if self.path is None:
            return
        from filelock import Timeout

        lock = self._new()
        try:
            lock.acquire(timeout=self.timeout)
        except Timeout:
            self._gave_up()
            return
        self._lock = lock

    async def acquire_async(self) -> None:
        """The same without blocking the event loop (polls; cancelling the task is safe)."""
        if self.path is None:
            return
        from filelock import Timeout

        lock = self._new()
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                lock.acquire(blocking=False)
            except Timeout:
                if time.monotonic() >= deadline:
                    self._gave_up()
                    return
                await asyncio.sleep(_POLL)
            else:
                self._lock = lock
                return

    def _gave_up(self) -> None:
        log.warning("memoize: %s still locked after %.0fs; computing it here too", self.what, self.timeout)

    def committed(self) -> None:
        """The result is stored: drop the lock file while holding it (whoever locks the path
        later, on a new file, finds the result; waiters on the old file do too)."""
        if self._lock is not None and self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


_LOCK_DIRS: dict[str, Path | None] = {}


def lock_dir(store: AutoStore, backend: Backend) -> Path | None:
    """``<cache dir>/memo-locks`` (cache_dir option, else the platform cache folder); None, with
    one warning, when it cannot be created."""
    configured = store.options_for(backend.scheme).cache_dir
    if configured:
        base = Path(os.path.abspath(os.path.expanduser(configured)))
    else:
        from .cache import default_cache_dir

        base = default_cache_dir()
    found = _LOCK_DIRS.get(str(base), ...)
    if found is not ...:
        return found
    path: Path | None = base / "memo-locks"
    try:
        path.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
    except OSError as exc:
        warnings.warn(
            f"autostore: memoize lock folder {path} is not usable ({type(exc).__name__}: {exc}); concurrent "
            "calls on this machine may compute the same result twice. Set cache_dir= to a writable folder.",
            RuntimeWarning,
            stacklevel=3,
        )
        path = None
    _LOCK_DIRS[str(base)] = path
    return path
