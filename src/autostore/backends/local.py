"""Local filesystem backend: plain ``os`` calls below a root folder; writes are atomic through
:mod:`.atomic` (temp file + ``os.replace``)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ..errors import AlreadyExists, DirectoryNotEmpty, InvalidKey, NotADirectory, NotFound
from ..uri import TEMP_MARKER
from .atomic import (
    AtomicWriter,
    ensure_parent,
    is_special,
    keep_mode,
    open_temp,
    publish,
    remove_stale_temp_files,
    replacing,
    temp_sibling,
    unlink_quiet,
    write_target,
)
from .base import Backend, ObjectMeta, ProgressCallback
from .durable import fsync_dir, make_parents
from .fileio import copy_stream, create_exclusive, read_all, write_all

__all__ = [
    "TEMP_MARKER",
    "AtomicWriter",
    "LocalBackend",
    "ensure_parent",
    "file_meta",
    "remove_stale_temp_files",
    "temp_sibling",
]


def _meta(key: str, st: os.stat_result) -> ObjectMeta:
    # A cheap, change-detecting etag: size + mtime in ns (what HTTP servers use for files).
    return ObjectMeta(
        key=key,
        size=st.st_size,
        etag=f'"{st.st_mtime_ns:x}-{st.st_size:x}"',
        modified_time=datetime.fromtimestamp(st.st_mtime, tz=UTC),
    )


file_meta = _meta  # the metadata of a local file, for modules that stat files themselves


class LocalBackend(Backend):
    """Files below the directory ``root``. Keys never leave it: ``..`` segments and symlinks
    resolving outside ``root`` are refused.

    ``fence`` (for the ``/`` backend of a local store) is a folder below ``root`` held to the
    same rule: a path inside it may not follow a symlink out of it."""

    scheme = "file"

    def __init__(
        self, root: str | os.PathLike[str], *, fence: str | os.PathLike[str] | None = None, durable: bool = False
    ) -> None:
        self.root = os.path.abspath(os.fspath(root))
        #: fsync written files and their folders before a write returns (Options.durable)
        self.durable = durable
        self.bucket = self.root
        self.identity = f"file://{self.root}"
        self._real_root = os.path.realpath(self.root)
        self._real_prefix = self._real_root.rstrip("/") + "/"
        self._fence: tuple[str, str] | None = None
        if fence is not None:
            lexical = os.path.abspath(os.fspath(fence)).rstrip("/")
            if lexical and lexical != self.root.rstrip("/"):
                self._fence = (lexical + "/", os.path.realpath(lexical))

    # -- paths ----------------------------------------------------------------------------
    def path(self, key: str) -> str:
        """Absolute path of ``key``, refusing ``..`` segments and symlinks that escape the root.

        Only the components below the root are examined (one ``lstat`` each); the full
        ``realpath`` check runs when one of them is a symlink."""
        return self._walk(key)[0]

    def write_target(self, key: str) -> tuple[str, os.stat_result | None]:
        """Where a write of ``key`` lands and the file it replaces, as
        :func:`~.atomic.write_target` says, reusing the path check's ``lstat`` of the file."""
        path, st, seen = self._walk(key)
        return (path, st) if seen else write_target(path)

    def _walk(self, key: str) -> tuple[str, os.stat_result | None, bool]:
        """``(path, lstat of the file or None, whether that lstat is known)`` for :meth:`path`;
        not known when a symlink was met on the way."""
        if not key:
            return self.root, None, False
        if ".." in key and ".." in key.split("/"):
            raise InvalidKey(f"Key {key!r} has a '..' segment; keys cannot leave {self.root}.")
        path = self.root + "/" + key.rstrip("/") if self.root != "/" else "/" + key.rstrip("/")
        step = len(self.root) if self.root != "/" else 0
        while True:
            step = path.find("/", step + 1)
            part = path if step == -1 else path[:step]
            try:
                st = os.lstat(part)
            except (FileNotFoundError, NotADirectoryError):
                return path, None, True  # nothing further exists: it will be created as real files/folders
            if stat.S_ISLNK(st.st_mode):
                self._check_real(key, path)
                return path, None, False
            if step == -1:
                return path, st, True

    def _check_real(self, key: str, path: str) -> None:
        real = os.path.realpath(path)
        root = self._root_of(path)
        if root is not None:
            raise InvalidKey(
                f"Key {key!r} resolves to {real}, outside the store root {root} "
                "(a symlink points outside); refusing to follow it."
            )

    def _root_of(self, path: str, real: str | None = None) -> str | None:
        """The root (this backend's, or the fence ``path`` lies in) that ``path`` resolves
        outside of, or None when it stays inside."""
        real = os.path.realpath(path) if real is None else real
        if real != self._real_root and not real.startswith(self._real_prefix):
            return self.root
        if self._fence is not None and path.startswith(self._fence[0]):
            fence_real = self._fence[1]
            if real != fence_real and not real.startswith(fence_real.rstrip("/") + "/"):
                return self._fence[0].rstrip("/")
        return None

    def _escapes(self, path: str) -> bool:
        """True for a symlink that resolves outside the root (listings leave those out)."""
        return self._root_of(path) is not None

    def uri(self, key: str) -> str:
        return os.path.join(self.root, key) if key else self.root

    def local_path(self, key: str) -> Path | None:
        return Path(self.path(key))

    # -- reads ----------------------------------------------------------------------------
    def _stat_file(self, key: str) -> tuple[str, os.stat_result]:
        path = self.path(key)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"No file {path!r}.") from None
        if not os.path.isfile(path):
            raise NotFound(f"{path!r} is a directory, not a file.")
        return path, st

    def head(self, key: str) -> ObjectMeta:
        _, st = self._stat_file(key)
        return _meta(key, st)

    def get_bytes(self, key: str) -> bytes:
        if "/" not in key and key not in ("", ".", ".."):
            # A file directly in the root: O_NOFOLLOW refuses a symlink (checked by path()
            # below), so no lstat is needed, and os-level reads skip io's extra syscalls.
            target = self.root + "/" + key if self.root != "/" else "/" + key
            try:
                fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
                        raise NotFound(f"No file {target!r}.") from None
                    raise
            else:
                try:
                    return read_all(fd, target)
                finally:
                    os.close(fd)
        path = self.path(key)
        try:
            with open(path, "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(f"No file {path!r}.") from None

    def get_range(self, key: str, start: int, end: int) -> bytes:
        path = self.path(key)
        try:
            with open(path, "rb") as f:
                f.seek(start)
                return f.read(max(0, end - start))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(f"No file {path!r}.") from None

    def download(
        self,
        key: str,
        dest: Path,
        *,
        if_none_match: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectMeta | None:
        path, st = self._stat_file(key)
        meta = _meta(key, st)
        if if_none_match is not None and meta.etag == if_none_match:
            return None
        copy_stream(path, os.fspath(dest), st.st_size, progress)
        return meta

    # -- writes ---------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        target, old = self.write_target(key)
        if is_special(old):
            with open(target, "wb") as f:
                f.write(data)
            return _meta(key, os.stat(target))
        tmp, fd = open_temp(target, old, self.durable, mode_later=True)
        try:
            # os-level calls: a small write is open, write, fstat, close, rename - no more.
            try:
                write_all(fd, data)
                st = os.fstat(fd)
                keep_mode(fd, st, old)
                if self.durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            publish(tmp, target, False, old)  # fsynced above; the folder below
            if self.durable:
                fsync_dir(os.path.dirname(target))
        except BaseException:
            unlink_quiet(tmp)
            raise
        return _meta(key, st)

    def create_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        # Complete temp file, then link(2) it to the key: link never replaces an existing name, so
        # of N racing creators exactly one wins, and readers never see a partial file.
        target = self.path(key)
        tmp, fd = open_temp(target, None, self.durable)
        try:
            with open(fd, "wb") as f:
                f.write(data)
                if self.durable:
                    f.flush()
                    os.fsync(f.fileno())
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise AlreadyExists(f"{target!r} already exists.") from None
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                    raise
                create_exclusive(target, data)  # a filesystem without hard links
        finally:
            unlink_quiet(tmp)
        if self.durable:
            fsync_dir(os.path.dirname(target))
        return self.head(key)

    def upload(self, key: str, src: Path, *, progress: ProgressCallback | None = None) -> ObjectMeta:
        with replacing(self.path(key), self.durable) as tmp:
            copy_stream(os.fspath(src), tmp, os.path.getsize(src), progress)
        return self.head(key)

    def write_with(self, key: str, write: Callable[[Path], None], tmp_dir: Path) -> ObjectMeta:
        with replacing(self.path(key), self.durable) as tmp:
            write(Path(tmp))
        return self.head(key)

    def delete(self, key: str) -> None:
        path = self.path(key)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"No file {path!r}.") from None
        except IsADirectoryError:
            raise NotFound(f"{path!r} is a directory, not a file.") from None
        if self.durable:
            fsync_dir(os.path.dirname(path))

    def copy(self, src: str, dst: str) -> None:
        source = self.path(src)
        if not os.path.isfile(source):
            raise NotFound(f"No file {source!r} to copy.")
        with replacing(self.path(dst), self.durable) as tmp:
            copy_stream(source, tmp, 0, None)

    def rename(self, src: str, dst: str, *, overwrite: bool = True) -> None:
        """Atomic move inside the root."""
        source, target = self.path(src), self.path(dst)
        if not os.path.isfile(source):
            raise NotFound(f"No file {source!r} to move.")
        if not overwrite and os.path.exists(target):
            raise AlreadyExists(f"{target!r} exists; pass overwrite=True to replace it.")
        make_parents(os.path.dirname(target), self.durable)
        os.replace(source, target)
        if self.durable:
            fsync_dir(os.path.dirname(target))
            fsync_dir(os.path.dirname(source))

    # -- listing --------------------------------------------------------------------------
    def list_objects(self, prefix: str = "") -> Iterator[ObjectMeta]:
        base = self.path(prefix.rstrip("/")) if prefix else self.root
        if not os.path.isdir(base):
            return
        stack = [(base, prefix if not prefix or prefix.endswith("/") else prefix + "/")]
        while stack:
            directory, key_prefix = stack.pop()
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except (FileNotFoundError, NotADirectoryError, PermissionError):
                continue
            subdirs = []
            for entry in entries:
                if entry.name.startswith(TEMP_MARKER):
                    continue
                key = key_prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append((entry.path, key + "/"))
                elif entry.is_file() and not (entry.is_symlink() and self._escapes(entry.path)):
                    try:
                        st = entry.stat()
                    except FileNotFoundError:  # deleted since scandir: it is simply gone
                        continue
                    yield _meta(key, st)
            stack.extend(reversed(subdirs))

    def list_dir(self, prefix: str = "") -> tuple[list[ObjectMeta], list[str]]:
        base = self.path(prefix.rstrip("/")) if prefix else self.root
        files: list[ObjectMeta] = []
        dirs: list[str] = []
        key_prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        try:
            entries = sorted(os.scandir(base), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return files, dirs
        for entry in entries:
            if entry.name.startswith(TEMP_MARKER):
                continue
            if entry.is_dir(follow_symlinks=False):
                dirs.append(key_prefix + entry.name + "/")
            elif entry.is_file() and not (entry.is_symlink() and self._escapes(entry.path)):
                with contextlib.suppress(FileNotFoundError):  # deleted since scandir
                    files.append(_meta(key_prefix + entry.name, entry.stat()))
        return files, dirs

    def list_stem(self, stem: str) -> list[str]:
        folder, _, name = stem.rpartition("/")
        base = self.path(folder) if folder else self.root
        want = name + "."
        try:
            names = os.listdir(base)
        except (FileNotFoundError, NotADirectoryError):
            return []
        key_prefix = folder + "/" if folder else ""
        return sorted(
            key_prefix + n
            for n in names
            if n.startswith(want)
            and os.path.isfile(path := os.path.join(base, n))
            and not (os.path.islink(path) and self._escapes(path))
        )

    def is_dir(self, prefix: str) -> bool:
        path = self.path(prefix.rstrip("/")) if prefix.rstrip("/") else self.root
        return os.path.isdir(path)

    def make_dir(self, prefix: str) -> None:
        path = self.path(prefix.rstrip("/"))
        try:
            os.makedirs(path, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise NotADirectory(f"Cannot create folder {path!r}: it or one of its parents is a file.") from None

    def remove_dir(self, prefix: str, *, recursive: bool = False) -> None:
        path = self.path(prefix.rstrip("/"))
        try:
            if recursive:
                if not os.path.isdir(path) or os.path.islink(path):
                    raise NotADirectoryError(path)
                shutil.rmtree(path)
            else:
                os.rmdir(path)
        except FileNotFoundError:
            raise NotFound(f"No folder {path!r}.") from None
        except NotADirectoryError:
            raise NotADirectory(f"{path!r} is not a folder; use unlink() for files.") from None
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise DirectoryNotEmpty(
                    f"Folder {path!r} is not empty; delete its content first or use delete() to remove it all."
                ) from None
            raise

    # -- streams --------------------------------------------------------------------------
    def open_read(self, key: str) -> IO[bytes]:
        path = self.path(key)
        try:
            return open(path, "rb")
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"No file {path!r}.") from None

    def open_write(self, key: str) -> IO[bytes]:
        target, old = self.write_target(key)
        if is_special(old):
            return open(target, "wb")  # a FIFO or device: written in place, as pathlib does
        writer: Any = AtomicWriter(target, old, durable=self.durable)
        return writer  # type: ignore[no-any-return]
