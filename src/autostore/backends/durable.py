"""Durable local writes (``Options(durable=True)``): a file's data and the folder entry naming
it reach the disk before the write returns, so a power loss right after keeps the new file.

An atomic replace (temporary file + ``os.replace``) alone guarantees old-or-new content after a
crash of the process; after a power loss the rename may be lost, or (on some filesystems) the
new name may point to a file whose data never reached the disk. ``fsync`` of the file before
the rename and of the folder after it closes both gaps.
"""

from __future__ import annotations

import os

__all__ = ["fsync_dir", "fsync_path", "make_parents"]


def fsync_path(path: str) -> None:
    """Flush the file ``path`` (written and closed by someone else) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str) -> None:
    """Flush the folder ``path`` (its entries: names created, replaced or removed) to disk.
    Systems that cannot open folders (Windows) have nothing to flush."""
    try:
        fd = os.open(path or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    except (PermissionError, IsADirectoryError):  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_parents(folder: str, durable: bool) -> None:
    """``os.makedirs(folder, exist_ok=True)``; when ``durable``, the new folders' entries are
    flushed too (each one in its parent), so the path survives a power loss."""
    if not durable:
        os.makedirs(folder, exist_ok=True)
        return
    missing = []
    current = os.path.abspath(folder)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    os.makedirs(folder, exist_ok=True)
    for created in reversed(missing):
        fsync_dir(os.path.dirname(created))
