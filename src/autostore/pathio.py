"""AutoPath's I/O on files: existence and metadata, reading and writing bytes and text,
``open``, ``touch``, ``unlink``/``delete``, and the listings that folders, globbing and transfers
build on. Every method asks the store for the backend of the path (``store.core.target``) and
delegates to it; ``store.core.path_wrote``/``path_deleted`` keep the store's cache and key index
right. :class:`autostore.path.AutoPath` is the class users see."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Self

from . import localpath
from .backends.base import Backend, ObjectMeta
from .backends.local import LocalBackend
from .errors import (
    AlreadyExists,
    BucketNotFound,
    InvalidKey,
    IsADirectory,
    NotADirectory,
    NotFound,
)
from .metrics import traced

if TYPE_CHECKING:
    from .path import AutoPath
    from .store import AutoStore

from .purepath import PureAutoPath

__all__ = ["PathIO"]


class PathIO(PureAutoPath):
    """A path with a store: the file I/O of an AutoPath (a base of AutoPath)."""

    __slots__ = ("_explicit", "_store", "_target")

    _store: AutoStore
    _explicit: bool
    _target: tuple[Backend, str] | None

    def _on_disk(self, path: str | os.PathLike[str]) -> Self:
        """The local file or folder ``path`` as a path on its default store."""
        raise NotImplementedError

    @property
    def store(self) -> AutoStore:
        """The store whose options, formats and cache this path uses."""
        return self._store

    # -- I/O helpers --------------------------------------------------------------------------
    def _store_uri(self) -> str:
        return "file:///" + self.key if self.is_local else str(self)

    def _io(self) -> tuple[Backend, str]:
        if self._target is None:
            if self.is_local:
                # A path inside a local store's root is held to the store's key rules (InvalidKey);
                # the I/O goes through the store's "/" backend, fenced at that root (no symlink out).
                self._store.core.target(self._store_uri())
                backend, _ = self._store.core.target("file:///")
            else:
                backend, _ = self._store.core.target(self.anchor)
            self._target = (backend, self.key)
        return self._target

    def _local(self) -> tuple[LocalBackend, str] | None:
        """The local backend and key of a path on local disk (pathlib's own semantics apply)."""
        backend, key = self._io()
        return (backend, key) if isinstance(backend, LocalBackend) else None

    def _local_path(self) -> str | None:
        local = self._local()
        return None if local is None else local[0].path(local[1])

    def _head(self) -> ObjectMeta | None:
        backend, key = self._io()
        if not key:
            return None
        try:
            return backend.head(key)
        except NotFound:
            return None

    def _dir_exists(self) -> bool:
        backend, key = self._io()
        if not key:
            return self._root_exists()
        return backend.is_dir(key + "/")

    def _root_exists(self) -> bool:
        backend, _ = self._io()
        if self.is_local:
            return True
        try:
            next(iter(backend.list_objects("")), None)
        except BucketNotFound:
            return False
        return True

    def _raise_missing(self, action: str) -> None:
        path = self._local_path()
        if path is not None and localpath.classify(path) == "below-file":
            raise NotADirectory(
                f"Cannot {action} {self}: a part of its folder is a file, not a folder; check the path."
            )
        if self._dir_exists():
            raise IsADirectory(f"Cannot {action} {self}: it is a folder; use iterdir()/glob() to see its files.")
        raise NotFound(f"No file {self} to {action}; check the path (list the folder with .parent.iterdir()).")

    def _check_writable(self, *, folder_check: bool = True) -> tuple[Backend, str]:
        """The backend and key to write; IsADirectory when a folder has this name. On object
        stores ``folder_check=False`` skips that check (a LIST request): writing ``a`` creates
        the object ``a`` even when keys below ``a/`` exist, as S3 itself does."""
        backend, key = self._io()
        if not key or ((folder_check or self.is_local) and backend.is_dir(key + "/")):
            raise IsADirectory(
                f"Cannot write to {self}: it is a folder; write to a file inside it, e.g. path / 'x.json'."
            )
        return backend, key

    def _wrote(self, backend: Backend, key: str, meta: ObjectMeta | None = None, data: bytes | None = None) -> None:
        self._store.core.path_wrote(backend, key, meta, data)  # the cache and the store's key index

    def _deleted(self, backend: Backend, key: str) -> None:
        self._store.core.path_deleted(backend, key)

    # -- queries ------------------------------------------------------------------------------
    @traced("exists")
    def exists(self, *, follow_symlinks: bool = True) -> bool:
        """True for an existing file or folder (on object stores: any object below the prefix).
        Local paths follow pathlib: FIFOs and other special files exist, a dangling symlink does
        not unless ``follow_symlinks=False``."""
        path = self._local_path()
        if path is None:
            return self._head() is not None or self._dir_exists()
        try:
            os.stat(path) if follow_symlinks else os.lstat(path)
        except (OSError, ValueError):
            return False
        return True

    def is_file(self) -> bool:
        """True for a regular file (following symlinks), or an object."""
        path = self._local_path()
        if path is None:
            return self._head() is not None
        return localpath.classify(path) == "file"

    def is_dir(self) -> bool:
        """True for a folder: a local directory, or on object stores a prefix with objects below
        it (a zero-byte ``folder/`` marker counts)."""
        path = self._local_path()
        if path is None:
            return self._dir_exists()
        return localpath.classify(path) == "dir"

    def is_symlink(self) -> bool:
        return self.is_local and os.path.islink(str(self))

    @traced("stat")
    def stat(self, *, follow_symlinks: bool = True) -> ObjectMeta:
        """Size (``st_size``/``size``), ``st_mtime``, ``etag`` of a file; folders give size 0.
        FileNotFoundError when nothing is there (NotADirectoryError below a local file)."""
        local = self._local()
        if local is not None:
            return localpath.stat_path(*local, follow_symlinks=follow_symlinks)
        meta = self._head()
        if meta is not None:
            return meta
        if self._dir_exists():
            modified = None
            if self.is_local:
                modified = datetime.fromtimestamp(os.stat(str(self)).st_mtime, tz=UTC)
            return ObjectMeta(key=self.key, size=0, etag=None, modified_time=modified)
        raise NotFound(f"No file or folder {self}; check the path (list the folder with .parent.iterdir()).")

    def samefile(self, other: str | os.PathLike[str] | AutoPath) -> bool:
        return self == self._coerce(other)

    # -- reading and writing ------------------------------------------------------------------
    @traced("read_bytes")
    def read_bytes(self, *, version: str | None = None, as_of: datetime | str | None = None) -> bytes:
        """The file's bytes; ``version=`` (a version id) or ``as_of=`` (a moment) read an older
        version (S3 with bucket versioning; see ``AutoStore.versions``)."""
        if version is not None or as_of is not None:
            from .versions import pin

            return pin(self._store, self._store_uri(), version=version, as_of=as_of, dataset=False).read_bytes()
        backend, key = self._io()
        if not key:
            self._raise_missing("read")
        try:
            return backend.get_bytes(key)
        except NotFound:
            self._raise_missing("read")
            raise  # pragma: no cover - _raise_missing always raises

    def read_text(self, encoding: str | None = None, errors: str | None = None, newline: str | None = None) -> str:
        """The file decoded as text (UTF-8 unless ``encoding`` is given; universal newlines)."""
        data = self.read_bytes()
        with io.TextIOWrapper(io.BytesIO(data), encoding=encoding or "utf-8", errors=errors, newline=newline) as f:
            return f.read()

    @traced("write_bytes")
    def write_bytes(self, data: bytes | bytearray | memoryview) -> int:
        """Replace the file with ``data`` atomically; missing parent folders are created."""
        view = memoryview(data)
        backend, key = self._check_writable(folder_check=False)
        meta = backend.put_bytes(key, view)
        self._wrote(backend, key, meta, data if isinstance(data, bytes) else None)
        return view.nbytes

    def write_text(
        self, data: str, encoding: str | None = None, errors: str | None = None, newline: str | None = None
    ) -> int:
        """Write ``data`` as text (UTF-8 unless ``encoding`` is given); returns the characters written."""
        if not isinstance(data, str):
            raise TypeError(f"data must be str, not {type(data).__name__}")
        text = data.replace("\n", newline) if newline not in (None, "", "\n") else data
        self.write_bytes(text.encode(encoding or "utf-8", errors or "strict"))
        return len(data)

    def open(
        self,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> IO[Any]:
        """A streaming file object: ``"rb"``/``"r"`` read without loading the whole object,
        ``"wb"``/``"w"`` (and ``"x"``) write in parts; the object appears when the file is closed,
        and not at all if the ``with`` block fails."""
        from . import streams

        kinds = set(mode) - {"b", "t"}
        if len(mode) != len(set(mode)) or len(kinds) != 1 or kinds - {"r", "w", "x"} or {"b", "t"} <= set(mode):
            raise ValueError(f"Unsupported mode {mode!r} for {self}: use 'r', 'rb', 'w', 'wb', 'x' or 'xb'.")
        binary = "b" in mode
        if binary and (encoding is not None or errors is not None or newline is not None):
            raise ValueError("binary mode doesn't take an encoding, errors or newline argument")
        if "r" in mode:
            backend, key = self._io()
            if not key:
                self._raise_missing("open")
            try:
                raw = backend.open_read(key)
            except (NotFound, IsADirectoryError):
                self._raise_missing("open")
                raise  # pragma: no cover
            stream = streams.binary_reader(raw, str(self), buffering)
            if binary:
                return stream
            return streams.text_stream(stream, writing=False, encoding=encoding, errors=errors, newline=newline)
        if "x" in mode:
            path = self._local_path()
            there = os.path.lexists(path) if path is not None else self._head() is not None or self._dir_exists()
            if there:
                raise AlreadyExists(f"{self} exists; open it with mode 'w' to replace it.")
        backend, key = self._check_writable(folder_check=False)
        writer = streams.Writer(backend.open_write(key), str(self), on_close=lambda: self._wrote(backend, key))
        if binary:
            return writer  # type: ignore[return-value]
        return streams.text_stream(writer, writing=True, encoding=encoding, errors=errors, newline=newline)

    @traced("touch")
    def touch(self, mode: int = 0o666, exist_ok: bool = True) -> None:
        """Create an empty file (local files get ``mode``, less the umask); an existing local
        path gets a new mtime (objects are left as they are). Missing parent folders are created."""
        local = self._local()
        if local is not None:
            if localpath.touch(*local, mode, exist_ok):
                self._wrote(*local)
            return
        if self.exists():
            if not exist_ok:
                raise AlreadyExists(f"{self} exists (touch(exist_ok=False)).")
            if self.is_local:
                os.utime(str(self))
            return
        backend, key = self._check_writable(folder_check=False)
        backend.put_bytes(key, b"")
        self._wrote(backend, key)

    def _children(self) -> list[tuple[str, bool]]:
        """``(name, is_folder)`` of the entries of this folder (a name can be both on S3)."""
        backend, key = self._io()
        prefix = key + "/" if key else ""
        files, dirs = backend.list_dir(prefix)
        out = [(d[len(prefix) :].rstrip("/"), True) for d in dirs]
        out += [(m.key[len(prefix) :], False) for m in files if m.key != key]  # not this folder's own marker
        out = [(name, is_dir) for name, is_dir in out if name]
        if not out and key and not backend.is_dir(prefix):
            if self._head() is not None:
                raise NotADirectory(f"{self} is a file, not a folder; iterdir() lists folders.")
            raise NotFound(f"No folder {self}; check the path (list the parent with .parent.iterdir()).")
        return out

    def _walk(self) -> Iterator[tuple[str, ObjectMeta | None]]:
        """``(relative key, meta)`` for everything below this folder: files with their metadata,
        folders (relative key of the folder) with None. Each folder comes before its content."""
        backend, key = self._io()
        prefix = key + "/" if key else ""
        if self.is_local:
            # Depth first in name order, so folders and files come in key order as on object stores.
            stack = [iter(self._local_entries(backend, prefix))]
            while stack:
                entry = next(stack[-1], None)
                if entry is None:
                    stack.pop()
                    continue
                full, meta = entry
                yield full[len(prefix) :], meta
                if meta is None:
                    stack.append(iter(self._local_entries(backend, full + "/")))
            return
        seen: set[str] = set()
        for meta in backend.list_objects(prefix):
            rel = meta.key[len(prefix) :]
            if not rel:
                continue  # this folder's own marker
            is_marker = meta.size == 0 and self._is_marker(backend, meta.key)
            segments = rel.split("/")
            for i in range(1, len(segments) + (1 if is_marker else 0)):
                folder = "/".join(segments[:i])
                if folder not in seen:
                    seen.add(folder)
                    yield folder, None
            if not is_marker:
                yield rel, meta

    @staticmethod
    def _local_entries(backend: Backend, folder: str) -> list[tuple[str, ObjectMeta | None]]:
        files, dirs = backend.list_dir(folder)
        entries: list[tuple[str, ObjectMeta | None]] = [(m.key, m) for m in files]
        entries += [(d.rstrip("/"), None) for d in dirs]
        return sorted(entries, key=lambda e: e[0])

    @staticmethod
    def _is_marker(backend: Backend, key: str) -> bool:
        # obstore lists a "folder/" marker as "folder"; a HEAD of "folder" then finds nothing.
        try:
            backend.head(key)
        except NotFound:
            return True
        return False

    def _content(self) -> str | None:
        """A key inside this object-store folder (not its own marker), or None if it is empty."""
        backend, key = self._io()
        for meta in backend.list_objects(key + "/" if key else ""):
            if meta.key != key:
                return meta.key
        return None

    @traced("unlink")
    def unlink(self, missing_ok: bool = False) -> None:
        """Remove this file; FileNotFoundError if absent (unless ``missing_ok``), IsADirectoryError for a folder."""
        local = self._local()
        if local is not None:
            if localpath.unlink(*local, missing_ok):
                self._deleted(*local)
            return
        backend, key = self._io()
        try:
            if not key:
                raise NotFound(key)
            backend.delete(key)
        except NotFound:
            if self._dir_exists():
                raise IsADirectory(f"{self} is a folder; use rmdir() or delete() to remove folders.") from None
            if missing_ok:
                return
            raise NotFound(f"No file {self} to remove; pass missing_ok=True to ignore that.") from None
        self._deleted(backend, key)

    @traced("delete")
    def delete(self, missing_ok: bool = False) -> None:
        """Remove this file, or this folder with everything in it."""
        backend, key = self._io()
        if not key:
            raise InvalidKey(f"Refusing to delete everything in {self}; delete the folders inside it instead.")
        found = False
        if self._head() is not None:
            backend.delete(key)
            self._deleted(backend, key)
            found = True
        prefix = key + "/"
        if backend.is_dir(prefix):
            keys = [m.key for m in backend.list_objects(prefix)]
            backend.remove_dir(prefix, recursive=True)
            for k in keys:
                self._deleted(backend, k)
            found = True
        if not found and not missing_ok:
            raise NotFound(f"Nothing to delete at {self}; pass missing_ok=True to ignore that.")
