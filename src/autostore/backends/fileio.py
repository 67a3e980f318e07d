"""Plain file I/O for the local backend: read a whole open file, write all of a buffer, create a
file only if absent, copy a file reporting progress.

One job: byte-moving helpers with no knowledge of keys or folders.
"""

from __future__ import annotations

import os
import shutil

from ..errors import AlreadyExists, NotFound
from .atomic import unlink_quiet
from .base import ProgressCallback

__all__ = ["copy_stream", "create_exclusive", "read_all", "read_to_end", "write_all"]

_CHUNK = 4 * 1024 * 1024


def create_exclusive(target: str, data: bytes | bytearray | memoryview) -> None:
    """O_EXCL create and write (not atomic for readers: only where hard links are unavailable)."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        raise AlreadyExists(f"{target!r} already exists.") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except BaseException:
        unlink_quiet(target)
        raise


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """Write all of ``data`` to ``fd`` (``os.write`` may write less than asked)."""
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view) :]


def read_all(fd: int, path: str) -> bytes:
    """The whole content of the open file ``fd`` (NotFound for a directory)."""
    try:
        return read_to_end(fd, os.fstat(fd).st_size)
    except IsADirectoryError:
        raise NotFound(f"{path!r} is a directory, not a file.") from None


def read_to_end(fd: int, size: int) -> bytes:
    """The content of the open file ``fd`` (at its start), whose size an ``fstat`` gave as
    ``size``: one read when the file still has that size (a regular file reads short only at
    its end), else reads on to the end."""
    data = os.read(fd, size + 1)
    if len(data) == size:
        return data
    chunks, got = [data], len(data)  # it changed size meanwhile, or a read stopped at ~2 GiB
    while chunk := os.read(fd, max(size - got + 1, 1 << 16)):
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def copy_stream(src: str, dst: str, total: int, progress: ProgressCallback | None) -> None:
    """Copy file ``src`` to ``dst``, reporting ``(done, total)`` to ``progress`` as it goes."""
    if progress is None:
        shutil.copyfile(src, dst)
        return
    done = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(_CHUNK):
            fout.write(chunk)
            done += len(chunk)
            progress(done, total)
    if total == 0:
        progress(0, 0)
