"""AutoStore: a dict of typed values over a local folder or an object-store prefix.

Keys map to files: ``store["a/b"] = {...}`` writes ``a/b.json``; ``store["a/b"]`` finds the one
``a/b.*`` file and decodes it. The store chooses formats (handler registry), backends (one per
scheme and bucket, built lazily) and the download cache; backends only move bytes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .backends.base import Backend, ObjectMeta
from .batch import run_many
from .config import register_config_schemes, settle
from .errors import (
    AmbiguousKey,
    AuthError,
    AutoStoreError,
    BackendError,
    ConfigError,
    CorruptData,
    FormatError,
    InvalidKey,
    MissingDependency,
    NotFound,
    UnsafeLoad,
    UnsupportedFormat,
)
from .formats import default_registry
from .formats.base import (
    DataHandler,
    HandlerRegistry,
    check_read_options,
    is_os_error,
    os_error,
    reading_with,
    refuse_unsafe,
    unsafe_loads,
)
from .globbing import glob_regex as _glob_regex
from .globbing import literal_prefix as _literal_prefix
from .hotpath import MISS, read_local
from .keyindex import KeyIndex
from .metrics import StoreStats, new_recorder, traced
from .options import Options, S3Options, options_class_for_kind
from .uri import (
    backend_kind,
    has_scheme,
    parse_location,
    register_scheme,
    supported_schemes,
    validate_key,
)

if TYPE_CHECKING:
    from datetime import datetime

    from .cache import CacheInfo, DownloadCache
    from .delta import TableVersion
    from .versions import ObjectVersion

__all__ = ["AutoStore"]

log = logging.getLogger("autostore")

#: Remote objects up to this size are read into memory instead of a temporary file.
IN_MEMORY_LIMIT = 64 * 1024 * 1024


class AutoStore:
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
        self._location = location
        # What pickling needs to build an equal store in another process (spawn, DataLoader).
        self._init_args = (location.uri() if location.is_local else str(storage_uri), option_list, kwargs)
        self._custom_handlers: list[DataHandler] = []
        self._lock = threading.RLock()
        self._backends: dict[tuple[str, str], Backend] = {}
        self._tmp_dir: Path | None = None
        self._tmp_finalizer: weakref.finalize[Any, Any] | None = None  # removes it if close() never comes
        self._closed = False
        self._handlers: HandlerRegistry = default_registry().copy()
        self._index = KeyIndex(self._handlers.known_extension)
        self._caches: dict[str, DownloadCache | None] = {}
        self._stats = new_recorder()  # every backend of this store counts its requests here

        primary_kind = location.kind
        primary_scheme = location.scheme
        self._options: dict[str, Options] = {}
        unscoped: Options | None = None
        for o in option_list:
            if o.scheme is None or (type(o) is Options and o.scheme in ("file", primary_scheme)):
                unscoped = o
            else:
                self._options[o.scheme] = o
        base = self._options.get(primary_scheme) or unscoped
        cls = options_class_for_kind(primary_kind)
        if base is None:
            base = cls(scheme=primary_scheme) if cls is not Options else Options()
        elif not isinstance(base, cls):
            base = cls(scheme=primary_scheme).inherit(base)
        if kwargs:
            base = base.replace(**kwargs)
        if unscoped is not None and base is not unscoped and type(unscoped) is Options:
            base = base.inherit(unscoped)
        self._explicit_base = base
        self._options[primary_scheme] = base  # explicit options per scheme; config/env fill the rest
        self._effective: dict[tuple[str, str], Options] = {}
        self._base_options = self._settled(primary_scheme, "" if location.is_local else location.bucket)

        self._local = location.is_local
        if location.is_local:
            from .backends.local import LocalBackend

            root = "/" + location.key.rstrip("/")
            self._primary: Backend = LocalBackend(root, durable=self._base_options.durable)
            self._primary.stats = self._stats
            self._prefix = ""
            self._backends[("file", root)] = self._primary
        else:
            self._primary = self._backend(location.scheme, location.bucket)
            key = location.key
            self._prefix = key if not key or key.endswith("/") else key + "/"

    # -- construction helpers --------------------------------------------------------------
    @staticmethod
    def register_scheme(scheme: str, backend: str = "autostore.s3") -> None:
        """Route ``scheme://`` URIs to an S3-compatible (or other) backend."""
        register_scheme(scheme, backend, clobber=True)

    def register_handler(self, handler: DataHandler) -> None:
        """Add a format handler to this store (higher ``priority`` wins)."""
        self._handlers.register(handler)
        self._custom_handlers.append(handler)
        self._index.clear()

    def options_for(self, scheme: str) -> Options:
        """The options used for ``scheme://`` URIs (explicit ones, else defaults + shared fields)."""
        scheme = scheme.lower()
        if scheme == self._location.scheme:
            return self._base_options
        return self._settled(scheme, "")

    def _settled(self, scheme: str, bucket: str) -> Options:
        """Explicit options for ``scheme`` completed from the environment and the config file."""
        found = self._effective.get((scheme, bucket))
        if found is None:
            explicit = self._options.get(scheme)
            if explicit is None:
                cls = options_class_for_kind(backend_kind(scheme))
                explicit = (cls(scheme=scheme) if cls is not Options else Options(scheme=scheme)).inherit(
                    self._explicit_base
                )
            found = self._effective[(scheme, bucket)] = settle(explicit, scheme, bucket or None)
        return found

    def _backend(self, scheme: str, bucket: str) -> Backend:
        ident = (scheme, bucket)
        backend = self._backends.get(ident)
        if backend is not None:
            return backend
        with self._lock:
            backend = self._backends.get(ident)
            if backend is None:
                kind = backend_kind(scheme)
                if kind == "local":
                    from .backends.local import LocalBackend

                    # Absolute paths inside a local store's root keep its rules (no symlink out).
                    fence = self._primary_root() if bucket == "/" else None
                    backend = LocalBackend(bucket, fence=fence, durable=self._base_options.durable)
                else:
                    from .backends.objectstore import ObjectStoreBackend

                    backend = ObjectStoreBackend(scheme, kind, bucket, self._settled(scheme, bucket))
                backend.stats = self._stats
                self._backends[ident] = backend
        return backend

    # -- key -> (backend, full key) ----------------------------------------------------------
    def _target(self, key: str) -> tuple[Backend, str]:
        if not isinstance(key, str):
            raise InvalidKey(f"Key {key!r} must be a string, not {type(key).__name__}.")
        if has_scheme(key) and key.index(":") > 1:  # "c://x" is no URI (nor a drive): a bad key
            loc = parse_location(key)
            if loc.is_local:
                inside = self._inside_root(loc.key)
                if inside is not None:
                    return self._primary, inside
                return self._backend("file", "/"), loc.key
            return self._backend(loc.scheme, loc.bucket), loc.key
        return self._primary, self._prefix + validate_key(key, uri=self.uri)

    def _primary_root(self) -> str | None:
        """The folder of a local store ("/abs/data"), None for object stores."""
        return "/" + self._location.key.rstrip("/") if self._location.is_local else None

    def _inside_root(self, path_key: str) -> str | None:
        """A ``file://`` path below a local store's root as the store's own key (AutoPath reaches
        local files by URI), held to the store's key rules: one key index and one set of siblings
        for both ways in, and no symlink out of the root."""
        root = self._primary.local_path("")
        if root is None or str(root) == "/":  # a store on "/" (AutoPath's default) takes any path
            return None
        path = PurePosixPath("/" + path_key)
        if path == PurePosixPath(root) or not path.is_relative_to(root):
            return None
        rel = path.relative_to(root).as_posix() + ("/" if path_key.endswith("/") else "")
        return validate_key(rel, uri=self.uri)

    def _display(self, backend: Backend, full: str) -> str:
        return backend.uri(full)

    def _display_key(self, backend: Backend, full: str) -> str:
        """``full`` relative to the store when it is inside it, else its URI."""
        if backend is self._primary and full.startswith(self._prefix):
            return full[len(self._prefix) :]
        return backend.uri(full)

    def _resolve(self, backend: Backend, full: str) -> str:
        """The stored key for ``full``: itself when it names a known extension, else the single
        ``full.<ext>`` file. NotFound / AmbiguousKey otherwise."""
        if not full or full.endswith("/"):
            raise InvalidKey(f"Key {full!r} in {backend.uri('')} names a folder, not a value; name a file in it.")
        name = full.rpartition("/")[2]
        if self._handlers.known_extension(name):
            return full
        memo = self._index.remembered(backend, full)
        if memo is not None:
            return memo
        try:
            candidates = self._index.candidates(backend, full, trust_absence=False)
        except (AuthError, BackendError) as exc:
            raise type(exc)(f"{exc} (looking up {backend.uri(full)})") from None
        if not candidates:
            raise NotFound(
                f"Key {full!r} not found in {backend.uri(full.rpartition('/')[0])} "
                f"(looked for {name} and {name}.<ext>); check store.keys()."
            )
        if len(candidates) > 1:
            shown = [self._display_key(backend, c) for c in candidates]  # as the user names them
            example = next(n for c, n in zip(candidates, shown, strict=True) if c != full)
            bare = (
                f"; {self._display_key(backend, full)} has no extension (as autostore 0.1.x wrote files): "
                "rename it, see `autostore migrate`"
                if full in candidates
                else ""
            )
            raise AmbiguousKey(
                f"Key {self._display_key(backend, full)!r} is ambiguous in {backend.uri('')}: {', '.join(shown)} "
                f"all match; read one with its extension, e.g. store['{example}']{bare}.",
                candidates,
            )
        self._index.resolved(backend, full, candidates[0])
        return candidates[0]

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
        if version is not None or as_of is not None:
            from .versions import pin

            pinned = pin(self, key, version=version, as_of=as_of, dataset=dataset, cache=cache)
            return pinned.read(format, ignore_cache=ignore_cache)
        if self._local and format is None and not dataset and not mmap and compression is None and not options:
            value = read_local(self, key)  # small local files: a file read and a decode
            if value is not MISS:
                return value
        if mmap:
            options["mmap"] = True
        backend, full = self._target(key)
        if dataset or full.endswith("/") or full == "":
            if dataset is False:
                raise InvalidKey(f"Key {key!r} names a folder and dataset=False; give a file name.")
            folder = full.rstrip("/") + "/" if full.rstrip("/") else full
            return self._read_dataset(backend, folder, format, cache=cache, fresh=ignore_cache, options=options)
        for attempt in range(2):
            try:
                stored = self._resolve(backend, full)
            except NotFound:
                if dataset is None and backend.is_dir(full):
                    return self._read_dataset(
                        backend, full + "/", format, cache=cache, fresh=ignore_cache, options=options
                    )
                raise
            handler, ext = self._handler_for_read(stored, format, compression)
            if handler is not None:
                check_read_options(self._handlers, handler, ext, options, uri=backend.uri(stored))
            try:
                return self._decode(backend, stored, handler, ext, ignore_cache=ignore_cache, options=options)
            except NotFound:
                if attempt or not self._index.forget(backend, full):
                    raise  # a remembered file vanished: resolve once more (never loop on a listing)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, key: str, default: Any = None) -> Any:
        """``store[key]`` or ``default`` when the key does not exist."""
        try:
            return self.read(key)
        except NotFound:
            return default

    def _handler_for_read(
        self, stored: str, format: str | None, compression: str | None = None
    ) -> tuple[DataHandler | None, str]:
        """The handler and extension to decode ``stored`` with; (None, ext) for a file whose
        name has no known extension, read by its content instead (0.1.x wrote such files)."""
        if format is not None:
            ext = "." + format.lower().lstrip(".")
        else:
            name = stored.rpartition("/")[2]
            known = self._handlers.known_extension(name)
            if known is None and compression is None:
                return None, ("." + name.rpartition(".")[2] if "." in name[1:] else "")
            ext = known or ("." + name.rpartition(".")[2] if "." in name[1:] else "")
        if compression is not None:
            from .formats.compression import with_codec

            ext = with_codec(ext, compression)
        return self._handlers.for_extension(ext, key=stored), ext

    def _decode(
        self,
        backend: Backend,
        stored: str,
        handler: DataHandler | None,
        ext: str,
        *,
        ignore_cache: bool,
        options: dict[str, Any] | None = None,
    ) -> Any:
        allowed = self.options_for(backend.scheme).pickle_allowed
        if handler is not None and handler.unsafe and not allowed:
            uri = backend.uri(stored)
            raise UnsafeLoad(
                f"Refusing to load {uri}: {ext} files can run code when loaded and allow_pickle is off "
                "(Options(allow_pickle=True) or AUTOSTORE_ALLOW_PICKLE=1 allows it for trusted data)."
            )
        try:
            mapped = bool(options and options.get("mmap"))
            with unsafe_loads(allowed), reading_with(options or {}):
                if handler is None:
                    with self._local_file(backend, stored, ignore_cache) as source:
                        handler, ext = self._sniffed(stored, ext, source, allowed)
                        check_read_options(self._handlers, handler, ext, options or {}, uri=backend.uri(stored))
                        if handler.supports_bytes:
                            return handler.read_from_bytes(source.read_bytes(), ext)
                        return handler.read_from_file(source, ext)
                if handler.supports_bytes and not mapped:
                    return handler.read_from_bytes(self._read_bytes(backend, stored, ignore_cache), ext)
                buffers = handler.reads_buffers and not mapped
                with self._local_file(backend, stored, ignore_cache, buffers=buffers, mapped=mapped) as source:
                    return handler.read_from_file(source, ext)
        except (FormatError, MissingDependency) as exc:  # raised by the handler: add the URI
            raise type(exc)(f"Cannot read {backend.uri(stored)}{f' as {ext}' if ext else ''}: {exc}") from None
        except (AutoStoreError, MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise _read_error(exc, backend.uri(stored), ext) from exc

    def _sniffed(self, stored: str, ext: str, source: Path, allowed: bool) -> tuple[DataHandler, str]:
        """The handler for a file without a known extension, chosen by its content."""
        from .formats.sniff import sniff

        found = sniff(source)
        if found is None:
            if ext:  # "blob.xyz": say which extension no handler knows
                self._handlers.for_extension(ext, key=stored)
            raise UnsupportedFormat(
                f"The file has no extension and its content is no format autostore recognises (parquet, npy, "
                f"npz, torch, pickle, image, JSON, UTF-8 text); read it with format=..., e.g. "
                f"store.read({stored.rpartition('/')[2]!r}, format='csv')."
            )
        handler = self._handlers.for_extension(found, key=stored)
        if handler.unsafe and not allowed:
            raise refuse_unsafe("It has no extension and its content is a pickle")
        return handler, found

    def _read_bytes(self, backend: Backend, key: str, ignore_cache: bool) -> bytes:
        cache = self._cache_for(backend)
        if cache is not None:
            return cache.read_bytes(backend, key, fresh=ignore_cache)
        return backend.get_bytes(key)

    @contextlib.contextmanager
    def _local_file(
        self, backend: Backend, key: str, ignore_cache: bool, *, buffers: bool = False, mapped: bool = False
    ) -> Iterator[Any]:
        """A local file holding ``key``: the file itself on disk, the cache entry, else a
        temporary download — or, with ``buffers``, an in-memory file for small remote objects
        (one GET, no disk round trip). ``mapped``: a file to memory-map, which a temporary
        download is not (ConfigError without the cache)."""
        local = backend.local_path(key)
        if local is not None:
            if not local.is_file():
                raise NotFound(f"No file {local}.")
            yield local
            return
        cache = self._cache_for(backend)
        if cache is not None:
            # A hard link to the entry: a mapping of it outlives the block (the cache never
            # rewrites an entry's file in place; eviction only unlinks it).
            with cache.local_file(backend, key, fresh=ignore_cache) as path:
                yield path
            return
        if mapped:
            from .cache import cacheable

            fix = (
                "is remote with the download cache off: create the store with cache_enabled=True (the cached "
                "copy is mapped)"
                if cacheable(backend)
                else "lives in memory, never in a file"
            )
            raise ConfigError(f"mmap=True maps a local file, and {backend.uri(key)} {fix}; or drop mmap=True.")
        tmp = self._temp_path(key)
        try:
            if buffers:
                data = backend.fetch(key, tmp, limit=IN_MEMORY_LIMIT)
                if data is not None:
                    yield io.BytesIO(data)
                    return
            else:
                backend.download(key, tmp)
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)

    def _temp_path(self, key: str) -> Path:
        import uuid

        if self._tmp_dir is None:
            with self._lock:
                if self._tmp_dir is None:
                    import tempfile

                    self._tmp_dir = Path(tempfile.mkdtemp(prefix="autostore-"))
                    # Removed when the store is garbage collected or the interpreter exits, even
                    # without close(); never by a forked child (the folder is its parent's).
                    self._tmp_finalizer = weakref.finalize(self, _remove_tmp_dir, str(self._tmp_dir), os.getpid())
        return self._tmp_dir / f"{uuid.uuid4().hex[:12]}-{key.rpartition('/')[2][-100:]}"

    def _read_dataset(
        self,
        backend: Backend,
        prefix: str,
        format: str | None = None,
        *,
        cache: bool = False,
        fresh: bool = False,
        options: dict[str, Any] | None = None,
    ) -> Any:
        from .delta import is_table

        if format in (None, "delta") and is_table(backend, prefix):  # never the plain scan: wrong rows
            from .delta import scan_table

            return scan_table(self, backend, prefix, cache=cache)
        if format == "delta":
            raise NotFound(f"No Delta table at {backend.uri(prefix)} (no _delta_log/ folder).")
        from .datasets import scan_dataset

        if options:
            name = next(iter(options))
            raise ConfigError(
                f"{'mmap=True' if name == 'mmap' else name + '='} applies to single files, not to the folder "
                f"{backend.uri(prefix)} (a folder is scanned lazily by polars); read one file of it instead."
            )

        return scan_dataset(self, backend, prefix, format=format, cache=cache, fresh=fresh)

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
        see :func:`autostore.delta.write_table`.
        """
        backend, full = self._target(key)
        folder_write = full.endswith("/") or full == "" or partition_by is not None
        if folder_write or format == "delta" or on is not None or mode == "merge":
            from .delta import write_wanted

            if write_wanted(backend, full, format, mode, on):
                from .delta import write_table

                folder = full.rstrip("/") + "/" if full.rstrip("/") else ""
                return write_table(self, backend, folder, value, mode=mode, partition_by=partition_by, on=on)
        if full.endswith("/") or full == "" or partition_by is not None:
            from .datasets import write_dataset

            if compression is not None:
                raise ConfigError(f"compression= applies to single files, not to the dataset folder {key!r}.")
            folder = full.rstrip("/") + "/" if full.rstrip("/") else full
            return write_dataset(self, backend, folder, value, format=format, partition_by=partition_by, mode=mode)
        if mode != "overwrite":
            raise ConfigError(f"mode={mode!r} applies to dataset folders only; write {key!r}/ or drop mode=.")
        name = full.rpartition("/")[2]
        explicit = self._handlers.known_extension(name)
        if format is not None:
            ext = "." + format.lower().lstrip(".")
            handler = self._handlers.for_extension(ext, key=key)
            stored = full if explicit else full + ext
        elif explicit is not None:
            ext, stored = explicit, full
            handler = self._handlers.for_extension(ext, key=key)
        else:
            handler = self._handlers.for_value(value, key=key)
            if handler.unsafe and not self.options_for(backend.scheme).pickle_allowed:
                # Only implicit pickling is refused: a .pkl key (or format="pickle") asks for it.
                raise UnsupportedFormat(
                    f"No safe format for a {type(value).__name__} at {backend.uri(full)}: allow_pickle is off, so "
                    f"it is not pickled implicitly. Write it to {key + '.pkl'!r} to pickle it anyway (readable only "
                    "where pickle is allowed), or register a handler for this type."
                )
            ext = handler.extension_for(value)
            stored = full + ext
        if compression is not None:
            from .formats.compression import with_codec

            coded = with_codec(ext, compression)
            if stored != full:  # we chose the extension: the codec's suffix goes with it
                stored = stored[: len(stored) - len(ext)] + coded
            ext, handler = coded, self._handlers.for_extension(coded, key=key)
        self._encode(backend, stored, handler, ext, value)
        if explicit is None:
            self._replace_siblings(backend, full, stored)
        else:
            # "a.txt" may now sit beside "a.json": what "a" meant must be looked up again.
            self._index.added(backend, full[: -len(explicit)], stored)
        return self._display_key(backend, stored)

    def _encode(self, backend: Backend, stored: str, handler: DataHandler, ext: str, value: Any) -> ObjectMeta:
        uri = backend.uri(stored)
        payload = None
        try:
            if handler.supports_bytes:
                payload = handler.write_to_bytes(value, ext)
                meta = backend.put_bytes(stored, payload)
            else:
                meta = backend.write_with(stored, lambda p: handler.write_to_file(value, p, ext), self._tmp())
        except (FormatError, MissingDependency) as exc:
            raise type(exc)(f"Cannot write {uri}: {exc}") from None
        except AutoStoreError:
            raise
        except Exception as exc:
            if isinstance(exc, OSError) or is_os_error(exc):  # a full disk, no permission: not the value
                raise os_error(exc, f"Cannot write {uri}") from exc
            raise FormatError(
                f"Cannot write {type(value).__name__} to {uri} as {ext}: {type(exc).__name__}: {exc}"
            ) from exc
        self._after_write(backend, stored, meta, payload)
        return meta

    def _tmp(self) -> Path:
        return self._temp_path("x").parent

    def _replace_siblings(self, backend: Backend, full: str, stored: str) -> None:
        if self._index.remembered(backend, full) == stored:
            return  # this store wrote or resolved it before: no sibling to tidy, nothing to note
        for other in self._index.candidates(backend, full, trust_absence=True):
            if other != stored:
                log.debug("replacing %s with %s", backend.uri(other), backend.uri(stored))
                with contextlib.suppress(NotFound):
                    backend.delete(other)
                self._after_delete(backend, other)
                self._index.removed(backend, full, other)
        self._index.resolved(backend, full, stored)

    def _after_write(
        self, backend: Backend, stored: str, meta: ObjectMeta | None = None, data: bytes | None = None
    ) -> None:
        """Hook for the cache: a key this store wrote (with its bytes and ETag when known)."""
        cache = self._cache_for(backend)
        if cache is not None:
            cache.stored(backend, stored, data, meta.etag if meta is not None else None)

    def _after_delete(self, backend: Backend, stored: str) -> None:
        """Hook for the cache: a key this store removed."""
        cache = self._cache_for(backend)
        if cache is not None:
            cache.forget(backend, stored)

    # -- download cache -------------------------------------------------------------------------
    def _cache_for(self, backend: Backend) -> DownloadCache | None:
        """The download cache used for ``backend`` (None: caching off, a local store, or no
        usable cache directory)."""
        if not self.options_for(backend.scheme).cache_enabled:
            return None
        from .cache import cacheable

        return self._cache_for_scheme(backend.scheme) if cacheable(backend) else None

    def _cache_for_scheme(self, scheme: str) -> DownloadCache | None:
        if scheme not in self._caches:
            with self._lock:
                if scheme not in self._caches:
                    from .cache import open_cache

                    opts = self.options_for(scheme)
                    self._caches[scheme] = open_cache(opts) if opts.cache_enabled else None
        return self._caches[scheme]

    def _all_caches(self) -> list[DownloadCache]:
        """This store's caches, one per distinct directory (primary scheme first)."""
        schemes = [self._location.scheme, *(s for s in list(self._options) if s != self._location.scheme)]
        found: dict[Path, DownloadCache] = {}
        for scheme in schemes:
            cache = self._cache_for_scheme(scheme)
            if cache is not None:
                found.setdefault(cache.directory, cache)
        return list(found.values())

    def cleanup_cache(self, verify: bool = False) -> int:
        """Remove expired and broken cache entries, leftovers of interrupted downloads, and the
        least recently used entries beyond ``cache_max_size``; ``verify=True`` also re-hashes
        every entry. Returns how many entries were removed."""
        return sum(cache.cleanup(verify=verify) for cache in self._all_caches())

    def clear_cache(self) -> int:
        """Remove every entry of this store's cache directory (shared with any store using it)."""
        return sum(cache.clear() for cache in self._all_caches())

    def cache_info(self) -> CacheInfo:
        """Entries, bytes on disk, and this store's hits and misses (``directory`` is None when
        caching is off)."""
        from .cache import CacheInfo

        caches = self._all_caches()
        if not caches:
            return CacheInfo(directory=None, entries=0, bytes=0, hits=0, misses=0)
        infos = [c.info() for c in caches]
        return CacheInfo(
            directory=infos[0].directory,
            entries=sum(i.entries for i in infos),
            bytes=sum(i.bytes for i in infos),
            hits=sum(i.hits for i in infos),
            misses=sum(i.misses for i in infos),
            max_bytes=infos[0].max_bytes,
        )

    def stats(self, reset: bool = False) -> StoreStats:
        """Requests this store (and every AutoPath on it) sent, by kind, with bytes moved,
        retries, failed requests, cache hits/misses/revalidations and seconds spent waiting on
        the backend; ``reset=True`` starts counting again from zero. See ``autostore.stats()``
        for the whole process."""
        return self._stats.snapshot(reset=reset)

    # -- other dict operations ----------------------------------------------------------------
    def __delitem__(self, key: str) -> None:
        self.delete(key)

    @traced("delete")
    def delete(self, key: str) -> None:
        """Remove the value at ``key`` (NotFound when absent)."""
        backend, full = self._target(key)
        stored = self._resolve(backend, full)
        backend.delete(stored)
        self._after_delete(backend, stored)
        self._forget(backend, full, stored)

    def _forget(self, backend: Backend, full: str, stored: str) -> None:
        self._index.removed(backend, full, stored)

    def _index_views(self, backend: Backend, key: str) -> list[tuple[Backend, str]]:
        """``(backend, key)`` and, for a file inside a local store's root reached through another
        local backend (an AutoPath), the same file as the store's own key index sees it."""
        views = [(backend, key)]
        path = backend.local_path(key)
        root = self._primary.local_path("")
        if path is not None and root is not None and backend is not self._primary and path.is_relative_to(root):
            views.append((self._primary, path.relative_to(root).as_posix()))
        return views

    def _path_wrote(
        self, backend: Backend, key: str, meta: ObjectMeta | None = None, data: bytes | None = None
    ) -> None:
        """An AutoPath wrote the file ``key`` by its full name: the cache keeps or drops its entry,
        and an extensionless key naming it is looked up again (it may be ambiguous now)."""
        self._after_write(backend, key, meta, data)
        for b, k in self._index_views(backend, key):
            ext = self._handlers.known_extension(k.rpartition("/")[2])
            if ext:
                self._index.added(b, k[: -len(ext)], k)

    def _path_deleted(self, backend: Backend, key: str) -> None:
        """An AutoPath removed the file ``key``."""
        self._after_delete(backend, key)
        for b, k in self._index_views(backend, key):
            ext = self._handlers.known_extension(k.rpartition("/")[2])
            self._forget(b, k[: -len(ext)] if ext else k, k)

    @traced("contains")
    def __contains__(self, key: object) -> bool:
        """True when ``store[key]`` has a value to read (it may still fail to decode): a stored
        file, or a folder holding data files (a dataset). One request at most for a key this
        store has seen; remembered resolutions are re-checked."""
        if not isinstance(key, str):
            return False
        backend, full = self._target(key)
        if full.endswith("/") or not full:
            return backend.is_dataset(full)  # what store["folder/"] scans; else it raises NotFound
        for _attempt in range(2):
            try:
                stored = self._resolve(backend, full)
            except NotFound:
                return backend.is_dataset(full + "/")  # store["folder"] reads a folder as a dataset
            except AmbiguousKey:
                return True
            try:
                backend.head(stored)
                return True
            except NotFound:
                if not self._index.forget(backend, full):
                    return False
        return False

    @traced("keys")
    def keys(self) -> list[str]:
        """Every stored key relative to the store, without extensions, sorted (``a/b`` style)."""
        seen: dict[str, None] = {}
        cut = len(self._prefix)
        for meta in self._primary.list_objects(self._prefix):
            rel = meta.key[cut:]
            if not rel or rel.endswith("/"):
                continue
            ext = self._handlers.known_extension(rel.rpartition("/")[2])
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
        return int(getattr(self._base_options, "max_concurrency", 16) or 16)

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

    async def aget(self, key: str) -> Any:
        """``store[key]`` without blocking the event loop."""
        import asyncio

        return await asyncio.to_thread(self.read, key)

    async def aput(self, key: str, value: Any) -> str:
        """``store[key] = value`` without blocking the event loop."""
        import asyncio

        return await asyncio.to_thread(self.write, key, value)

    async def aget_many(self, keys: Iterable[str], *, max_concurrency: int | None = None) -> list[Any]:
        """Async ``get_many``."""
        import asyncio

        names = list(keys)
        return await asyncio.to_thread(self.get_many, names, max_concurrency=max_concurrency)

    async def aput_many(
        self, items: Mapping[str, Any] | Iterable[tuple[str, Any]], *, max_concurrency: int | None = None
    ) -> list[str]:
        """Async ``put_many``."""
        import asyncio

        pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
        return await asyncio.to_thread(self.put_many, pairs, max_concurrency=max_concurrency)

    def list_files(self, pattern: str = "*", recursive: bool = True) -> Iterator[str]:
        """Stored file names (with extensions, relative to the store) matching a glob ``pattern``,
        in listing order.

        ``?`` and ``[ab]``/``[!ab]`` match one character inside a name; ``*`` matches inside one
        folder, or across folders when ``recursive`` is true (0.1.x behaviour); ``**`` always spans
        folders (``**/`` also matches no folder). Only the folder before the first wildcard is
        listed on the server, page by page.
        """
        literal = _literal_prefix(pattern)
        folder = literal.rpartition("/")[0]
        if folder:
            validate_key(folder, uri=self.uri)  # no "..", absolute paths or "//" in the listed folder
        search = self._prefix + (folder + "/" if folder else "")
        cut = len(self._prefix)
        regex = _glob_regex(pattern, recursive)
        for meta in self._primary.list_objects(search):
            rel = meta.key[cut:]
            if rel and not rel.endswith("/") and regex.match(rel):
                yield rel

    @traced("get_metadata")
    def get_metadata(self, key: str) -> ObjectMeta:
        """Size, ETag and modification time of the value at ``key``."""
        backend, full = self._target(key)
        stored = self._resolve(backend, full)
        return backend.head(stored)

    @traced("copy")
    def copy(self, src: str, dst: str) -> str:
        """Copy the value at ``src`` to ``dst`` (any backends; server-side when they are the same).
        ``dst`` without an extension gets the source's. Returns the stored destination key."""
        return self._transfer(src, dst, move=False)

    @traced("move")
    def move(self, src: str, dst: str) -> str:
        """Move the value at ``src`` to ``dst``; the source is removed only after the copy."""
        return self._transfer(src, dst, move=True)

    def _transfer(self, src: str, dst: str, *, move: bool) -> str:
        sb, sfull = self._target(src)
        stored_src = self._resolve(sb, sfull)
        db, dfull = self._target(dst)
        if not dfull or dfull.endswith("/"):
            example = dst.rstrip("/") + "/" + sfull.rpartition("/")[2]
            raise InvalidKey(f"Destination {dst!r} names a folder; give the full key, e.g. {example!r}.")
        ext = self._handlers.known_extension(stored_src.rpartition("/")[2]) or ""
        explicit = self._handlers.known_extension(dfull.rpartition("/")[2])
        stored_dst = dfull if explicit else dfull + ext
        if sb is db and stored_src == stored_dst:
            # Onto itself: nothing to do, but only for a value that exists (what `src` resolved to
            # before may have been removed by another writer).
            try:
                sb.head(stored_src)
            except NotFound:
                self._index.forget(sb, sfull)
                raise NotFound(f"Key {src!r} not found at {sb.uri(stored_src)}; check store.keys().") from None
        else:
            from .transfer import transfer_object

            # Shared with AutoPath and the CLI: reads the source fresh (never a stale cache
            # entry) and deletes a moved source only if it is still what was copied.
            transfer_object(self, sb, stored_src, self, db, stored_dst, move=move)
            if explicit is None:
                self._replace_siblings(db, dfull, stored_dst)
            if move:
                self._forget(sb, sfull, stored_src)
        return self._display_key(db, stored_dst)

    # -- introspection ------------------------------------------------------------------------
    @property
    def uri(self) -> str:
        """The store's root as a URI (a path for local stores)."""
        return self._primary.uri(self._prefix)

    @property
    def options(self) -> Options:
        """Options of the store's own backend."""
        return self._base_options

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
        out = [f"primary: {self.uri}"]
        for (scheme, _bucket), backend in list(self._backends.items()):
            if backend is not self._primary:
                out.append(f"{scheme}: {backend.uri('')}")
        return out

    # -- lifetime -----------------------------------------------------------------------------
    def close(self) -> None:
        """Release clients and remove temporary files. The store can be used again after."""
        with self._lock:
            for backend in self._backends.values():
                backend.close()
            if self._tmp_finalizer is not None:
                self._tmp_finalizer()  # removes the folder (once; a later GC does nothing)
                self._tmp_finalizer = None
            self._tmp_dir = None

    # -- versions and Delta tables ----------------------------------------------------------------
    def versions(self, key: str) -> list[ObjectVersion]:
        """Every version of the object at ``key``, newest first (delete markers included), with
        ``version_id``, ``modified_time``, ``size``, ``etag``, ``is_latest``, ``is_delete_marker``.
        Extensionless keys resolve as reads do (also a key deleted since). S3-compatible stores;
        a bucket without versioning lists the current object only (``version_id`` None); other
        backends raise UnsupportedOperation. See :mod:`autostore.versions`."""
        from .versions import list_versions

        return list_versions(self, key)

    def restore(self, key: str, version: str | int) -> str | int | None:
        """Make an old version current again: for an object, a server-side copy of ``version``
        onto ``key`` (the versions in between stay) - returns the new version id; for a Delta
        table folder, one RESTORE commit - returns the new table version."""
        from .versions import restore_version

        return restore_version(self, key, version)

    def history(self, key: str) -> list[TableVersion]:
        """The versions (commits) of the Delta table in the folder ``key``, newest first: version,
        timestamp, operation, rows added/updated/removed where the log has them."""
        from .delta import table_history

        backend, full = self._target(key)
        return table_history(self, backend, full.rstrip("/") + "/" if full.rstrip("/") else "")

    def __enter__(self) -> AutoStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AutoStore({self.uri!r}, options={self._base_options!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Clients, locks and temp dirs are per process: pickle how the store was made instead.
        uri, option_list, kwargs = self._init_args
        return (_rebuild_store, (uri, option_list, kwargs, list(self._custom_handlers)))

    # -- memoize ------------------------------------------------------------------------------
    def memoize(
        self,
        func: Callable[..., Any] | None = None,
        /,
        *,
        prefix: str = "",
        version: str | int | None = None,
        ignore: Iterable[str] = (),
        track: Iterable[str] = (),
        name: str | None = None,
        lock_timeout: float = 600.0,
    ) -> Any:
        """Decorator: keep ``func``'s results in this store, at
        ``<prefix><module>.<qualname>/<digest>.<ext>`` in their natural format, keyed by the code
        (or ``version=``, which then decides alone) and the arguments (minus ``ignore=``;
        AutoPath arguments and ``track=`` store keys by their ETag). Exceptions are never cached.
        ``@store.memoize`` or ``@store.memoize(prefix="features/", version="2", ignore=["verbose"])``;
        ``async def`` functions get an awaitable wrapper. See :mod:`autostore.memoize`."""
        from .memoize import memoize

        options = {"prefix": prefix, "version": version, "ignore": ignore, "track": track, "name": name}
        return memoize(self, func, **options, lock_timeout=lock_timeout)


def _remove_tmp_dir(path: str, pid: int) -> None:
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)


def _rebuild_store(
    uri: str, option_list: list[Options], kwargs: dict[str, Any], handlers: list[DataHandler]
) -> AutoStore:
    store = AutoStore(uri, options=option_list or None, **kwargs)
    for handler in handlers:
        store.register_handler(handler)
    return store


def _read_error(exc: Exception, uri: str, ext: str) -> Exception:
    """What a handler's unexpected exception means: the file vanished (NotFound), the system
    failed (an OSError of the same kind, naming the URI), or the bytes are not ``ext``."""
    if isinstance(exc, OSError) or is_os_error(exc):
        error = os_error(exc, f"Cannot read {uri}")
        if isinstance(error, FileNotFoundError):
            return NotFound(f"{uri} disappeared while it was being read (removed by another writer?); read it again.")
        return error
    return CorruptData(f"Cannot decode {uri} as {ext}: {type(exc).__name__}: {exc}")
