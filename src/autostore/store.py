"""AutoStore: a dict of typed values over a local folder or an object-store prefix.

Keys map to files: ``store["a/b"] = {...}`` writes ``a/b.json``; ``store["a/b"]`` finds the one
``a/b.*`` file and decodes it. This module is the public dict API only; the plumbing behind it
(settled options, the backend pool, key resolution, encode/decode, the cache registry, the temp
dir, "key written/deleted" notices) is ``store.core``, a :class:`autostore.core.StoreCore`, which
autostore's own modules use instead of the store's private members.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends.base import Backend, ObjectMeta
from .batch import run_many
from .config import register_config_schemes
from .core import StoreCore
from .errors import AmbiguousKey, ConfigError, InvalidKey, NotFound
from .folders import folder_of, read_folder, write_folder
from .formats.base import DataHandler, check_read_options
from .hotpath import MISS, read_direct
from .metrics import traced
from .options import Options, S3Options
from .services import StoreServices
from .transfer import copy_key
from .uri import parse_location, register_scheme, supported_schemes

if TYPE_CHECKING:
    from datetime import datetime


__all__ = ["AutoStore"]


class AutoStore(StoreServices):
    """Dictionary-like access to typed files on local disk or any object store.

    >>> store = AutoStore("./data")                       # doctest: +SKIP
    >>> store["config"] = {"key": "value"}                # ./data/config.json
    >>> store["config"]
    {'key': 'value'}

    ``options`` is one Options object or a list (one per scheme); keyword arguments override
    fields of the options for the store's own scheme; ``config=`` is an alias of ``options=``.
    """

    def __init__(
        self,
        storage_uri: str | Path = ".",
        options: Options | list[Options] | tuple[Options, ...] | None = None,
        *,
        config: Options | list[Options] | tuple[Options, ...] | None = None,
        **kwargs: Any,
    ) -> None:
        if options is not None and config is not None:
            raise ConfigError("Pass options= or config= (an alias), not both.")
        given = options if options is not None else config
        option_list: list[Options] = (
            [] if given is None else list(given) if isinstance(given, (list, tuple)) else [given]
        )
        for o in option_list:
            if not isinstance(o, Options):
                raise ConfigError(f"options must be Options/S3Options objects, got {type(o).__name__}.")
            if isinstance(o, S3Options) and o.scheme and o.scheme not in supported_schemes():
                register_scheme(o.scheme, "s3")  # S3Options(scheme="minio") implies an S3 service

        register_config_schemes()
        location = parse_location(storage_uri)
        # What pickling needs to build an equal store in another process (spawn, DataLoader).
        self._init_args = (location.uri() if location.is_local else str(storage_uri), option_list, kwargs)
        self._custom_handlers: list[DataHandler] = []
        #: The internal interface (autostore's own modules only; not user API): see autostore.core.
        self.core = core = StoreCore(location, option_list, kwargs)
        # Bound once: the dict API's own shorthands (and what tests of the internals look at).
        self._primary, self._prefix = core.primary, core.prefix
        self._handlers, self._index = core.handlers, core.index
        self._target, self._cache_for, self._backend = core.target, core.cache_for, core.backend

    @property
    def _tmp_dir(self) -> Path | None:
        return self.core.tmp_dir

    # -- construction helpers --------------------------------------------------------------
    @staticmethod
    def register_scheme(scheme: str, backend: str = "autostore.s3") -> None:
        """Route ``scheme://`` URIs to an S3-compatible (or other) backend."""
        register_scheme(scheme, backend, clobber=True)

    def register_handler(self, handler: DataHandler) -> None:
        """Add a format handler to this store (higher ``priority`` wins)."""
        self.core.handlers.register(handler)
        self._custom_handlers.append(handler)
        self.core.index.clear()

    def options_for(self, scheme: str) -> Options:
        """The options used for ``scheme://`` URIs (explicit ones, else defaults + shared fields)."""
        return self.core.options_for(scheme)

    # -- reading ----------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self.read(key)

    @traced("read")
    def read(
        self,
        key: str,
        format: str | None = None,
        *,
        ignore_cache: bool = False,
        dataset: bool | None = None,
        cache: bool = False,
        compression: str | None = None,
        mmap: bool = False,
        version: str | int | None = None,
        as_of: datetime | str | None = None,
        **options: Any,
    ) -> Any:
        """Decode the value stored at ``key``; ``format="csv"`` forces a format.

        A folder (``"logs/"``, or a key with no file but a folder, or ``dataset=True``) is read as a
        polars LazyFrame over its data files, scanned in place; ``dataset=False`` never reads a folder.
        ``cache=True`` (folders, with caching on) scans copies from the download cache instead.
        ``compression="zstd"`` reads a file compressed under a name without the codec's suffix;
        ``mmap=True`` memory-maps a local file or cache entry (``.npy``, ``.safetensors``, Arrow
        IPC); other keywords go to the format (``sheet=`` for ``.xlsx``). A Delta table folder
        reads as ``pl.scan_delta`` of its latest version.

        ``version=`` (an object's version id; a Delta table's version number) or ``as_of=`` (a
        datetime or ISO text: the version current at that moment) read the key as it was; see
        :mod:`autostore.versions`.
        """
        core = self.core
        if version is not None or as_of is not None:
            from .versions import pin

            pinned = pin(self, key, version=version, as_of=as_of, dataset=dataset, cache=cache)
            return pinned.read(format, ignore_cache=ignore_cache)
        if format is None and not dataset and not mmap and compression is None and not options and not ignore_cache:
            value = read_direct(self, key)  # a file read, a GET or a cache hit, and a decode
            if value is not MISS:
                return value
        if mmap:
            options["mmap"] = True
        backend, full = core.target(key)
        if dataset or full.endswith("/") or full == "":
            if dataset is False:
                raise InvalidKey(f"Key {key!r} names a folder and dataset=False; give a file name.")
            folder = folder_of(full)
            return read_folder(self, backend, folder, format, cache=cache, fresh=ignore_cache, options=options)
        for attempt in range(2):
            try:
                stored = core.resolve(backend, full)
            except NotFound:
                if dataset is None and backend.is_dir(full):
                    folder = full + "/"
                    return read_folder(self, backend, folder, format, cache=cache, fresh=ignore_cache, options=options)
                raise
            handler, ext = core.handler_for_read(stored, format, compression)
            if handler is not None:
                check_read_options(core.handlers, handler, ext, options, uri=backend.uri(stored))
            try:
                return core.decode(backend, stored, handler, ext, ignore_cache=ignore_cache, options=options)
            except NotFound:
                if attempt or not core.index.forget(backend, full):
                    raise  # a remembered file vanished: resolve once more (never loop on a listing)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, key: str, default: Any = None) -> Any:
        """``store[key]`` or ``default`` when the key does not exist."""
        try:
            return self.read(key)
        except NotFound:
            return default

    # -- writing ----------------------------------------------------------------------------
    def __setitem__(self, key: str, value: Any) -> None:
        self.write(key, value)

    @traced("write")
    def write(
        self,
        key: str,
        value: Any,
        format: str | None = None,
        *,
        partition_by: str | list[str] | None = None,
        mode: str = "overwrite",
        compression: str | None = None,
        on: str | list[str] | None = None,
    ) -> str:
        """Encode ``value`` and store it at ``key``; returns the stored key (with extension).

        The extension in ``key`` (or ``format=``) decides the format; without one it follows the
        value's type. Writing an extensionless key replaces any ``key.<other ext>`` file.
        ``compression="zstd"`` (gzip, bz2, xz) compresses it: an extensionless key gets the
        codec's suffix too (``key.json.zst``), a named file keeps its name (as pandas does).
        A folder key (``"sales/"``) or ``partition_by=[...]`` writes a frame as a dataset (see
        :func:`autostore.datasets.write_dataset`; ``mode="append"`` adds files instead of replacing).
        ``format="delta"`` (or a folder that already is a Delta table) writes one Delta commit:
        ``mode`` is "overwrite", "append", "error", "ignore" or "merge" (upsert by ``on=[...]``);
        see :func:`autostore.deltawrite.write_table`.
        """
        core = self.core
        backend, full = core.target(key)
        folderish = not full or full[-1] == "/" or partition_by is not None or on is not None
        if folderish or format == "delta" or mode != "overwrite":  # a folder, a Delta table or a bad mode
            written = write_folder(
                self, backend, full, key, value, format=format, partition_by=partition_by, mode=mode,
                compression=compression, on=on,
            )  # fmt: skip
            if written is not None:  # else a single file after all (checked by write_folder)
                return written
        handler, ext, stored, explicit = core.handler_for_write(backend, full, key, value, format, compression)
        core.encode(backend, stored, handler, ext, value)
        if explicit is None:
            core.replace_siblings(backend, full, stored)
        else:
            # "a.txt" may now sit beside "a.json": what "a" meant must be looked up again.
            core.index.added(backend, full[: -len(explicit)], stored)
        return core.display_key(backend, stored)

    # -- other dict operations ----------------------------------------------------------------
    def __delitem__(self, key: str) -> None:
        self.delete(key)

    @traced("delete")
    def delete(self, key: str) -> None:
        """Remove the value at ``key`` (NotFound when absent)."""
        core = self.core
        backend, full = core.target(key)
        stored = core.resolve(backend, full)
        backend.delete(stored)
        core.after_delete(backend, stored)
        core.forget(backend, full, stored)

    @traced("contains")
    def __contains__(self, key: object) -> bool:
        """True when ``store[key]`` has a value to read (it may still fail to decode): a stored
        file, or a folder holding data files (a dataset). One request at most for a key this
        store has seen; remembered resolutions are re-checked."""
        core = self.core
        if not isinstance(key, str):
            return False
        backend, full = core.target(key)
        if full.endswith("/") or not full:
            return backend.is_dataset(full)  # what store["folder/"] scans; else it raises NotFound
        for _attempt in range(2):
            try:
                stored = core.resolve(backend, full)
            except NotFound:
                return backend.is_dataset(full + "/")  # store["folder"] reads a folder as a dataset
            except AmbiguousKey:
                return True
            try:
                backend.head(stored)
                return True
            except NotFound:
                if not core.index.forget(backend, full):
                    return False
        return False

    @traced("keys")
    def keys(self) -> list[str]:
        """Every stored key relative to the store, without extensions, sorted (``a/b`` style)."""
        core = self.core
        seen: dict[str, None] = {}
        cut = len(core.prefix)
        for key in core.primary.list_keys(core.prefix):
            rel = key[cut:]
            if not rel or rel.endswith("/"):
                continue
            ext = core.handlers.known_extension(rel.rpartition("/")[2])
            seen.setdefault(rel[: -len(ext)] if ext else rel, None)
        return sorted(seen)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def items(self) -> Iterator[tuple[str, Any]]:
        for key in self.keys():
            yield key, self.read(key)

    def values(self) -> Iterator[Any]:
        for key in self.keys():
            yield self.read(key)

    def update(self, other: Mapping[str, Any]) -> None:
        for key, value in other.items():
            self.write(key, value)

    # -- many keys at once ----------------------------------------------------------------------
    def _workers(self, max_concurrency: int | None) -> int:
        if max_concurrency is not None:
            return max(1, max_concurrency)
        return int(getattr(self.core.base_options, "max_concurrency", 16) or 16)

    @traced("get_many")
    def get_many(self, keys: Iterable[str], *, max_concurrency: int | None = None) -> list[Any]:
        """Read many keys concurrently (``max_concurrency`` at a time); results in key order.
        Raises BatchError naming every key that failed."""
        names = list(keys)
        return run_many(self.read, names, names, self._workers(max_concurrency))

    @traced("put_many")
    def put_many(
        self, items: Mapping[str, Any] | Iterable[tuple[str, Any]], *, max_concurrency: int | None = None
    ) -> list[str]:
        """Write many values concurrently; returns the stored keys in order. BatchError on failures."""
        pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
        names = [k for k, _ in pairs]
        return run_many(lambda kv: self.write(kv[0], kv[1]), pairs, names, self._workers(max_concurrency))

    @traced("get_metadata")
    def get_metadata(self, key: str) -> ObjectMeta:
        """Size, ETag and modification time of the value at ``key``."""
        backend, full = self._target(key)
        stored = self.core.resolve(backend, full)
        return backend.head(stored)

    @traced("copy")
    def copy(self, src: str, dst: str) -> str:
        """Copy the value at ``src`` to ``dst`` (any backends; server-side when they are the same).
        ``dst`` without an extension gets the source's. Returns the stored destination key."""
        return copy_key(self, src, dst, move=False)

    @traced("move")
    def move(self, src: str, dst: str) -> str:
        """Move the value at ``src`` to ``dst``; the source is removed only after the copy."""
        return copy_key(self, src, dst, move=True)

    # -- introspection ------------------------------------------------------------------------
    @property
    def uri(self) -> str:
        """The store's root as a URI (a path for local stores)."""
        return self.core.uri

    @property
    def options(self) -> Options:
        """Options of the store's own backend."""
        return self.core.base_options

    @property
    def primary_backend(self) -> Backend:
        """The store's backend, with keys relative to the store (as in 0.1.x)."""
        if not self._prefix:
            return self._primary
        view: Backend | None = getattr(self, "_primary_view", None)
        if view is None:
            from .backends.prefixed import PrefixedBackend

            view = self._primary_view = PrefixedBackend(self._primary, self._prefix)
        return view

    def storage_options(self, uri: str | None = None, engine: str = "polars") -> dict[str, Any]:
        """Credentials and endpoint of the store (or of ``uri``'s backend) spelled for another
        engine: ``"polars"`` (object_store keys), ``"fsspec"`` (s3fs keys: Dask, PyArrow) or
        ``"delta"`` (deltalake: S3 and Azure, with safe concurrent commits). Empty for local paths."""
        backend = self._primary if uri is None else self._target(uri)[0]
        return backend.storage_options(engine)

    @property
    def handlers(self) -> list[DataHandler]:
        return self._handlers.handlers

    def get_supported_backends(self) -> list[str]:
        """Every scheme this process can open (built-in and registered)."""
        return sorted(supported_schemes())

    def list_active_backends(self) -> list[str]:
        """``"primary: <uri>"`` then ``"<scheme>: <scheme>://<bucket>/"`` for each backend in use."""
        core = self.core
        out = [f"primary: {self.uri}"]
        for (scheme, _bucket), backend in list(core.backends.items()):
            if backend is not core.primary:
                out.append(f"{scheme}: {backend.uri('')}")
        return out

    # -- lifetime -----------------------------------------------------------------------------
    def close(self) -> None:
        """Release clients and remove temporary files. The store can be used again after."""
        self.core.close()

    def __enter__(self) -> AutoStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AutoStore({self.uri!r}, options={self.core.base_options!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Clients, locks and temp dirs are per process: pickle how the store was made instead.
        uri, option_list, kwargs = self._init_args
        return (_rebuild_store, (uri, option_list, kwargs, list(self._custom_handlers)))


def _rebuild_store(
    uri: str, option_list: list[Options], kwargs: dict[str, Any], handlers: list[DataHandler]
) -> AutoStore:
    store = AutoStore(uri, options=option_list or None, **kwargs)
    for handler in handlers:
        store.register_handler(handler)
    return store
