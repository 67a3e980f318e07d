"""AutoPath: the pathlib API on local disk and on any object store.

An AutoPath is pure path arithmetic (scheme, bucket, key segments; no I/O) plus a store. Every
I/O method asks the store for the backend of the path (``store._target``) and delegates to it,
so an AutoPath reuses the store's options, formats and cache. Without a store, a default store
is made from the URI (options from the environment / AWS profile) and shared by all paths that
use the same scheme, bucket and settings, so creating AutoPaths stays cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from .backends.base import Backend, ObjectMeta
from .errors import (
    AlreadyExists,
    BucketNotFound,
    DirectoryNotEmpty,
    InvalidKey,
    IsADirectory,
    NotADirectory,
    NotFound,
)
from .globbing import glob_regex, literal_prefix
from .metrics import traced
from .options import Options, S3Options, options_class_for_kind
from .progress import Progress, progress_reporter, scaled
from .uri import backend_kind, has_scheme, parse_location, validate_key

if TYPE_CHECKING:
    from .store import AutoStore

__all__ = ["AutoPath"]

_DEFAULT_STORES: dict[tuple[Any, ...], AutoStore] = {}
_DEFAULT_LOCK = threading.Lock()


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
    store = _DEFAULT_STORES.get(ident)
    if store is None:
        with _DEFAULT_LOCK:
            store = _DEFAULT_STORES.get(ident)
            if store is None:
                store = _DEFAULT_STORES[ident] = AutoStore(location)
    return store


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
        if added and not self.is_local:
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
            validate_key(name, uri=self.drive)
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
            # Local paths go through the store's key rules (a path inside a local store's root).
            backend, _ = self._store._target(self._store_uri() if self.is_local else self.anchor)
            self._target = (backend, self.key)
        return self._target

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
        self._store._after_write(backend, key, meta, data)  # the cache keeps or drops its entry

    def _deleted(self, backend: Backend, key: str) -> None:
        self._store._after_delete(backend, key)
        self._store._forget(backend, key, key)

    # -- queries ------------------------------------------------------------------------------
    @traced("exists")
    def exists(self, *, follow_symlinks: bool = True) -> bool:
        """True for an existing file or folder (on object stores: any object below the prefix)."""
        return self._head() is not None or self._dir_exists()

    def is_file(self) -> bool:
        return self._head() is not None

    def is_dir(self) -> bool:
        """True for a folder: a local directory, or on object stores a prefix with objects below
        it (a zero-byte ``folder/`` marker counts)."""
        return self._dir_exists()

    def is_symlink(self) -> bool:
        return self.is_local and os.path.islink(str(self))

    @traced("stat")
    def stat(self, *, follow_symlinks: bool = True) -> ObjectMeta:
        """Size (``st_size``/``size``), ``st_mtime``, ``etag`` of a file; folders give size 0.
        FileNotFoundError when nothing is there."""
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
    def read_bytes(self) -> bytes:
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
        backend, key = self._check_writable(folder_check=False)
        if "x" in mode and self._head() is not None:
            raise AlreadyExists(f"{self} exists; open it with mode 'w' to replace it.")
        writer = streams.Writer(backend.open_write(key), str(self), on_close=lambda: self._wrote(backend, key))
        if binary:
            return writer  # type: ignore[return-value]
        return streams.text_stream(writer, writing=True, encoding=encoding, errors=errors, newline=newline)

    @traced("touch")
    def touch(self, mode: int = 0o666, exist_ok: bool = True) -> None:
        """Create an empty file; an existing local file gets a new mtime (objects are left as they are)."""
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
        """The files and folders directly inside this folder, each once, sorted by name."""
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
        """Files and folders below this folder matching ``pattern`` (``*``, ``?``, ``[..]`` within
        a folder, ``**`` across folders; a trailing "/" yields folders only)."""
        if not pattern:
            raise ValueError(f"Unacceptable pattern: {pattern!r}")
        if pattern.startswith("/") or has_scheme(pattern):
            raise NotImplementedError("Non-relative patterns are unsupported")
        dirs_only = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        regex = glob_regex(pattern, recursive=False)
        if case_sensitive is False:
            import re

            regex = re.compile(regex.pattern, re.IGNORECASE)
        if "/" not in pattern and "**" not in pattern:
            try:
                children = self._children()
            except (NotFound, NotADirectory):
                return
            seen: set[str] = set()
            for name, is_dir in sorted(children):
                if name not in seen and regex.match(name) and (is_dir or not dirs_only):
                    seen.add(name)
                    yield self._with_parts((*self._parts, name))
            return
        literal = literal_prefix(pattern).rpartition("/")[0]
        base = self.joinpath(literal) if literal else self
        for rel, meta in base._walk():
            full = literal + "/" + rel if literal else rel
            if (meta is None or not dirs_only) and regex.match(full):
                yield self._with_parts((*self._parts, *full.split("/")))

    def rglob(self, pattern: str, *, case_sensitive: bool | None = None) -> Iterator[AutoPath]:
        """``glob("**/" + pattern)``: matches at any depth below this folder."""
        return self.glob("**/" + pattern, case_sensitive=case_sensitive)

    def walk(self, top_down: bool = True) -> Iterator[tuple[AutoPath, list[str], list[str]]]:
        """pathlib's ``walk``: ``(folder, folder names, file names)`` for this folder and each below it."""
        tree: dict[str, tuple[list[str], list[str]]] = {"": ([], [])}
        for rel, meta in self._walk():
            parent, _, name = rel.rpartition("/")
            if meta is None:
                tree.setdefault(rel, ([], []))
                tree.setdefault(parent, ([], []))[0].append(name)
            else:
                tree.setdefault(parent, ([], []))[1].append(name)
        order = sorted(tree, key=lambda r: (r.count("/") if r else -1, r))
        items = [(self / r if r else self, sorted(d), sorted(f)) for r, (d, f) in ((r, tree[r]) for r in order)]
        yield from (items if top_down else reversed(items))

    @traced("mkdir")
    def mkdir(self, mode: int = 0o777, parents: bool = False, exist_ok: bool = False) -> None:
        """Create this folder. On object stores folders exist through their keys, so nothing is
        written (no marker object); the checks for files and existing folders still apply."""
        backend, key = self._io()
        if self._head() is not None:
            raise AlreadyExists(f"Cannot create folder {self}: a file with that name exists.")
        if self._dir_exists():
            if exist_ok:
                return
            raise AlreadyExists(f"Folder {self} already exists; pass exist_ok=True to accept that.")
        if self.is_local and not parents and not self.parent.is_dir():
            raise NotFound(f"Cannot create folder {self}: its parent {self.parent} does not exist; pass parents=True.")
        backend.make_dir(key + "/")

    @traced("rmdir")
    def rmdir(self) -> None:
        """Remove this empty folder (and a zero-byte ``folder/`` marker object). OSError
        (DirectoryNotEmpty) if it has content, NotADirectoryError for a file. On object stores a
        prefix with nothing below it is an empty folder, so removing it succeeds."""
        backend, key = self._io()
        if not key:
            raise InvalidKey(f"Refusing to remove the root {self}; remove folders inside it.")
        if self._head() is not None:
            raise NotADirectory(f"{self} is a file, not a folder; use unlink() to remove files.")
        if not self.is_local:
            for meta in backend.list_objects(key + "/"):
                if meta.key != key:  # anything but the folder's own marker
                    raise DirectoryNotEmpty(
                        f"Folder {self} is not empty (it holds {backend.uri(meta.key)}); "
                        "delete its content first or use delete() to remove it all."
                    )
        backend.remove_dir(key + "/")

    @traced("unlink")
    def unlink(self, missing_ok: bool = False) -> None:
        """Remove this file; FileNotFoundError if absent (unless ``missing_ok``), IsADirectoryError for a folder."""
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
        """pathlib's ``rename``: same as :meth:`move_to`."""
        return self.move_to(target)

    def replace(self, target: str | os.PathLike[str] | AutoPath) -> AutoPath:
        """pathlib's ``replace``: same as :meth:`move_to` (an existing target file is replaced)."""
        return self.move_to(target)

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

    def _transfer(self, target: AutoPath, progress: Progress, *, move: bool) -> AutoPath:
        from .transfer import copy_object

        src_backend, src_key = self._io()
        dst_backend, dst_key = target._io()
        meta = self._head()
        if meta is not None:
            if target == self and src_backend is dst_backend:
                return target
            target._check_writable()
            with progress_reporter(progress, f"{'move' if move else 'copy'} {self.name}") as report:
                if move and src_backend is dst_backend and hasattr(src_backend, "rename"):
                    src_backend.rename(src_key, dst_key)
                    if report is not None:
                        report(meta.size, meta.size)
                else:
                    copy_object(
                        src_backend, src_key, dst_backend, dst_key,
                        size=meta.size, tmp_dir=self._store._tmp(), progress=report,
                    )  # fmt: skip
                    if move:
                        src_backend.delete(src_key)
            target._wrote(dst_backend, dst_key)
            if move:
                self._deleted(src_backend, src_key)
            return target
        if not src_key or not self._dir_exists():
            raise NotFound(f"No file or folder {self} to {'move' if move else 'copy'}; check the path.")
        if target == self or target.is_relative_to(self):
            raise InvalidKey(f"Cannot {'move' if move else 'copy'} {self} into itself ({target}).")
        if target.is_file():
            raise NotADirectory(f"Cannot {'move' if move else 'copy'} folder {self} onto the file {target}.")
        if move and self.is_local and target.is_local and not target.exists():
            # A local folder moves with one rename (atomic, no copy) when the target is free.
            os.makedirs(str(target.parent), exist_ok=True)
            os.replace(str(self), str(target))
            with progress_reporter(progress, f"move {self.name}/") as report:
                if report is not None:
                    total = sum(m.size for _, m in target._walk() if m is not None)
                    report(total, total)
            return target
        files = [(rel, m) for rel, m in self._walk() if m is not None]
        total = sum(m.size for _, m in files)
        done = 0
        with progress_reporter(progress, f"{'move' if move else 'copy'} {self.name}/") as report:
            for rel, m in files:
                dst_file = target._with_parts((*target._parts, *rel.split("/")))
                copy_object(
                    src_backend, m.key, dst_backend, dst_file.key,
                    size=m.size, tmp_dir=self._store._tmp(), progress=scaled(report, done, total),
                )  # fmt: skip
                done += m.size
                target._wrote(dst_backend, dst_file.key)
            if report is not None:
                report(total, total)
        if move:
            self.delete()
        return target

    # -- typed data ---------------------------------------------------------------------------
    @traced("load")
    def load(self, format: str | None = None, *, ignore_cache: bool = False) -> Any:
        """Decode the file with the store's formats (by extension, or ``format="csv"``); a folder
        loads as a polars LazyFrame over its files. Uses the store's cache unless ``ignore_cache``."""
        uri = self._store_uri()
        try:
            return self._store.read(uri, format, ignore_cache=ignore_cache)
        except NotFound:
            if self._parts and self._dir_exists():
                return self._store.read(uri + "/", format, ignore_cache=ignore_cache)
            raise

    @traced("save")
    def save(self, value: Any, format: str | None = None) -> AutoPath:
        """Encode ``value`` with the store's formats and write it here; returns the path written
        (a path without extension gets the one of the chosen format)."""
        stored = self._store.write(self._store_uri(), value, format)
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


def _rebuild(uri: str, store: AutoStore | None) -> AutoPath:
    return AutoPath(uri, store=store)
