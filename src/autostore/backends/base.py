"""The Backend interface: a small transport that moves bytes; all policy lives in the store.

Keys given to a backend are full keys inside its bucket (or below its local root), already
validated by :func:`autostore.uri.validate_key`. Folder prefixes end with "/".
"""

from __future__ import annotations

import contextlib
import io
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import BackendError
from ..metrics import PROCESS, Recorder

__all__ = ["TABULAR_EXTENSIONS", "Backend", "ObjectMeta", "ProgressCallback", "is_hidden"]

ProgressCallback = Callable[[int, int], None]
"""Called as ``callback(done_bytes, total_bytes)`` during long transfers."""

#: Extensions of the files a dataset folder is made of (what polars can scan in place; it
#: decompresses gzip and zstd CSV / JSON Lines itself, not bz2 or xz).
TABULAR_EXTENSIONS = (
    ".parquet",
    ".pq",
    ".csv",
    ".tsv",
    ".jsonl",
    ".ndjson",
    ".arrow",
    ".feather",
    ".ipc",
    *(ext + codec for ext in (".csv", ".tsv", ".jsonl", ".ndjson") for codec in (".gz", ".zst")),
)


def is_hidden(relative_key: str) -> bool:
    """True for files that dataset readers skip, as polars, pyarrow and Spark do: any segment
    starting with "." or "_" (``_SUCCESS``, ``.DS_Store``, ``_delta_log/``)."""
    return any(part[:1] in (".", "_") for part in relative_key.split("/"))


@dataclass(frozen=True)
class ObjectMeta:
    """Metadata of one stored object or file."""

    key: str
    size: int
    etag: str | None = None
    modified_time: datetime | None = None

    # pathlib.stat()-style aliases
    @property
    def st_size(self) -> int:
        return self.size

    @property
    def st_mtime(self) -> float:
        return self.modified_time.timestamp() if self.modified_time else 0.0

    @property
    def last_modified(self) -> datetime | None:
        return self.modified_time


def stream_into(
    dest: Path,
    chunks: Iterator[bytes],
    size: int,
    uri: str,
    guard: Callable[[], AbstractContextManager[None]],
    progress: ProgressCallback | None = None,
) -> None:
    """Write ``chunks`` of an object of ``size`` bytes into ``dest``. Pulling a chunk runs under
    ``guard`` (the transport's error mapping); a full local disk stays an OSError about the local
    file. A body shorter than ``size`` is an error, never a silently short file."""
    done = 0
    with open(dest, "wb") as f:
        while True:
            with guard():
                chunk = next(chunks, None)
            if chunk is None:
                break
            f.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, size)
    if done != size:
        raise BackendError(f"Download of {uri} was cut short ({done} of {size} bytes); retry.")
    if progress is not None and size == 0:
        progress(0, 0)


class PublishOnClose:
    """For writers that publish on ``close()``: a ``with`` block that fails, or a writer dropped
    without ``close()``, calls ``abort()`` instead, so nothing half-written is published. Put it
    before the ``io`` base class (whose ``__exit__`` and ``__del__`` would close, i.e. publish)."""

    if TYPE_CHECKING:  # provided by the writer (close: by the io base class or the writer)

        def abort(self) -> None: ...
        def close(self) -> None: ...

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        self.abort()


class TempFileWriter(PublishOnClose, io.RawIOBase):
    """A binary file written under a temporary path and published by ``_commit(path)`` on
    ``close()``. ``abort()``, an exception leaving its ``with`` block, or being dropped without
    ``close()`` discards it: nothing half-written is ever published, and the temp file goes."""

    _done = True  # until the temp file is open: a writer whose __init__ failed has nothing to discard

    def __init__(self, tmp_path: str, file: IO[bytes] | None = None) -> None:
        self._tmp = tmp_path
        # ``file``: the temp file already opened by the caller (e.g. with a chosen mode).
        self._file: IO[bytes] = file if file is not None else open(tmp_path, "wb")  # noqa: SIM115
        self._done = False

    def _commit(self, tmp_path: str) -> None:
        raise NotImplementedError

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self._file.write(data)

    def flush(self) -> None:
        if not self._done:
            self._file.flush()

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._file.close()
            self._commit(self._tmp)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            super().close()

    def abort(self) -> None:
        if not self._done:
            self._done = True
            self._file.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            super().close()


