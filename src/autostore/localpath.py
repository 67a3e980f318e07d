"""pathlib's semantics for AutoPaths on local disk: what a folder lists (symlinks, dangling links,
FIFOs), which error a failed call raises, modes of new files and folders, and ``rename``.

Each function takes the :class:`LocalBackend` and key of the path, so the backend's rules (no
escaping symlinks, no temp files in listings) apply; errors are autostore's subclasses of the
``OSError`` pathlib raises, naming the path and a way out.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import PurePosixPath

from .backends.base import ObjectMeta
from .backends.local import TEMP_MARKER, LocalBackend, ensure_parent, file_meta
from .errors import AlreadyExists, DirectoryNotEmpty, InvalidTarget, IsADirectory, NotADirectory, NotFound
from .globbing import Entry, Rel

__all__ = ["LocalTree", "classify", "mkdir", "rename", "stat_path", "touch", "unlink"]


def _raise(exc: OSError, path: str, action: str) -> None:
    """Raise the autostore error for the OSError ``exc`` that ``action`` on ``path`` met."""
    code = exc.errno
    if code == errno.ENOENT:
        raise NotFound(f"Cannot {action} {path}: no such file or folder; check the path.") from None
    if code == errno.ENOTDIR:
        raise NotADirectory(f"Cannot {action} {path}: a part of it is a file, not a folder; check the path.") from None
    if code == errno.EISDIR:
        raise IsADirectory(f"Cannot {action} {path}: it is a folder; use rmdir()/delete() for folders.") from None
    if code == errno.EEXIST:
        raise AlreadyExists(f"Cannot {action} {path}: it exists; remove it or choose another path.") from None
    if code == errno.ENOTEMPTY:
        raise DirectoryNotEmpty(f"Cannot {action} {path}: the folder is not empty; empty it first.") from None
    raise exc


def classify(path: str) -> str:
    """``"missing"``, ``"below-file"`` (a parent is a file), ``"dir"``, ``"file"`` or ``"other"``
    (FIFO, socket, device) for ``path``, following symlinks."""
    try:
        mode = os.stat(path).st_mode
    except NotADirectoryError:
        return "below-file"
    except OSError:
        return "missing"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


def stat_path(backend: LocalBackend, key: str, *, follow_symlinks: bool = True) -> ObjectMeta:
    """``stat()`` of a local path: a file's size, mtime and etag; size 0 for folders."""
    path = backend.path(key)
    try:
        st = os.stat(path) if follow_symlinks else os.lstat(path)
    except OSError as exc:
        _raise(exc, path, "stat")
        raise  # pragma: no cover - _raise always raises
    if stat.S_ISDIR(st.st_mode):
        return ObjectMeta(key=key, size=0, etag=None, modified_time=file_meta(key, st).modified_time)
    return file_meta(key, st)


def mkdir(backend: LocalBackend, key: str, mode: int, parents: bool, exist_ok: bool) -> None:
    """``Path.mkdir``: the folder gets ``mode`` (less the umask); missing parents, with
    ``parents``, get the default mode, as in pathlib."""
    path = backend.path(key)
    try:
        try:
            os.mkdir(path, mode)
        except FileNotFoundError:
            if not parents:
                raise NotFound(
                    f"Cannot create folder {path}: its parent {os.path.dirname(path)} does not exist; "
                    "pass parents=True."
                ) from None
            try:
                ensure_parent(path)
            except NotFound as exc:  # a dangling symlink on the way: to pathlib that name exists
                raise AlreadyExists(str(exc)) from None
            os.mkdir(path, mode)
    except OSError as exc:
        if isinstance(exc, NotFound | NotADirectory | AlreadyExists):
            raise
        if exist_ok and os.path.isdir(path):
            return
        if exc.errno == errno.EEXIST:
            if os.path.isdir(path):
                raise AlreadyExists(f"Folder {path} already exists; pass exist_ok=True to accept that.") from None
            raise AlreadyExists(
                f"Cannot create folder {path}: a file with that name exists; remove it first."
            ) from None
        _raise(exc, path, "create folder")


def touch(backend: LocalBackend, key: str, mode: int, exist_ok: bool) -> bool:
    """``Path.touch``: a new mtime for an existing path, else a new empty file with ``mode`` (less
    the umask), created through a dangling symlink as ``open`` does. Missing parent folders are
    created (as every AutoPath write does). True when a file was created."""
    path = backend.path(key)
    if exist_ok:
        try:
            os.utime(path)
        except OSError:
            pass
        else:
            return False
    flags = os.O_CREAT | os.O_WRONLY | (0 if exist_ok else os.O_EXCL)
    try:
        fd = os.open(path, flags, mode)
    except FileNotFoundError:
        if not os.path.lexists(path):
            ensure_parent(path)
        try:
            fd = os.open(path, flags, mode)
        except OSError as exc:
            _raise(exc, path, "touch")
            raise  # pragma: no cover
    except FileExistsError:
        raise AlreadyExists(f"Cannot touch {path}: it exists (touch(exist_ok=False)).") from None
    except OSError as exc:
        _raise(exc, path, "touch")
        raise  # pragma: no cover
    os.close(fd)
    return True


