"""Copy one object between any two backends with bounded memory.

Same backend: a server-side copy (or a local copy). Local source: the destination uploads the
file (multipart, streamed from disk). Local destination: the source streams a download into a
temporary file renamed into place. Object store to object store: a pipe of ``CHUNK``-sized reads
into a multipart writer, with nothing staged on disk.
"""

from __future__ import annotations

from pathlib import Path

from .backends.base import Backend, ProgressCallback
from .streams import Writer

__all__ = ["CHUNK", "copy_object"]

CHUNK = 8 * 1024 * 1024


def copy_object(
    src: Backend,
    src_key: str,
    dst: Backend,
    dst_key: str,
    *,
    size: int,
    tmp_dir: Path,
    progress: ProgressCallback | None = None,
) -> None:
    """Copy ``src_key`` of ``src`` to ``dst_key`` of ``dst`` (``size`` is the source's size)."""
    if src is dst:
        if src_key != dst_key:
            src.copy(src_key, dst_key)
        if progress is not None:
            progress(size, size)
        return
    local = src.local_path(src_key)
    if local is not None:
        dst.upload(dst_key, local, progress=progress)
        return
    if dst.local_path(dst_key) is not None:
        dst.write_with(dst_key, lambda tmp: _download(src, src_key, tmp, progress), tmp_dir)
        return
    _pipe(src, src_key, dst, dst_key, size, progress)


def _download(src: Backend, key: str, dest: Path, progress: ProgressCallback | None) -> None:
    src.download(key, dest, progress=progress)


def _pipe(src: Backend, src_key: str, dst: Backend, dst_key: str, size: int, progress: ProgressCallback | None) -> None:
    reader = src.open_read(src_key)
    try:
        with Writer(dst.open_write(dst_key), dst.uri(dst_key)) as writer:
            done = 0
            while True:
                chunk = reader.read(CHUNK)
                if not chunk:
                    break
                writer.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, size)
        if progress is not None and done == 0:
            progress(0, size)
    finally:
        reader.close()
