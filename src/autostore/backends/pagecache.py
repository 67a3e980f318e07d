"""Letting a new copy of a large file reuse the page cache of the copy it replaces.

An atomic write puts the new content in a new file and renames it over the old one; the old
file's cached pages are freed only after that, so the new content needs fresh pages. On a VM
that hands free memory back to its host (virtio-balloon free page reporting, e.g. Firecracker),
each fresh page is faulted in from the host on first touch: writing 256 MiB into a new file
measured 170-880 ms (up to 0.8 s of kernel time) against 170-250 ms once the old file's clean
pages were dropped first (docs/performance.md). Dropping them costs a few milliseconds and
frees memory the rename would free anyway a moment later.

Only clean pages are dropped, and only when the kernel can say that none is dirty (``cachestat``,
Linux 6.5+): asking it to drop dirty pages would start writing back a file about to be deleted.
A mapping of the old file keeps its pages; a reader of it reads from disk again.

One job: that drop, for :mod:`.atomic`.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import sys
from typing import Any

__all__ = ["recycle"]

_SYS_CACHESTAT = 451  # the same number on every Linux architecture (the generic syscall table)


class _Range(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _CacheStat(ctypes.Structure):
    _fields_ = [
        ("nr_cache", ctypes.c_uint64),
        ("nr_dirty", ctypes.c_uint64),
        ("nr_writeback", ctypes.c_uint64),
        ("nr_evicted", ctypes.c_uint64),
        ("nr_recently_evicted", ctypes.c_uint64),
    ]


_syscall: Any = None  # libc's syscall(), once found; False where cachestat cannot be used


def _cachestat(fd: int) -> _CacheStat | None:
    """The page-cache state of the whole file ``fd``, or None where the kernel cannot tell."""
    global _syscall
    if _syscall is None:  # on Linux only: recycle() returns earlier elsewhere
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            _syscall = libc.syscall
            _syscall.restype = ctypes.c_long
        except (OSError, AttributeError):
            _syscall = False
    if _syscall is False:
        return None
    found = _CacheStat()
    whole = _Range(0, 0)  # len 0: to the end of the file
    if _syscall(_SYS_CACHESTAT, ctypes.c_int(fd), ctypes.byref(whole), ctypes.byref(found), ctypes.c_uint(0)) != 0:
        if ctypes.get_errno() == errno.ENOSYS:  # a kernel older than 6.5: ask no more
            _syscall = False
        return None
    return found


def recycle(path: str, old: os.stat_result | None) -> None:
    """Drop the cached pages of ``path`` (the regular file ``old``, about to be replaced) when
    none of them is dirty; never raises. :mod:`.atomic` calls it for large files only (the
    system call costs more than a small file's pages)."""
    if old is None or not stat.S_ISREG(old.st_mode) or _syscall is False or not sys.platform.startswith("linux"):
        return  # cachestat and fadvise are Linux calls
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return
    try:
        state = _cachestat(fd)
        if state is not None and state.nr_cache and not (state.nr_dirty or state.nr_writeback):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass
    finally:
        os.close(fd)