def unlink(backend: LocalBackend, key: str, missing_ok: bool) -> bool:
    """``Path.unlink``: removes a file or link (never a folder). False when it was missing and
    ``missing_ok``; a path below a file is an error even then, as in pathlib."""
    path = backend.path(key)
    try:
        os.unlink(path)
    except FileNotFoundError:
        if missing_ok:
            return False
        raise NotFound(f"No file {path} to remove; pass missing_ok=True to ignore that.") from None
    except IsADirectoryError:
        raise IsADirectory(f"{path} is a folder; use rmdir() or delete() to remove folders.") from None
    except OSError as exc:
        _raise(exc, path, "remove")
    return True


def rename(src_backend: LocalBackend, src_key: str, dst_backend: LocalBackend, dst_key: str) -> None:
    """``Path.rename``/``replace`` (``os.rename``): an existing file target is replaced, a folder
    can replace an empty folder; a folder onto a non-empty folder is DirectoryNotEmpty, into
    itself InvalidTarget. Missing parent folders of the target are created. OSError EXDEV
    (another filesystem) is raised as it is, for the caller to copy instead."""
    source, target = src_backend.path(src_key), dst_backend.path(dst_key)
    try:
        try:
            os.rename(source, target)
        except FileNotFoundError:
            if not os.path.lexists(source):
                raise
            # the only other reason: the target's folder is missing; never create it inside
            # the folder being moved (the rename would fail after making it): EINVAL, as it would
            if os.path.isdir(source) and not os.path.islink(source) and PurePosixPath(target).is_relative_to(source):
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL)) from None
            ensure_parent(target)
            os.rename(source, target)
    except OSError as exc:
        if isinstance(exc, NotFound | NotADirectory):
            raise
        if exc.errno == errno.ENOENT:
            raise NotFound(f"No file or folder {source} to rename; check the path.") from None
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise DirectoryNotEmpty(
                f"Cannot rename {source} to {target}: the target folder is not empty; "
                "remove it first, or use move_to() to merge into it."
            ) from None
        if exc.errno == errno.EINVAL:
            raise InvalidTarget(
                f"Cannot move folder {source} into itself ({target}); choose a target outside it."
            ) from None
        if exc.errno == errno.ENOTDIR:
            raise NotADirectory(
                f"Cannot rename {source} to {target}: a folder cannot replace a file (or a part of a "
                "path is a file); remove the file first."
            ) from None
        if exc.errno == errno.EISDIR:
            raise IsADirectory(
                f"Cannot rename {source} to {target}: the target is a folder; name a path inside it."
            ) from None
        raise


class LocalTree:
    """The folder ``key`` of a local backend as a :class:`~autostore.globbing.Tree`: every entry
    pathlib lists (symlinks, dangling links, FIFOs), except temporary files and symlinks that
    lead outside the backend's root."""

    def __init__(self, backend: LocalBackend, key: str) -> None:
        self._backend = backend
        self._base = backend.path(key)
        self._guard = backend.root != "/"  # under "/" nothing can lead outside the root

    def _path(self, rel: Rel) -> str:
        return os.path.join(self._base, *rel) if rel else self._base

    def _mode(self, rel: Rel) -> int | None:
        path = self._path(rel)
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError):
            return None
        if self._guard and rel and self._backend._escapes(path):
            return None
        return mode

    def is_dir(self, rel: Rel) -> bool:
        mode = self._mode(rel)
        return mode is not None and stat.S_ISDIR(mode)

    def exists(self, rel: Rel) -> bool:
        return self._mode(rel) is not None

    def scan(self, rel: Rel, strict: bool = False) -> list[Entry]:
        path = self._path(rel)
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if not strict:
                return []
            _raise(exc, path, "list")
            raise  # pragma: no cover
        out: list[Entry] = []
        for entry in entries:
            if entry.name.startswith(TEMP_MARKER):
                continue
            try:
                link = entry.is_symlink()
                if link and self._guard and self._backend._escapes(entry.path):
                    continue
                is_dir = entry.is_dir()
            except OSError:
                link, is_dir = False, False
            out.append((entry.name, is_dir, is_dir and not link))
        return out
