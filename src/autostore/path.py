"""AutoPath: the pathlib API on local disk and on any object store.

An AutoPath is pure path arithmetic (scheme, bucket, key segments; no I/O) plus a store. Every
I/O method asks the store for the backend of the path (``store._target``) and delegates to it,
so an AutoPath reuses the store's options, formats and cache. Without a store, a default store
is made from the URI (options from the environment / AWS profile) and shared by all paths that
use the same scheme, bucket and settings, so creating AutoPaths stays cheap.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import errno
import io
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from . import localpath
from .backends.base import Backend, ObjectMeta
from .backends.local import LocalBackend
from .errors import (
    AlreadyExists,
    BucketNotFound,
    DirectoryNotEmpty,
    InvalidKey,
    InvalidTarget,
    IsADirectory,
    NotADirectory,
    NotFound,
)
from .globbing import ListingTree, Tree, is_wildcard, parse_pattern, select, walk_tree
from .metrics import traced
from .options import Options, S3Options, options_class_for_kind
from .progress import Progress, progress_reporter, scaled
from .uri import backend_kind, has_scheme, parse_location, validate_key

if TYPE_CHECKING:
    from .store import AutoStore
    from .versions import ObjectVersion

__all__ = ["AutoPath"]

#: Default stores kept for reuse; the least recently used beyond this are let go (a path still
#: holding one keeps using it; its temporary folder goes with it), the rest are closed at exit.
MAX_DEFAULT_STORES = 64
_DEFAULT_STORES: OrderedDict[tuple[Any, ...], AutoStore] = OrderedDict()
_DEFAULT_LOCK = threading.Lock()
_CLOSE_AT_EXIT: list[Any] = []  # holds the atexit hook once it is registered


def default_store(scheme: str, bucket: str) -> AutoStore:
    """The shared store for paths given without one: one per scheme, bucket and the settings the
    environment gives them (a changed ``AWS_ENDPOINT_URL`` gets a new store)."""
    from .store import AutoStore

    kind = backend_kind(scheme)
    if kind == "local":
        ident: tuple[Any, ...] = ("file",)
        location = "/"
    else:
        cls = options_class_for_kind(kind)
        opts = cls(scheme=scheme) if cls is not Options else Options(scheme=scheme)
        settings = dataclasses.astuple(opts.resolved()) if isinstance(opts, S3Options) else ()
        ident = (scheme, bucket, settings)
        location = f"{scheme}://{bucket}/"
    with _DEFAULT_LOCK:
        store = _DEFAULT_STORES.get(ident)
        if store is None:
            if not _DEFAULT_STORES and not _CLOSE_AT_EXIT:
                _CLOSE_AT_EXIT.append(atexit.register(_close_default_stores))
            store = _DEFAULT_STORES[ident] = AutoStore(location)
            while len(_DEFAULT_STORES) > MAX_DEFAULT_STORES:
                _DEFAULT_STORES.popitem(last=False)
        else:
            _DEFAULT_STORES.move_to_end(ident)
    return store


def _close_default_stores() -> None:
    with _DEFAULT_LOCK:
        stores = list(_DEFAULT_STORES.values())
        _DEFAULT_STORES.clear()
    for store in stores:
        with contextlib.suppress(Exception):
            store.close()


def _is_local_text(text: str) -> bool:
    """Strings that name a file on this machine even when a store is given."""
    return text in (".", "..", "~") or text.startswith(("/", "./", "../", "~/"))


class AutoPath:
    """A pathlib-like path to a file or folder on local disk or on an object store.

    >>> AutoPath("s3://bucket/data") / "results.json"         # doctest: +SKIP
    AutoPath('s3://bucket/data/results.json')

    ``path`` is a URI (``s3://bucket/key``, ``file:///abs``), a local path (relative ones resolve
    against the current directory), or, when ``store`` is given, a key relative to the store.
    Paths are always absolute; ``str()`` gives the URI (the plain path for local files).
    """

    __slots__ = ("_bucket", "_explicit", "_parts", "_scheme", "_store", "_target")

    _scheme: str
    _bucket: str
    _parts: tuple[str, ...]
    _store: AutoStore
    _explicit: bool
    _target: tuple[Backend, str] | None

    def __init__(self, path: str | os.PathLike[str] | AutoPath, *more: str, store: AutoStore | None = None) -> None:
        if isinstance(path, AutoPath):
            scheme, bucket, parts = path._scheme, path._bucket, path._parts
            if store is None:
                store, explicit = path._store, path._explicit
            else:
                explicit = True
        else:
            if isinstance(path, os.PathLike):
                text = os.path.abspath(os.fspath(path))
            elif isinstance(path, str):
                text = path
            else:
                raise TypeError(f"AutoPath takes a str, os.PathLike or AutoPath, not {type(path).__name__}.")
            if store is not None and not has_scheme(text) and not _is_local_text(text):
                backend, full = store._target(text)  # a key relative to the store
                text = backend.uri(full)
            loc = parse_location(text)
            scheme, bucket = loc.scheme, (loc.bucket if not loc.is_local else "/")
            parts = tuple(p for p in loc.key.split("/") if p)
            explicit = store is not None
            if store is None:
                store = default_store(scheme, bucket)
        self._scheme, self._bucket, self._parts = scheme, bucket, parts
        self._store, self._explicit, self._target = store, explicit, None
        if more:
            joined = self.joinpath(*more)  # may be a URI on another bucket, with its own store
            self._scheme, self._bucket, self._parts = joined._scheme, joined._bucket, joined._parts
            self._store, self._explicit = joined._store, joined._explicit

    @classmethod
    def _make(cls, store: AutoStore, explicit: bool, scheme: str, bucket: str, parts: tuple[str, ...]) -> AutoPath:
        new = object.__new__(cls)
        new._scheme, new._bucket, new._parts = scheme, bucket, parts
        new._store, new._explicit, new._target = store, explicit, None
        return new

    def _with_parts(self, parts: tuple[str, ...]) -> AutoPath:
        return AutoPath._make(self._store, self._explicit, self._scheme, self._bucket, parts)

    # -- pure path API ------------------------------------------------------------------------
    @property
    def store(self) -> AutoStore:
        """The store whose options, formats and cache this path uses."""
        return self._store

    @property
    def is_local(self) -> bool:
        """True for a file or folder on this machine."""
        return self._scheme == "file"

    @property
    def drive(self) -> str:
        """``scheme://bucket`` for object stores, ``""`` for local paths."""
        return "" if self.is_local else f"{self._scheme}://{self._bucket}"

    @property
    def root(self) -> str:
        return "/"

    @property
    def anchor(self) -> str:
        """``s3://bucket/`` or ``/``: the part that every parent keeps."""
        return self.drive + "/"

    @property
    def key(self) -> str:
        """The key in the bucket (for local paths: the absolute path without its leading "/")."""
        return "/".join(self._parts)

    @property
    def parts(self) -> tuple[str, ...]:
        """``("s3://bucket/", "a", "b.json")``, like pathlib's ``("/", "a", "b.json")``."""
        return (self.anchor, *self._parts)

    @property
    def name(self) -> str:
        return self._parts[-1] if self._parts else ""

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix if self._parts else ""

    @property
    def suffixes(self) -> list[str]:
        return PurePosixPath(self.name).suffixes if self._parts else []

    @property
    def stem(self) -> str:
        return PurePosixPath(self.name).stem if self._parts else ""

    @property
    def parent(self) -> AutoPath:
        """The folder holding this path; the bucket root (or "/") is its own parent."""
        return self._with_parts(self._parts[:-1]) if self._parts else self

    @property
    def parents(self) -> tuple[AutoPath, ...]:
        """Every ancestor, nearest first, ending with the bucket root (or "/")."""
        return tuple(self._with_parts(self._parts[:i]) for i in range(len(self._parts) - 1, -1, -1))

    def __str__(self) -> str:
        if self.is_local:
            return "/" + self.key
        return self.drive + ("/" + self.key if self._parts else "")

    def __repr__(self) -> str:
        return f"AutoPath({str(self)!r})"

    def as_posix(self) -> str:
        """The path with forward slashes: the URI, or the plain path for local files."""
        return str(self)

    def as_uri(self) -> str:
        """``file:///...`` for local paths (percent-encoded like pathlib), ``s3://...`` otherwise."""
        return PurePosixPath(str(self)).as_uri() if self.is_local else str(self)

    def is_absolute(self) -> bool:
        """Always True: local paths are resolved against the current directory when created."""
        return True

    def absolute(self) -> AutoPath:
        return self

    def resolve(self, strict: bool = False) -> AutoPath:
        """The path itself (symlinks are not followed, so it works the same on object stores)."""
        if strict and not self.exists():
            raise NotFound(f"{self} does not exist (resolve(strict=True)).")
        return self

    def expanduser(self) -> AutoPath:
        return self

    def __fspath__(self) -> str:
        if self.is_local:
            return str(self)
        raise TypeError(
            f"{self} is not on local disk; use `with path.local_path() as p:` to get a local copy, "
            "or read_bytes()/open()."
        )

    def _key_tuple(self) -> tuple[str, str, tuple[str, ...]]:
        return (self._scheme, self._bucket, self._parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AutoPath):
            return NotImplemented
        return self._key_tuple() == other._key_tuple()

    def __hash__(self) -> int:
        return hash(self._key_tuple())

    def __lt__(self, other: AutoPath) -> bool:
        if not isinstance(other, AutoPath):
            return NotImplemented
        return self._key_tuple() < other._key_tuple()

    def __le__(self, other: AutoPath) -> bool:
        if not isinstance(other, AutoPath):
            return NotImplemented
        return self._key_tuple() <= other._key_tuple()

    def __gt__(self, other: AutoPath) -> bool:
        if not isinstance(other, AutoPath):
            return NotImplemented
        return self._key_tuple() > other._key_tuple()

    def __ge__(self, other: AutoPath) -> bool:
        if not isinstance(other, AutoPath):
            return NotImplemented
        return self._key_tuple() >= other._key_tuple()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (str(self), self._store if self._explicit else None))

    def joinpath(self, *segments: str | os.PathLike[str] | AutoPath) -> AutoPath:
        """Append segments; an absolute one (a URI, or "/..." for local paths) replaces the path,
        as in pathlib. ``..`` goes up lexically and stops at the bucket root."""
        path = self
        for segment in segments:
            path = path._join(segment)
        return path

    def __truediv__(self, segment: str | os.PathLike[str] | AutoPath) -> AutoPath:
        try:
            return self._join(segment)
        except TypeError:
            return NotImplemented

    def __rtruediv__(self, other: str | os.PathLike[str]) -> AutoPath:
        return self  # an AutoPath is absolute: joining it to anything gives itself, as in pathlib

    def _join(self, segment: str | os.PathLike[str] | AutoPath) -> AutoPath:
        if isinstance(segment, AutoPath):
            return segment
        text = os.fspath(segment)
        if not isinstance(text, str):
            raise TypeError(f"Cannot join {type(segment).__name__} to an AutoPath; use str.")
        if has_scheme(text):
            return AutoPath(text, store=self._store if self._explicit else None)
        parts = [] if text.startswith("/") else list(self._parts)
        if self.is_local and text.startswith("/"):
            return AutoPath(text, store=self._store if self._explicit else None)
        added: list[str] = []
        for part in text.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if added:
                    added.pop()
                elif parts:
                    parts.pop()
                continue
            added.append(part)
        if added and not self.is_local:  # checked as a key of its own (so no leading "~")
            added = validate_key("/".join(added), uri=self.drive).split("/")
        elif "\x00" in text:
            raise InvalidKey(f"Path segment {text!r} contains NUL; remove it.")
        return self._with_parts((*parts, *added))

    def with_name(self, name: str) -> AutoPath:
        if not self._parts:
            raise ValueError(f"{self!r} has an empty name")
        if not name or "/" in name or name == ".":
            raise ValueError(f"Invalid name {name!r}")
        if not self.is_local:
            name = validate_key(name, uri=self.drive)  # NFC, as every key
        return self._with_parts((*self._parts[:-1], name))

    def with_stem(self, stem: str) -> AutoPath:
        return self.with_name(stem + self.suffix)

    def with_suffix(self, suffix: str) -> AutoPath:
        if not self._parts:
            raise ValueError(f"{self!r} has an empty name")
        return self.with_name(PurePosixPath(self.name).with_suffix(suffix).name)

    def _coerce(self, other: str | os.PathLike[str] | AutoPath) -> AutoPath:
        """``other`` as a path; strings use this path's store (when it was given one)."""
        if isinstance(other, AutoPath):
            return other
        return AutoPath(other, store=self._store if self._explicit else None)

    def relative_to(self, other: str | os.PathLike[str] | AutoPath) -> PurePosixPath:
        """The relative path from ``other`` to this path, as a ``PurePosixPath``
        (``str()`` gives ``"run_1/results.json"``). ValueError if not below ``other``."""
        base = self._coerce(other)
        n = len(base._parts)
        if base._scheme != self._scheme or base._bucket != self._bucket or self._parts[:n] != base._parts:
            raise ValueError(f"{str(self)!r} is not in the subpath of {str(base)!r}")
        return PurePosixPath(*self._parts[n:]) if len(self._parts) > n else PurePosixPath()

    def is_relative_to(self, other: str | os.PathLike[str] | AutoPath) -> bool:
        try:
            self.relative_to(other)
        except ValueError:
            return False
        return True

    def match(self, pattern: str) -> bool:
        """pathlib's ``match``: a relative pattern matches from the right (``"*.log"``); a URI
        pattern must match the whole path."""
        if has_scheme(pattern):
            loc = parse_location(pattern)
            scheme = loc.scheme
            bucket = "/" if loc.is_local else loc.bucket
            if (scheme, bucket) != (self._scheme, self._bucket):
                return False
            pattern = "/" + loc.key
        return PurePosixPath("/" + self.key).match(pattern)

    # -- I/O helpers --------------------------------------------------------------------------
    def _store_uri(self) -> str:
        return "file:///" + self.key if self.is_local else str(self)

    def _io(self) -> tuple[Backend, str]:
        if self._target is None:
            if self.is_local:
                # A path inside a local store's root is held to the store's key rules (InvalidKey);
                # the I/O goes through the store's "/" backend, fenced at that root (no symlink out).
                self._store._target(self._store_uri())
                backend, _ = self._store._target("file:///")
            else:
                backend, _ = self._store._target(self.anchor)
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
        self._store._path_wrote(backend, key, meta, data)  # the cache and the store's key index

    def _deleted(self, backend: Backend, key: str) -> None:
        self._store._path_deleted(backend, key)

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

    # -- folders ------------------------------------------------------------------------------
    def iterdir(self) -> Iterator[AutoPath]:
        """The files and folders directly inside this folder, each once, sorted by name (on local
        disk every entry pathlib lists: symlinks, dangling links, FIFOs)."""
        local = self._local()
        if local is not None:
            names = [name for name, _, _ in localpath.LocalTree(*local).scan((), strict=True)]
        else:
            names = sorted({name for name, _ in self._children()})
        for name in names:
            yield self._with_parts((*self._parts, name))

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

    def glob(self, pattern: str, *, case_sensitive: bool | None = None) -> Iterator[AutoPath]:
        """Python 3.11's ``Path.glob``: files and folders below this folder matching ``pattern``
        (``*``, ``?``, ``[..]`` within a name, ``**`` for this folder and every folder below it; a
        trailing "/" yields folders only). ``case_sensitive=False`` ignores case. Results come in
        name order, with ``..`` resolved (``glob("sub/../*")`` gives ``self / "x"``)."""
        if not pattern:
            raise ValueError(f"Unacceptable pattern: {pattern!r}")
        if has_scheme(pattern):
            raise NotImplementedError("Non-relative patterns are unsupported")
        return self._select(parse_pattern(pattern), case_sensitive)

    def rglob(self, pattern: str, *, case_sensitive: bool | None = None) -> Iterator[AutoPath]:
        """``glob("**/" + pattern)``: matches at any depth below this folder."""
        if has_scheme(pattern):
            raise NotImplementedError("Non-relative patterns are unsupported")
        return self._select(parse_pattern(pattern, rglob=True), case_sensitive)

    def _select(self, parts: tuple[str, ...], case_sensitive: bool | None) -> Iterator[AutoPath]:
        local = self._local()
        lead: tuple[str, ...] = ()
        if local is not None:
            tree: Tree = localpath.LocalTree(*local)
        else:
            lead, tree = self._listing_for(parts, case_sensitive)
        for rel in select(tree, parts[len(lead) :], case_sensitive=case_sensitive):
            yield self._descendant((*lead, *rel))

    def _descendant(self, rel: tuple[str, ...]) -> AutoPath:
        if ".." in rel:  # pathlib keeps "sub/.."; an AutoPath resolves it by name, as joinpath does
            return self.joinpath("/".join(rel))
        return self._with_parts((*self._parts, *rel))

    def _listing_for(self, parts: tuple[str, ...], case_sensitive: bool | None) -> tuple[tuple[str, ...], Tree]:
        """A tree of what a pattern can reach on an object store, from one listing: the folder
        named by the pattern's leading literal components, one level deep when that is all the
        pattern needs, else everything below it."""
        lead: list[str] = []
        for part in parts[:-1]:
            if part in ("", "..", "**") or is_wildcard(part) or case_sensitive is False:
                break
            lead.append(part)
        rest = parts[len(lead) :]
        try:
            base = self.joinpath("/".join(lead)) if lead else self
        except InvalidKey:  # no key can have such a name: nothing matches
            return tuple(lead), ListingTree((), exists=False, missing=lambda: NotFound(str(self)))
        entries: list[tuple[str, bool]]
        if len(rest) == 1 and rest[0] != "**":
            try:
                entries = base._children()
            except (NotFound, NotADirectory):
                entries = []
        else:
            entries = [(rel, meta is None) for rel, meta in base._walk()]
        exists = bool(entries) or base._dir_exists()
        return tuple(lead), ListingTree(entries, exists=exists, missing=base._missing_folder)

    def _missing_folder(self) -> OSError:
        if self._head() is not None:
            return NotADirectory(f"{self} is a file, not a folder; walk() and iterdir() list folders.")
        return NotFound(f"No folder {self}; check the path (list the parent with .parent.iterdir()).")

    def walk(
        self,
        top_down: bool = True,
        on_error: Callable[[OSError], object] | None = None,
        follow_symlinks: bool = False,
    ) -> Iterator[tuple[AutoPath, list[str], list[str]]]:
        """Python 3.12's ``Path.walk`` (on 3.11 too): ``(folder, folder names, file names)`` for
        this folder and each below it, names sorted. Top-down, removing names from the folder
        list prunes the walk. A folder that cannot be listed (this one missing, or a file) goes to
        ``on_error`` and yields nothing. Symlinks to folders are listed as files unless
        ``follow_symlinks``. Object stores are listed once, up front."""
        local = self._local()
        if local is not None:
            tree: Tree = localpath.LocalTree(*local)
        else:
            entries = [(rel, meta is None) for rel, meta in self._walk()]
            tree = ListingTree(entries, exists=bool(entries) or self._dir_exists(), missing=self._missing_folder)
        for rel, dirnames, filenames in walk_tree(
            tree, top_down=top_down, on_error=on_error, follow_symlinks=follow_symlinks
        ):
            yield self._with_parts((*self._parts, *rel)), dirnames, filenames

    @traced("mkdir")
    def mkdir(self, mode: int = 0o777, parents: bool = False, exist_ok: bool = False) -> None:
        """Create this folder (on local disk with ``mode``, less the umask, as pathlib). On object
        stores folders exist through their keys, so nothing is written (no marker object); the
        checks for files and existing folders still apply."""
        local = self._local()
        if local is not None:
            localpath.mkdir(*local, mode, parents, exist_ok)
            return
        backend, key = self._io()
        if self._head() is not None:
            raise AlreadyExists(f"Cannot create folder {self}: a file with that name exists.")
        if self._dir_exists():
            if exist_ok:
                return
            raise AlreadyExists(f"Folder {self} already exists; pass exist_ok=True to accept that.")
        backend.make_dir(key + "/")

    @traced("rmdir")
    def rmdir(self) -> None:
        """Remove this empty folder (and a zero-byte ``folder/`` marker object). OSError
        (DirectoryNotEmpty) if it has content, NotADirectoryError for a file. On object stores a
        prefix with nothing below it is an empty folder, so removing it succeeds."""
        backend, key = self._io()
        if not key:
            raise InvalidKey(f"Refusing to remove the root {self}; remove folders inside it.")
        if not self.is_local and self._head() is not None:
            raise NotADirectory(f"{self} is a file, not a folder; use unlink() to remove files.")
        if not self.is_local:
            content = self._content()
            if content is not None:
                raise DirectoryNotEmpty(
                    f"Folder {self} is not empty (it holds {backend.uri(content)}); "
                    "delete its content first or use delete() to remove it all."
                )
        backend.remove_dir(key + "/")

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

    # -- transfers ----------------------------------------------------------------------------
    @traced("copy_to")
    def copy_to(self, target: str | os.PathLike[str] | AutoPath, *, progress: Progress = None) -> AutoPath:
        """Copy this file (or folder, recursively) to ``target``, on any backend; returns the target.

        Same backend: a server-side copy. Between backends: streamed, memory stays bounded.
        ``progress``: a callback ``(done_bytes, total_bytes)`` or True for a progress bar.
        """
        return self._transfer(self._coerce(target), progress, move=False)

    @traced("move_to")
    def move_to(self, target: str | os.PathLike[str] | AutoPath, *, progress: Progress = None) -> AutoPath:
        """Move this file or folder to ``target`` (copy, then delete the source); returns the target."""
        return self._transfer(self._coerce(target), progress, move=True)

    def rename(self, target: str | os.PathLike[str] | AutoPath) -> AutoPath:
        """pathlib's ``rename`` (POSIX): an existing target file is replaced; a folder may replace
        an empty folder, never a non-empty one (DirectoryNotEmpty: use :meth:`move_to` to merge)
        nor be moved into itself (InvalidTarget, an OSError EINVAL). On local disk one
        ``os.rename``; elsewhere copy then delete. Missing parent folders of the target are made."""
        return self._rename(self._coerce(target))

    def replace(self, target: str | os.PathLike[str] | AutoPath) -> AutoPath:
        """pathlib's ``replace``: the same as :meth:`rename` (which replaces files, as on POSIX)."""
        return self._rename(self._coerce(target))

    def _rename(self, target: AutoPath) -> AutoPath:
        src, dst = self._local(), target._local()
        if src is not None and dst is not None:
            try:
                localpath.rename(*src, *dst)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                return self._transfer(target, None, move=True, strict=True)  # another filesystem: copy
            self._deleted(*src)
            target._wrote(*dst)
            return target
        return self._transfer(target, None, move=True, strict=True)

    @traced("upload_from")
    def upload_from(self, source: str | os.PathLike[str] | AutoPath, *, progress: Progress = None) -> AutoPath:
        """Copy the local file or folder ``source`` to this path; returns this path."""
        src = source if isinstance(source, AutoPath) else AutoPath(os.path.abspath(os.fspath(source)))
        src._transfer(self, progress, move=False)
        return self

    @traced("download_to")
    def download_to(self, dest: str | os.PathLike[str], *, progress: Progress = None) -> Path:
        """Copy this file or folder to the local path ``dest``; returns it as a ``pathlib.Path``."""
        target = AutoPath(os.path.abspath(os.fspath(dest)))
        self._transfer(target, progress, move=False)
        return Path(str(target))

    def _transfer(self, target: AutoPath, progress: Progress, *, move: bool, strict: bool = False) -> AutoPath:
        """Copy or move this file or folder to ``target``. ``strict`` (rename/replace): a folder
        never merges into a non-empty folder."""
        from .transfer import transfer_object

        src_backend, src_key = self._io()
        dst_backend, dst_key = target._io()
        meta = self._head()
        if meta is not None:
            if target == self and src_backend is dst_backend:
                return target
            target._check_writable()
            with progress_reporter(progress, f"{'move' if move else 'copy'} {self.name}") as report:
                transfer_object(
                    self._store, src_backend, src_key, target._store, dst_backend, dst_key,
                    move=move, size=meta.size, progress=report,
                )  # fmt: skip
            return target
        verb = "move" if move else "copy"
        if not src_key or not self._dir_exists():
            raise NotFound(f"No file or folder {self} to {verb}; check the path.")
        if target == self and move:
            return target  # as os.rename(folder, folder): nothing to do
        if target == self or target.is_relative_to(self):
            raise InvalidTarget(f"Cannot {verb} folder {self} into itself ({target}); choose a target outside it.")
        if target.is_file():
            raise NotADirectory(f"Cannot {verb} folder {self} onto the file {target}.")
        src_local, dst_local = self._local(), target._local()
        if move and src_local is not None and dst_local is not None:
            # A local folder moves with one rename (atomic, no copy) when the target is free or
            # an empty folder; move_to() merges into a non-empty one below.
            try:
                localpath.rename(*src_local, *dst_local)
            except DirectoryNotEmpty:
                if strict:
                    raise
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
            else:
                with progress_reporter(progress, f"move {self.name}/") as report:
                    if report is not None:
                        total = sum(m.size for _, m in target._walk() if m is not None)
                        report(total, total)
                return target
        elif strict and target._content() is not None:
            raise DirectoryNotEmpty(
                f"Cannot rename folder {self} to {target}: the target folder is not empty; "
                "remove it first, or use move_to() to merge into it."
            )
        entries = list(self._walk())
        files = [(rel, m) for rel, m in entries if m is not None]
        if target.is_local:  # local folders exist on their own: empty ones are copied too
            for rel, m in entries:
                if m is None:
                    dst_backend.make_dir(target._with_parts((*target._parts, *rel.split("/"))).key + "/")
        total = sum(m.size for _, m in files)
        done = 0
        with progress_reporter(progress, f"{'move' if move else 'copy'} {self.name}/") as report:
            for rel, m in files:
                dst_file = target._with_parts((*target._parts, *rel.split("/")))
                transfer_object(
                    self._store, src_backend, m.key, target._store, dst_backend, dst_file.key,
                    move=move, size=m.size, progress=scaled(report, done, total),
                )  # fmt: skip
                done += m.size
            if report is not None:
                report(total, total)
        if move:
            self._remove_emptied_folder()
        return target

    def _remove_emptied_folder(self) -> None:
        """After a folder move: remove the folders (and folder markers) it left, but no file
        written into it meanwhile (each moved file was removed by its own checked move)."""
        backend, key = self._io()
        if self.is_local:
            from .transfer import remove_empty_folders

            remove_empty_folders(str(self))
            return
        left = list(backend.list_objects(key + "/"))
        if all(m.size == 0 and self._is_marker(backend, m.key) for m in left):
            backend.remove_dir(key + "/", recursive=True)

    # -- typed data ---------------------------------------------------------------------------
    @traced("load")
    def load(
        self,
        format: str | None = None,
        *,
        ignore_cache: bool = False,
        compression: str | None = None,
        mmap: bool = False,
        version: str | int | None = None,
        as_of: datetime | str | None = None,
        **options: Any,
    ) -> Any:
        """Decode the file with the store's formats (by extension, or ``format="csv"``); a folder
        loads as a polars LazyFrame over its files. Uses the store's cache unless ``ignore_cache``.
        ``mmap=True`` memory-maps it (``.npy`` gives a read-only ``np.memmap``); ``compression``
        and other keywords (``sheet=``) as in ``AutoStore.read``. ``version=`` / ``as_of=`` load
        an older version (an object's version id, a Delta table's version number)."""
        uri = self._store_uri()
        if version is not None or as_of is not None:
            return self._store.read(uri, format, ignore_cache=ignore_cache, version=version, as_of=as_of)
        kwargs = dict(options, ignore_cache=ignore_cache, compression=compression, mmap=mmap)
        try:
            return self._store.read(uri, format, **kwargs)
        except NotFound:
            if self._parts and self._dir_exists():
                return self._store.read(uri + "/", format, **kwargs)
            raise

    @traced("save")
    def save(self, value: Any, format: str | None = None, *, compression: str | None = None) -> AutoPath:
        """Encode ``value`` with the store's formats and write it here; returns the path written
        (a path without extension gets the one of the chosen format, and of ``compression``)."""
        stored = self._store.write(self._store_uri(), value, format, compression=compression)
        name = stored.rpartition("/")[2]
        return self if name == self.name or not name else self.with_name(name)

    @contextlib.contextmanager
    def local_path(self, *, ignore_cache: bool = False) -> Iterator[Path]:
        """A real local file with this path's content, for libraries that only take paths: the
        file itself on local disk, else the cache entry (caching on) or a temporary download."""
        backend, key = self._io()
        if not key:
            self._raise_missing("read")
        with contextlib.ExitStack() as stack:
            try:
                path = stack.enter_context(self._store._local_file(backend, key, ignore_cache))
            except NotFound:
                self._raise_missing("read")
                raise  # pragma: no cover
            yield path

    # -- versions -----------------------------------------------------------------------------
    def versions(self) -> list[ObjectVersion]:
        """Every version of this file, newest first (``AutoStore.versions``)."""
        return self._store.versions(self._store_uri())


def _rebuild(uri: str, store: AutoStore | None) -> AutoPath:
    return AutoPath(uri, store=store)
