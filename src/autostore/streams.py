"""File objects for ``AutoPath.open``: a backend's streams dressed as ``io`` objects.

Reads go through ``io.BufferedReader`` (readline, iteration, ``readinto``) and writes through
:class:`Writer`, whose object appears only when it is closed; an exception inside ``with``
discards what was written, so readers never see half a file (local disk and object stores alike).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, Any

from .backends.base import PublishOnClose

__all__ = ["Writer", "binary_reader", "text_stream"]


class _RawReader(io.RawIOBase):
    """``io.RawIOBase`` over a reader that only has read/seek/tell (obstore's ReadableFile)."""

    def __init__(self, source: Any, name: str) -> None:
        self._source = source
        self.name = name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return bool(self._source.seekable())

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        n = len(data)
        memoryview(buffer).cast("B")[:n] = memoryview(data)
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return int(self._source.seek(offset, whence))

    def tell(self) -> int:
        return int(self._source.tell())

    def close(self) -> None:
        if not self.closed:
            try:
                self._source.close()
            finally:
                super().close()


def binary_reader(source: IO[bytes] | Any, name: str, buffering: int = -1) -> IO[bytes]:
    """A buffered binary reader over a backend's read stream (real files are returned as they are)."""
    if isinstance(source, io.IOBase):
        return source  # type: ignore[return-value]
    raw = _RawReader(source, name)
    if buffering == 0:
        return raw  # type: ignore[return-value]
    return io.BufferedReader(raw, buffer_size=buffering if buffering > 1 else io.DEFAULT_BUFFER_SIZE)


class Writer(PublishOnClose, io.BufferedIOBase):
    """A binary writer whose object appears atomically on ``close()``.

    Leaving a ``with`` block by an exception aborts the write (the old object, if any, stays).
    ``flush()`` keeps data buffered: object stores cannot publish part of an object.
    """

    def __init__(self, sink: Any, name: str, on_close: Callable[[], None] | None = None) -> None:
        self._sink = sink
        self.name = name
        self._on_close = on_close

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError(f"write to closed file {self.name}")
        view = memoryview(data)
        # A copy unless it is already bytes: callers (TextIOWrapper) reuse their buffers.
        self._sink.write(data if isinstance(data, bytes) else view.tobytes())
        return view.nbytes

    def flush(self) -> None:
        if self.closed:
            raise ValueError(f"flush of closed file {self.name}")

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._sink.close()
        finally:
            super().close()
        if self._on_close is not None:
            self._on_close()

    def abort(self) -> None:
        """Discard everything written; the target is left as it was."""
        if self.closed:
            return
        try:
            abort = getattr(self._sink, "abort", None)
            if abort is not None:
                abort()
            else:  # obstore's WritableFile aborts the upload when its ``with`` block fails
                self._sink.__exit__(StreamAborted, StreamAborted(), None)
        finally:
            super().close()


class StreamAborted(Exception):
    """Passed to a sink's ``__exit__`` to make it discard the upload."""


class _TextWriter(io.TextIOWrapper):
    """A text writer that, like :class:`Writer`, discards the write when its block fails."""

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.buffer.abort()  # type: ignore[attr-defined]
        self.close()  # a no-op once the buffer is closed

    def __del__(self) -> None:
        # TextIOWrapper would close() - i.e. publish - a writer that was simply dropped.
        if not self.buffer.closed:
            self.buffer.abort()  # type: ignore[attr-defined]


def text_stream(
    binary: IO[bytes] | Writer, *, writing: bool, encoding: str | None, errors: str | None, newline: str | None
) -> IO[str]:
    """Wrap a binary stream for text; UTF-8 unless ``encoding`` is given."""
    cls = _TextWriter if writing else io.TextIOWrapper
    return cls(binary, encoding=encoding or "utf-8", errors=errors, newline=newline)  # type: ignore[arg-type]