class Backend(ABC):
    """One bucket (or local root) of one storage service."""

    #: scheme used in URIs this backend returns ("file", "s3", "minio", ...)
    scheme: str
    #: bucket name, or "/" for the local filesystem root
    bucket: str
    #: stable text naming the service + bucket (used to name cache entries; no secrets)
    identity: str
    #: where the requests this backend sends are counted (its store's, set by the store)
    stats: Recorder = PROCESS

    # -- reads ----------------------------------------------------------------------------
    @abstractmethod
    def head(self, key: str) -> ObjectMeta:
        """Metadata of ``key``; NotFound if absent."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The whole object."""

    @abstractmethod
    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the object (shorter at the end of the object)."""

    @abstractmethod
    def download(
        self,
        key: str,
        dest: Path,
        *,
        if_none_match: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectMeta | None:
        """Stream ``key`` into the file ``dest`` (created or truncated). Returns the object's
        metadata, or None without touching ``dest`` when its ETag equals ``if_none_match``."""

    def fetch(self, key: str, dest: Callable[[], Path], *, limit: int) -> bytes | None:
        """The object's bytes when it is at most ``limit`` bytes, else None after writing it
        into the file ``dest()`` names (called only then: a small read makes no temporary
        folder); on object stores one GET for an object up to 8 MiB, larger ones in parallel
        ranged GETs."""
        self.download(key, dest())
        return None

    # -- writes ---------------------------------------------------------------------------
    @abstractmethod
    def put_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        """Store ``data`` atomically (readers see the old or the new object, never a mix)."""

    @abstractmethod
    def upload(self, key: str, src: Path, *, progress: ProgressCallback | None = None) -> ObjectMeta:
        """Stream the local file ``src`` to ``key`` atomically."""

    def create_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        """Store ``data`` at ``key`` only if nothing is there (create-if-absent, atomic: of N racing
        creators exactly one wins); AlreadyExists when ``key`` exists."""
        raise BackendError(f"{self.uri(key)}: this backend cannot create objects only if absent.")

    def write_with(self, key: str, write: Callable[[Path], None], tmp_dir: Path) -> ObjectMeta:
        """Let ``write`` create a file (named like ``key``), then store it atomically as ``key``."""
        tmp = tmp_dir / f"{uuid.uuid4().hex[:12]}-{key.rpartition('/')[2][-100:]}"
        try:
            write(tmp)
            return self.upload(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; NotFound if absent."""

    def delete_many(self, keys: list[str]) -> None:
        for key in keys:
            self.delete(key)

    @abstractmethod
    def copy(self, src: str, dst: str) -> None:
        """Server-side copy inside this backend."""

    # -- listing --------------------------------------------------------------------------
    @abstractmethod
    def list_objects(self, prefix: str = "") -> Iterator[ObjectMeta]:
        """Every object below the folder ``prefix`` ("" or ending with "/"), recursively."""

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """The keys :meth:`list_objects` gives, without their metadata (cheaper where the
        listing arrives as raw entries)."""
        for meta in self.list_objects(prefix):
            yield meta.key

    @abstractmethod
    def list_dir(self, prefix: str = "") -> tuple[list[ObjectMeta], list[str]]:
        """Immediate files and sub-folder prefixes (ending with "/") of folder ``prefix``."""

    @abstractmethod
    def list_stem(self, stem: str) -> list[str]:
        """Keys in the folder of ``stem`` whose name starts with ``name(stem) + "."``."""

    def is_dir(self, prefix: str) -> bool:
        """True when any object lives below ``prefix`` (a folder)."""
        prefix = prefix if prefix.endswith("/") or not prefix else prefix + "/"
        return next(iter(self.list_objects(prefix)), None) is not None

    def is_directory(self, key: str) -> bool:
        """True when ``key`` (with or without a trailing "/") is a folder: a local directory, or a
        prefix that some object lives below."""
        body = key.rstrip("/")
        return self.is_dir(body + "/" if body else "")

    def is_dataset(self, key: str) -> bool:
        """True when the folder ``key`` holds at least one tabular data file (parquet, csv, tsv,
        jsonl, Arrow IPC; csv/tsv/jsonl also gzip or zstd compressed) that is not hidden, i.e.
        ``store["key/"]`` has something to scan."""
        body = key.rstrip("/")
        prefix = body + "/" if body else ""
        for meta in self.list_objects(prefix):
            rel = meta.key[len(prefix) :]
            if rel.lower().endswith(TABULAR_EXTENSIONS) and not is_hidden(rel):
                return True
        return False

    def make_dir(self, prefix: str) -> None:  # noqa: B027 - object stores have no folders
        """Create the folder ``prefix`` and its parents. Object stores have no folders (a folder
        is implied by the keys below it), so by default this creates nothing."""

    def remove_dir(self, prefix: str, *, recursive: bool = False) -> None:
        """Remove the empty folder ``prefix``, or with ``recursive`` everything below it."""
        if recursive:
            keys = [m.key for m in self.list_objects(prefix)]
            if keys:
                self.delete_many(keys)

    # -- streams --------------------------------------------------------------------------
    @abstractmethod
    def open_read(self, key: str) -> IO[bytes]:
        """A readable, seekable binary stream that does not load the whole object."""

    @abstractmethod
    def open_write(self, key: str) -> IO[bytes]:
        """A writable binary stream; the object appears atomically on ``close()``."""

    def read_stream(self, key: str, chunk_size: int = 8 * 1024 * 1024) -> tuple[ObjectMeta, Iterator[bytes]]:
        """The object's metadata and its bytes in chunks, both of one version of it (object
        stores: one GET, so the ETag is that of the bytes streamed). By default: ``head`` then
        ``open_read``, which backends override when the two could see different versions."""
        meta = self.head(key)
        reader = self.open_read(key)

        def chunks() -> Iterator[bytes]:
            try:
                while data := reader.read(chunk_size):
                    yield data
            finally:
                reader.close()

        return meta, chunks()

    def local_path(self, key: str) -> Path | None:
        """The file holding ``key`` if it is on local disk (handlers can read it in place)."""
        return None

    def uri(self, key: str) -> str:
        """Full URI of ``key``."""
        return f"{self.scheme}://{self.bucket}/{key}"

    def storage_options(self, engine: str = "polars") -> dict[str, Any]:
        """Options that let another engine read this backend's URIs: ``"polars"`` (object_store
        keys) or ``"fsspec"`` (s3fs keys, for Dask and PyArrow). Empty for local files."""
        return {}

    def settled_identity(self) -> str:
        """``identity`` once everything that names the service is known (an object-store client
        learns its endpoint when it is built; no request is sent). Cache entries are named by it,
        so it must work in every process, a forked child included."""
        return self.identity

    def polars_scan(self) -> tuple[dict[str, Any], Any]:
        """(storage_options, credential_provider) for polars to scan this backend's URIs in place
        (see :func:`autostore.backends.engines.polars_scan`); ``({}, None)`` for local files."""
        return {}, None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and connections."""
