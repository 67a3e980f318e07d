"""Values ↔ stored bytes for one store: which format handler reads or writes a key, decoding
(from the bytes, the local file, the cache entry or a temporary download) and encoding (bytes or
a file written by the handler, then the "written" notice).

Part of the store's internal interface (:class:`autostore.core.StoreCore` inherits
:class:`Codec`); see :mod:`autostore.core` for who may use it. Handlers know formats only; this
module knows where the bytes of a key come from and go to.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends.base import Backend, ObjectMeta
from .errors import (
    AutoStoreError,
    ConfigError,
    CorruptData,
    FormatError,
    MissingDependency,
    NotFound,
    UnsafeLoad,
    UnsupportedFormat,
)
from .formats.base import (
    DataHandler,
    check_read_options,
    is_os_error,
    os_error,
    reading_with,
    refuse_unsafe,
    unsafe_loads,
)

if TYPE_CHECKING:
    from .cache import DownloadCache
    from .formats.base import HandlerRegistry
    from .options import Options

__all__ = ["IN_MEMORY_LIMIT", "Codec"]

#: Remote objects up to this size are read into memory instead of a temporary file.
IN_MEMORY_LIMIT = 64 * 1024 * 1024


class Codec:
    """Decode and encode the values of one store (a base of StoreCore)."""

    handlers: HandlerRegistry  # set by StoreCore.__init__

    if TYPE_CHECKING:  # provided by StoreCore

        def options_for(self, scheme: str) -> Options: ...

        def cache_for(self, backend: Backend) -> DownloadCache | None: ...

        def temp_path(self, key: str) -> Path: ...

        def tmp(self) -> Path: ...

        def after_write(
            self, backend: Backend, stored: str, meta: ObjectMeta | None = None, data: bytes | None = None
        ) -> None: ...

    # -- reading ------------------------------------------------------------------------------
    def handler_for_read(
        self, stored: str, format: str | None, compression: str | None = None
    ) -> tuple[DataHandler | None, str]:
        """The handler and extension to decode ``stored`` with; (None, ext) for a file whose
        name has no known extension, read by its content instead (0.1.x wrote such files)."""
        if format is not None:
            ext = "." + format.lower().lstrip(".")
        else:
            name = stored.rpartition("/")[2]
            known = self.handlers.known_extension(name)
            if known is None and compression is None:
                return None, ("." + name.rpartition(".")[2] if "." in name[1:] else "")
            ext = known or ("." + name.rpartition(".")[2] if "." in name[1:] else "")
        if compression is not None:
            from .formats.compression import with_codec

            ext = with_codec(ext, compression)
        return self.handlers.for_extension(ext, key=stored), ext

    def decode(
        self,
        backend: Backend,
        stored: str,
        handler: DataHandler | None,
        ext: str,
        *,
        ignore_cache: bool,
        options: dict[str, Any] | None = None,
    ) -> Any:
        """The value in the stored file ``stored`` (``handler`` None: chosen by its content)."""
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
                    with self.local_file(backend, stored, ignore_cache) as source:
                        handler, ext = self._sniffed(stored, ext, source, allowed)
                        check_read_options(self.handlers, handler, ext, options or {}, uri=backend.uri(stored))
                        if handler.supports_bytes:
                            return handler.read_from_bytes(source.read_bytes(), ext)
                        return handler.read_from_file(source, ext)
                if handler.supports_bytes and not mapped:
                    return handler.read_from_bytes(self.read_bytes(backend, stored, ignore_cache), ext)
                buffers = handler.reads_buffers and not mapped
                with self.local_file(backend, stored, ignore_cache, buffers=buffers, mapped=mapped) as source:
                    return handler.read_from_file(source, ext)
        except Exception as exc:
            raise decode_failure(exc, backend.uri(stored), ext)  # noqa: B904 - it sets the cause

    def _sniffed(self, stored: str, ext: str, source: Path, allowed: bool) -> tuple[DataHandler, str]:
        """The handler for a file without a known extension, chosen by its content."""
        from .formats.sniff import sniff

        found = sniff(source)
        if found is None:
            if ext:  # "blob.xyz": say which extension no handler knows
                self.handlers.for_extension(ext, key=stored)
            raise UnsupportedFormat(
                f"The file has no extension and its content is no format autostore recognises (parquet, npy, "
                f"npz, torch, pickle, image, JSON, UTF-8 text); read it with format=..., e.g. "
                f"store.read({stored.rpartition('/')[2]!r}, format='csv')."
            )
        handler = self.handlers.for_extension(found, key=stored)
        if handler.unsafe and not allowed:
            raise refuse_unsafe("It has no extension and its content is a pickle")
        return handler, found

    def read_bytes(self, backend: Backend, key: str, ignore_cache: bool) -> bytes:
        """The bytes of ``key``, through the download cache when it is on."""
        cache = self.cache_for(backend)
        if cache is not None:
            return cache.read_bytes(backend, key, fresh=ignore_cache)
        return backend.get_bytes(key)

    @contextlib.contextmanager
    def local_file(
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
        cache = self.cache_for(backend)
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
        tmp: Path | None = None

        def spill() -> Path:  # made only for an object too large to hold in memory
            nonlocal tmp
            tmp = self.temp_path(key)
            return tmp

        try:
            if buffers:
                data = backend.fetch(key, spill, limit=IN_MEMORY_LIMIT)
                if data is not None:
                    yield io.BytesIO(data)
                    return
            else:
                backend.download(key, spill())
            assert tmp is not None
            yield tmp
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    # -- writing ------------------------------------------------------------------------------
    def handler_for_write(
        self, backend: Backend, full: str, key: str, value: Any, format: str | None, compression: str | None
    ) -> tuple[DataHandler, str, str, str | None]:
        """``(handler, ext, stored key, extension named in full or None)`` for writing ``value``
        at ``full`` (``key`` as the user gave it, for messages)."""
        name = full.rpartition("/")[2]
        explicit = self.handlers.known_extension(name)
        if format is not None:
            ext = "." + format.lower().lstrip(".")
            handler = self.handlers.for_extension(ext, key=key)
            stored = full if explicit else full + ext
        elif explicit is not None:
            ext, stored = explicit, full
            handler = self.handlers.for_extension(ext, key=key)
        else:
            handler = self.handlers.for_value(value, key=key)
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
            ext, handler = coded, self.handlers.for_extension(coded, key=key)
        return handler, ext, stored, explicit

    def encode(self, backend: Backend, stored: str, handler: DataHandler, ext: str, value: Any) -> ObjectMeta:
        """Write ``value`` to ``stored`` with ``handler``; the cache hears of it."""
        uri = backend.uri(stored)
        payload = None
        try:
            if handler.supports_bytes:
                payload = handler.write_to_bytes(value, ext)
                meta = backend.put_bytes(stored, payload)
            else:
                meta = backend.write_with(stored, lambda p: handler.write_to_file(value, p, ext), self.tmp())
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
        self.after_write(backend, stored, meta, payload)
        return meta


def decode_failure(exc: Exception, uri: str, ext: str) -> Exception:
    """The error to raise when decoding ``uri`` as ``ext`` raised ``exc``: the handler's own
    errors with the URI added, autostore's errors as they are, anything else via
    :func:`read_error`. The returned error carries its cause already: ``raise`` it as it is."""
    if isinstance(exc, (FormatError, MissingDependency)):  # raised by the handler: add the URI
        error: Exception = type(exc)(f"Cannot read {uri}{f' as {ext}' if ext else ''}: {exc}")
        error.__cause__, error.__suppress_context__ = None, True
        return error
    if isinstance(exc, (AutoStoreError, MemoryError)):
        return exc
    error = read_error(exc, uri, ext)
    error.__cause__, error.__suppress_context__ = exc, True
    return error


def read_error(exc: Exception, uri: str, ext: str) -> Exception:
    """What a handler's unexpected exception means: the file vanished (NotFound), the system
    failed (an OSError of the same kind, naming the URI), or the bytes are not ``ext``."""
    if isinstance(exc, OSError) or is_os_error(exc):
        error = os_error(exc, f"Cannot read {uri}")
        if isinstance(error, FileNotFoundError):
            return NotFound(f"{uri} disappeared while it was being read (removed by another writer?); read it again.")
        return error
    return CorruptData(f"Cannot decode {uri} as {ext}: {type(exc).__name__}: {exc}")
