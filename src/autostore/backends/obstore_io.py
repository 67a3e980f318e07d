"""File objects between obstore and autostore: object metadata from obstore's dicts, a local file
reader that reports upload progress, and obstore's writer wrapped to count its requests.

One job: adapt obstore's I/O objects (no requests are made here).
"""

from __future__ import annotations

import io
from pathlib import Path
from time import perf_counter
from typing import IO, Any

from ..metrics import DELETE, MP_PART, MP_START, PUT
from .base import Backend, ObjectMeta, ProgressCallback

__all__ = ["CountingWriter", "object_meta", "progress_reader"]


def object_meta(m: Any) -> ObjectMeta:
    return ObjectMeta(key=m["path"], size=int(m["size"]), etag=m.get("e_tag"), modified_time=m.get("last_modified"))


class _ProgressFile(io.RawIOBase):
    """A local file read by obstore, reporting ``(done, total)`` as it goes."""

    def __init__(self, path: Path, total: int, progress: ProgressCallback) -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed with this reader
        self._total, self._progress, self._done = total, progress, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._file.readinto(buffer) or 0
        self._done += n
        if n:
            self._progress(min(self._done, self._total), self._total)
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def progress_reader(path: Path, total: int, progress: ProgressCallback) -> IO[bytes]:
    return io.BufferedReader(_ProgressFile(path, total, progress), buffer_size=1 << 20)


class CountingWriter:
    """obstore's WritableFile, counting the requests it sends: one PUT when less than
    ``buffer_size`` bytes were written, else a multipart upload of ``buffer_size`` parts."""

    def __init__(self, inner: Any, backend: Backend, buffer_size: int) -> None:
        self._inner = inner
        self._backend = backend
        self._buffer = buffer_size
        self._size = 0
        self._seconds = 0.0

    def write(self, data: Any) -> int:
        start = perf_counter()
        try:
            n = self._inner.write(data)
        finally:
            self._seconds += perf_counter() - start
        self._size += len(data)
        return int(n) if n is not None else len(data)

    def close(self) -> None:
        stats = self._backend.stats
        start = perf_counter()
        try:
            self._inner.close()
        except BaseException:
            stats.failure(MP_PART if self._size >= self._buffer else PUT, perf_counter() - start, retried=False)
            raise
        seconds = self._seconds + perf_counter() - start
        if self._size < self._buffer:
            stats.request(PUT, seconds, up=self._size)
        else:
            stats.multipart(-(-self._size // self._buffer), self._size, seconds)

    def __enter__(self) -> CountingWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def abort(self) -> None:
        """Discard the upload (obstore aborts it when its ``with`` block fails)."""
        from ..streams import StreamAborted

        parts = self._size // self._buffer
        self._inner.__exit__(StreamAborted, StreamAborted(), None)
        if parts:  # the parts already sent, then the request that aborts the upload
            stats = self._backend.stats
            stats.requests(MP_START, 1)
            stats.requests(MP_PART, parts, up=parts * self._buffer)
            stats.requests(DELETE, 1)
