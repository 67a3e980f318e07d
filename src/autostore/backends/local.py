"""Local filesystem backend: plain ``os`` calls, atomic writes (temp file + ``os.replace``)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ..errors import AlreadyExists, DirectoryNotEmpty, InvalidKey, NotADirectory, NotFound
from ..uri import TEMP_MARKER
from .base import Backend, ObjectMeta, ProgressCallback, TempFileWriter
from .durable import fsync_dir, fsync_path, make_parents

__all__ = ["LocalBackend", "TEMP_MARKER", "remove_stale_temp_files"]
_CHUNK = 4 * 1024 * 1024


def _meta(key: str, st: os.stat_result) -> ObjectMeta:
    # A cheap, change-detecting etag: size + mtime in ns (what HTTP servers use for files).
    return ObjectMeta(
        key=key,
        size=st.st_size,
        etag=f'"{st.st_mtime_ns:x}-{st.st_size:x}"',
        modified_time=datetime.fromtimestamp(st.st_mtime, tz=UTC),
    )


def temp_sibling(path: str) -> str:
    """A unique temporary name in the same directory as ``path`` (same filesystem -> atomic rename)."""
    head, tail = os.path.split(path)
    return os.path.join(head, f"{TEMP_MARKER}{uuid.uuid4().hex[:12]}-{tail[:100]}")


def remove_stale_temp_files(root: str | os.PathLike[str], older_than: float = 3600.0) -> list[str]:
    """Delete the temporary files that writers killed mid-write (SIGKILL, power loss) left below
    ``root``, if untouched for ``older_than`` seconds; returns their paths. Listings never show
    them, so this only frees space. A younger one may belong to a write still in progress."""
    import time

    removed: list[str] = []
    cutoff = time.time() - older_than
    for directory, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(TEMP_MARKER):
                path = os.path.join(directory, name)
                with contextlib.suppress(FileNotFoundError):
                    if os.lstat(path).st_mtime <= cutoff:
                        os.unlink(path)
                        removed.append(path)
    return removed


class AtomicWriter(TempFileWriter):
    """A file opened for writing under a temporary name in the target's folder; renamed over the
    target on close, so readers never see a half-written file."""

    def __init__(self, target: str, *, durable: bool = False) -> None:
        make_parents(os.path.dirname(target) or ".", durable)
        self._target = target
        self._durable = durable
        super().__init__(temp_sibling(target))

    def _commit(self, tmp_path: str) -> None:
        publish(tmp_path, self._target, self._durable)


def publish(tmp: str, target: str, durable: bool) -> None:
    """Rename the complete file ``tmp`` over ``target``; ``durable``: its data reaches the disk
    before the rename, and the folder entry after it (see backends/durable.py)."""
    if durable:
        fsync_path(tmp)
    os.replace(tmp, target)
    if durable:
        fsync_dir(os.path.dirname(target))


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
        if not key:
            return self.root
        if ".." in key and ".." in key.split("/"):
            raise InvalidKey(f"Key {key!r} has a '..' segment; keys cannot leave {self.root}.")
        path = self.root + "/" + key.rstrip("/") if self.root != "/" else "/" + key.rstrip("/")
        step = len(self.root) if self.root != "/" else 0
        while True:
            step = path.find("/", step + 1)
            part = path if step == -1 else path[:step]
            try:
                mode = os.lstat(part).st_mode
            except (FileNotFoundError, NotADirectoryError):
                return path  # nothing further exists: it will be created as real files/folders
            if stat.S_ISLNK(mode):
                self._check_real(key, path)
                return path
            if step == -1:
                return path

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
                    return _read_all(fd, target)
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
        _copy_stream(path, os.fspath(dest), st.st_size, progress)
        return meta

    # -- writes ---------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        target = self.path(key)
        tmp = temp_sibling(target)
        try:
            # os-level calls: a small write is open, write, fstat, close, rename - no more.
            try:
                fd = os.open(tmp, _NEW_FILE, 0o666)
            except FileNotFoundError:
                make_parents(os.path.dirname(target), self.durable)
                fd = os.open(tmp, _NEW_FILE, 0o666)
            try:
                _write_all(fd, data)
                if self.durable:
                    os.fsync(fd)
                st = os.fstat(fd)
            finally:
                os.close(fd)
            os.replace(tmp, target)
            if self.durable:
                fsync_dir(os.path.dirname(target))
        except BaseException:
            _unlink_quiet(tmp)
            raise
        return _meta(key, st)

    def upload(self, key: str, src: Path, *, progress: ProgressCallback | None = None) -> ObjectMeta:
        target = self.path(key)
        make_parents(os.path.dirname(target), self.durable)
        tmp = temp_sibling(target)
        try:
            _copy_stream(os.fspath(src), tmp, os.path.getsize(src), progress)
            publish(tmp, target, self.durable)
        except BaseException:
            _unlink_quiet(tmp)
            raise
        return self.head(key)

    def write_with(self, key: str, write: Callable[[Path], None], tmp_dir: Path) -> ObjectMeta:
        target = self.path(key)
        make_parents(os.path.dirname(target), self.durable)
        tmp = temp_sibling(target)
        try:
            write(Path(tmp))
            publish(tmp, target, self.durable)
        except BaseException:
            _unlink_quiet(tmp)
            raise
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
        target = self.path(dst)
        make_parents(os.path.dirname(target), self.durable)
        tmp = temp_sibling(target)
        try:
            shutil.copyfile(source, tmp)
            publish(tmp, target, self.durable)
        except BaseException:
            _unlink_quiet(tmp)
            raise

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
        writer: Any = AtomicWriter(self.path(key), durable=self.durable)
        return writer  # type: ignore[no-any-return]


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view) :]


def _read_all(fd: int, path: str) -> bytes:
    """The whole content of the open file ``fd`` (NotFound for a directory): one read when the
    file still has the size fstat gave (a regular file reads short only at its end)."""
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size + 1)
        if len(data) == size:
            return data
        chunks, got = [data], len(data)  # it changed size meanwhile: read on to the end
        while chunk := os.read(fd, max(size - got + 1, 1 << 16)):
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)
    except IsADirectoryError:
        raise NotFound(f"{path!r} is a directory, not a file.") from None


def _unlink_quiet(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _copy_stream(src: str, dst: str, total: int, progress: ProgressCallback | None) -> None:
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
