"""Reading one object as byte ranges: concurrent ranged GETs written with ``os.pwrite`` into one
preallocated file, or joined in memory, and a seekable reader that fetches blocks on demand.

The backend supplies ``fetch(start, end)`` (one ranged GET, retried and counted by the backend,
pinned to the object's ETag so that a replaced object fails instead of mixing versions) and the
object's first part, fetched by the request that also told its size.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from time import perf_counter
from typing import Any

from ..errors import BackendError
from ..metrics import Recorder
from .base import ProgressCallback

__all__ = ["PART", "Fetch", "RangeReader", "download_into", "fetch_bytes"]

#: Bytes per ranged GET. Each part in flight is held in memory once, so memory stays at
#: ``workers x PART`` whatever the object's size.
PART = 8 * 1024 * 1024

Fetch = Callable[[int, int], Any]
"""``fetch(start, end)`` -> a buffer with bytes [start, end) of the object."""


def _spans(start: int, size: int) -> list[tuple[int, int]]:
    return [(s, min(s + PART, size)) for s in range(start, size, PART)]


def _checked(data: Any, start: int, end: int, uri: str) -> memoryview:
    view = memoryview(data).cast("B")
    if len(view) != end - start:
        raise BackendError(f"Read of {uri} bytes {start}-{end} was cut short ({len(view)} bytes); retry.")
    return view


def _pwrite_all(fd: int, data: Any, offset: int) -> None:
    view = memoryview(data).cast("B")
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _preallocate(fd: int, size: int) -> None:
    """Reserve the file's blocks up front (a full disk fails now, not after most of the
    download); filesystems without fallocate get a sparse file of the right size."""
    try:
        os.posix_fallocate(fd, 0, size)
    except (OSError, AttributeError):
        os.ftruncate(fd, size)


def _parallel(
    spans: list[tuple[int, int]],
    work: Callable[[int, int], int],
    workers: int,
    stats: Recorder,
    on_done: Callable[[int], None] | None = None,
) -> None:
    """Run ``work(start, end)`` for every span on ``workers`` threads; the caller's wait is
    counted once (its wall time), not per request."""
    if not spans:
        return
    began = perf_counter()
    try:
        if workers <= 1 or len(spans) == 1:
            for s, e in spans:
                n = work(s, e)
                if on_done is not None:
                    on_done(n)
            return
        with ThreadPoolExecutor(min(workers, len(spans)), thread_name_prefix="autostore-range") as pool:
            futures: list[Future[int]] = [pool.submit(work, s, e) for s, e in spans]
            try:
                for future in as_completed(futures):
                    n = future.result()
                    if on_done is not None:
                        on_done(n)
            except BaseException:
                for future in futures:
                    future.cancel()  # parts not started yet; running ones finish (bounded)
                raise
    finally:
        stats.waited(perf_counter() - began)


def download_into(
    dest: Path,
    size: int,
    head: Any,
    fetch: Fetch,
    workers: int,
    stats: Recorder,
    progress: ProgressCallback | None,
    uri: str = "",
) -> None:
    """Write the object (``size`` bytes, of which ``head`` are the first) into the file ``dest``
    (created or truncated), fetching the rest as concurrent ranged GETs."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        first = memoryview(head).cast("B")
        if size > len(first):
            _preallocate(fd, size)
        _pwrite_all(fd, first, 0)
        done = len(first)
        if progress is not None:
            progress(done, size)

        def work(start: int, end: int) -> int:
            data = _checked(fetch(start, end), start, end, uri or str(dest))
            _pwrite_all(fd, data, start)
            return end - start

        def advanced(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, size)

        _parallel(_spans(done, size), work, workers, stats, advanced)
    finally:
        os.close(fd)
    if done != size:
        raise BackendError(f"Download of {uri or dest} was cut short ({done} of {size} bytes); retry.")
    if progress is not None and size == 0:
        progress(0, 0)


def fetch_bytes(size: int, head: Any, fetch: Fetch, workers: int, stats: Recorder, uri: str = "") -> bytes:
    """The whole object (``size`` bytes, of which ``head`` are the first) in memory."""
    first = memoryview(head).cast("B")
    if len(first) >= size:
        return bytes(first[:size])
    spans = _spans(len(first), size)
    parts: dict[int, memoryview] = {}

    def work(start: int, end: int) -> int:
        parts[start] = _checked(fetch(start, end), start, end, uri)
        return end - start

    _parallel(spans, work, workers, stats)
    return b"".join([first, *(parts[s] for s, _ in spans)])


class RangeReader:
    """A seekable reader that fetches ``block``-sized ranges as they are read (one request per
    block; a read larger than a block is one request of its own)."""

    def __init__(self, fetch: Fetch, size: int, name: str, block: int = PART) -> None:
        self._fetch = fetch
        self._size = size
        self.name = name
        self._block = block
        self._pos = 0
        self._cached_start = 0
        self._cached: memoryview = memoryview(b"")
        self.closed = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all that is left for -1); fewer when the block ends first."""
        if self.closed:
            raise ValueError(f"read of closed file {self.name}")
        end = self._size if n is None or n < 0 else min(self._size, self._pos + n)
        if end <= self._pos:
            return b""
        offset = self._pos - self._cached_start
        if not 0 <= offset < len(self._cached):
            if end - self._pos >= self._block:  # a big read: one request of its own, not cached
                out = bytes(_checked(self._fetch(self._pos, end), self._pos, end, self.name))
                self._pos = end
                return out
            stop = min(self._size, self._pos + self._block)
            self._cached = _checked(self._fetch(self._pos, stop), self._pos, stop, self.name)
            self._cached_start, offset = self._pos, 0
        out = bytes(self._cached[offset : offset + end - self._pos])
        self._pos += len(out)
        return out

    def close(self) -> None:
        self.closed = True
        self._cached = memoryview(b"")
