"""AutoPath: the pathlib API on local disk and on any object store.

An AutoPath is pure path arithmetic (scheme, bucket, key segments; no I/O:
:class:`autostore.purepath.PureAutoPath`) plus a store. Every I/O method asks the store for the
backend of the path (``store.core.target``) and delegates to it, so an AutoPath reuses the store's
options, formats and cache. This module makes paths (construction, the default stores) and holds
the folder methods (``iterdir``, ``glob``, ``walk``, ``mkdir``, ``rmdir``) and typed data
(``load``, ``save``); file I/O is in :mod:`autostore.pathio`, copies and moves in
:mod:`autostore.pathmove`. Without a store, a default store
is made from the URI (options from the environment / AWS profile) and shared by all paths that
use the same scheme, bucket and settings, so creating AutoPaths stays cheap.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from . import localpath
from .errors import (
    AlreadyExists,
    DirectoryNotEmpty,
    InvalidKey,
    NotADirectory,
    NotFound,
)
from .globbing import ListingTree, Tree, is_wildcard, parse_pattern, select, walk_tree
from .metrics import traced
from .options import Options, S3Options, options_class_for_kind
from .pathmove import PathTransfers
from .uri import backend_kind, has_scheme, parse_location

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


class AutoPath(PathTransfers):
    """A pathlib-like path to a file or folder on local disk or on an object store.

    >>> AutoPath("s3://bucket/data") / "results.json"         # doctest: +SKIP
    AutoPath('s3://bucket/data/results.json')

    ``path`` is a URI (``s3://bucket/key``, ``file:///abs``), a local path (relative ones resolve
    against the current directory), or, when ``store`` is given, a key relative to the store.
    Paths are always absolute; ``str()`` gives the URI (the plain path for local files).
    """

    __slots__ = ()

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
                backend, full = store.core.target(text)  # a key relative to the store
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
    def _make(cls, store: AutoStore, explicit: bool, scheme: str, bucket: str, parts: tuple[str, ...]) -> Self:
        new = object.__new__(cls)
        new._scheme, new._bucket, new._parts = scheme, bucket, parts
        new._store, new._explicit, new._target = store, explicit, None
        return new

    def _with_parts(self, parts: tuple[str, ...]) -> Self:
        return self._make(self._store, self._explicit, self._scheme, self._bucket, parts)

    def _from_text(self, text: str | os.PathLike[str]) -> Self:
        return type(self)(text, store=self._store if self._explicit else None)

    def _on_disk(self, path: str | os.PathLike[str]) -> Self:
        return type(self)(os.path.abspath(os.fspath(path)))

    def resolve(self, strict: bool = False) -> AutoPath:
        """The path itself (symlinks are not followed, so it works the same on object stores)."""
        if strict and not self.exists():
            raise NotFound(f"{self} does not exist (resolve(strict=True)).")
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (str(self), self._store if self._explicit else None))

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
                path = stack.enter_context(self._store.core.local_file(backend, key, ignore_cache))
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
