"""The obstore transport: one bucket of S3 (and compatibles), memory, GCS, Azure or (read-only)
HTTP, spoken to through obstore (Rust object_store). It makes the requests and counts them
(``store.stats()``); clients come from :mod:`.builders`, errors are mapped by :mod:`.errormap`,
retries follow :mod:`.retry`.

It is used through :class:`~autostore.backends.objectstore.ObjectStoreBackend`, which routes to
another transport in a process where obstore must not run (see :mod:`.forksafe`). obstore is
imported lazily, on the first request, so ``import autostore`` stays light.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from time import perf_counter
from typing import IO, Any

from ..errors import AutoStoreError, BackendError, ConfigError
from ..metrics import COPY, DELETE, GET, HEAD, MP_PART, PUT, RANGE
from ..options import Options
from . import forksafe, ranged
from .base import ObjectMeta, ProgressCallback
from .builders import has_builder, obstore_module, shared_client
from .errormap import PreconditionFailed, is_credential_failure
from .obstore_io import CountingWriter, object_meta, progress_reader
from .obstore_listing import ObstoreListing

__all__ = ["ObstoreTransport"]

STREAM_CHUNK = 8 * 1024 * 1024
"""Default chunk size of :meth:`ObstoreTransport.read_stream`."""

# Each part of a streamed upload in flight is a chunk in memory; cap their total so uploading a
# file or stream of any size keeps memory bounded (max_concurrency is lowered to fit).
_STREAM_MEMORY = 64 * 1024 * 1024
# Keys per LIST page (the services' defaults; object_store asks for no other size).
_PAGE_SIZE = {"az": 5000}
_READ_ONLY_KINDS = frozenset({"http"})


class ObstoreTransport(ObstoreListing):
    """One bucket of an object store, spoken to through obstore (in a process where obstore may
    run: :class:`~autostore.backends.objectstore.ObjectStoreBackend` routes to it)."""

    def __init__(self, scheme: str, kind: str, bucket: str, options: Options) -> None:
        if not has_builder(kind):
            raise ConfigError(f"No object-store support for {scheme}:// (backend kind {kind!r}).")
        if options.scheme != scheme:  # builders read the scheme (http vs https) from the options
            options = options._evolve(options._given, scheme=scheme)
        self.scheme = scheme
        self.kind = kind
        self.bucket = bucket
        self.options = options
        # Requests go through a client that makes one attempt per call: autostore retries them
        # itself (same backoff), so that every attempt is counted (store.stats()). Multipart
        # uploads keep obstore's own retries per part (see _retrying_store).
        self._single_options = dataclasses.replace(options, max_retries=0)
        self._store: Any = None
        self._multipart_store: Any = None
        self._secrets: list[str] = []
        self._lock = threading.Lock()
        self.identity = f"{kind}|{bucket}"
        self._threshold = getattr(options, "multipart_threshold", 64 * 1024 * 1024)
        self._chunk = getattr(options, "multipart_chunksize", 16 * 1024 * 1024)
        self._concurrency = getattr(options, "max_concurrency", 10)

    @property
    def _stream_concurrency(self) -> int:
        return max(1, min(self._concurrency, _STREAM_MEMORY // self._chunk))

    # -- client ---------------------------------------------------------------------------
    @property
    def store(self) -> Any:
        """The obstore store for single requests, built on first use (one per backend, shared by
        threads). It makes one attempt per call; :meth:`_call` retries."""
        store = self._store
        if store is None:
            store = self._store = self._client(self._single_options)
        return store

    @property
    def _retrying_store(self) -> Any:
        """The obstore store for multipart uploads, whose parts obstore retries itself."""
        store = self._multipart_store
        if store is None:
            store = self._multipart_store = self._client(self.options)
        return store

    def check_usable(self) -> None:
        """BackendError in a process where obstore must not run for this kind (see forksafe)."""
        if forksafe.obstore_unsafe() and self.kind not in forksafe.FORK_SAFE_KINDS:
            raise BackendError(
                f"{self.uri('')} cannot use obstore in this process: it was forked after obstore was used, "
                "and obstore would hang. Use the store's methods (they switch transport), or start workers "
                "with multiprocessing's 'spawn' or 'forkserver' method."
            )

    def _client(self, options: Options) -> Any:
        self.check_usable()
        with self._lock:
            obstore_module()
            try:
                store, identity, secrets = shared_client(self.kind, self.bucket, options)
            except AutoStoreError:
                raise
            except Exception as exc:  # obstore rejects the configuration (bad key file, ...)
                if is_credential_failure(exc, "obstore"):
                    raise self._translate(exc, "", "connect to") from None
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ConfigError(
                    f"Cannot configure {self.scheme}://{self.bucket}/: {first[:300]}; check the options "
                    f"({type(self.options).__name__}) and the environment."
                ) from None
            self.identity, self._secrets = identity, secrets
        return store

    def settled_identity(self) -> str:
        self.store  # noqa: B018 - building the client completes the identity (no request)
        return self.identity

    def _writable(self, key: str) -> None:
        if self.kind in _READ_ONLY_KINDS:
            raise BackendError(
                f"{self.uri(key)} is read-only: autostore reads {self.scheme}:// URLs but cannot write or "
                "delete them; write to a local path or an object store (s3://, gs://, az://) instead."
            )

    # -- reads ----------------------------------------------------------------------------
    def head(self, key: str) -> ObjectMeta:
        ob = obstore_module()
        store = self.store
        return object_meta(self._call(HEAD, key, "read", lambda: ob.head(store, key)))

    def get_bytes(self, key: str) -> bytes:
        ob = obstore_module()
        store = self.store
        return self._call(GET, key, "read", lambda: bytes(ob.get(store, key).bytes()), down=len)

    def get_with_meta(self, key: str) -> tuple[bytes, ObjectMeta]:
        """The object and its metadata from one request."""
        ob = obstore_module()
        store = self.store

        def call() -> tuple[bytes, ObjectMeta]:
            result = ob.get(store, key)
            return bytes(result.bytes()), object_meta(result.meta)

        return self._call(GET, key, "read", call, down=lambda r: len(r[0]))

    def get_range(self, key: str, start: int, end: int) -> bytes:
        ob = obstore_module()
        if end <= start:
            return b""
        store = self.store
        return self._call(RANGE, key, "read", lambda: bytes(ob.get_range(store, key, start=start, end=end)), down=len)

    def _first_part(self, key: str, action: str, if_none_match: str | None) -> tuple[ObjectMeta, Any] | None:
        """The object's metadata and its bytes from one GET: all of them for an object up to
        :data:`ranged.PART`, else the first part (the rest of that response is not read; ranged
        GETs fetch it in parallel). None when its ETag is ``if_none_match`` (304)."""
        ob = obstore_module()
        from obstore.exceptions import NotModifiedError

        store = self.store
        options: dict[str, Any] | None = {"if_none_match": if_none_match} if if_none_match else None

        def call() -> tuple[ObjectMeta, Any] | None:
            try:
                result = ob.get(store, key, options=options)
            except NotModifiedError:
                return None
            meta = object_meta(result.meta)
            if meta.size <= ranged.PART:
                return meta, result.bytes()
            return meta, next(iter(result.stream(min_chunk_size=ranged.PART)))

        return self._call(GET, key, action, call, down=lambda r: 0 if r is None else len(r[1]))

    def _range_fetcher(self, key: str, etag: str | None, *, timed: bool = True) -> ranged.Fetch:
        """Fetch bytes [start, end) of ``key``, pinned to ``etag`` so that an object replaced
        meanwhile fails (412) instead of mixing two versions in one file."""
        ob = obstore_module()
        store = self.store
        pinned: dict[str, Any] = {"if_match": etag} if etag else {}

        def fetch(start: int, end: int) -> Any:
            def call() -> Any:
                return ob.get(store, key, options={**pinned, "range": (start, end)}).bytes()

            try:
                return self._call(RANGE, key, "read", call, down=len, timed=timed)
            except PreconditionFailed:
                raise BackendError(
                    f"{self.uri(key)} changed while it was being read (its ETag is no longer {etag}); read it again."
                ) from None

        return fetch

    @property
    def _download_concurrency(self) -> int:
        # Each part in flight is held in memory once: bounded like uploads (_STREAM_MEMORY).
        return max(1, min(self._concurrency, _STREAM_MEMORY // ranged.PART // 2))

    def download(
        self,
        key: str,
        dest: Path,
        *,
        if_none_match: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectMeta | None:
        first = self._first_part(key, "download", if_none_match)
        if first is None:
            return None
        meta, head = first
        fetch = self._range_fetcher(key, meta.etag, timed=False)
        workers = self._download_concurrency
        ranged.download_into(dest, meta.size, head, fetch, workers, self.stats, progress, self.uri(key))
        return meta

    def fetch(self, key: str, dest: Callable[[], Path], *, limit: int) -> bytes | None:
        first = self._first_part(key, "read", None)
        assert first is not None
        meta, head = first
        fetch = self._range_fetcher(key, meta.etag, timed=False)
        workers, uri = self._download_concurrency, self.uri(key)
        if meta.size <= limit:
            return ranged.fetch_bytes(meta.size, head, fetch, workers, self.stats, uri)
        ranged.download_into(dest(), meta.size, head, fetch, workers, self.stats, None, uri)
        return None

    # -- writes ---------------------------------------------------------------------------
    def _multipart(self, key: str, action: str, size: int, chunk: int, call: Callable[[Any], Any]) -> Any:
        """Run a multipart upload (obstore retries its parts) and count its requests: start,
        ceil(size / chunk) parts, complete. A failed one counts as one failed part (which of its
        requests obstore sent is not known)."""
        store = self._retrying_store
        stats = self.stats
        start = perf_counter()
        try:
            with self.errors(key, action):
                result = call(store)
        except BaseException:
            stats.failure(MP_PART, perf_counter() - start, retried=False)
            raise
        stats.multipart(max(1, -(-size // chunk)), size, perf_counter() - start)
        return result

    def put_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        self._writable(key)
        ob = obstore_module()
        size = len(data)
        if size > self._threshold:
            chunk, concurrency = self._chunk, self._concurrency
            result = self._multipart(
                key,
                "write",
                size,
                chunk,
                lambda store: ob.put(
                    store, key, data, use_multipart=True, chunk_size=chunk, max_concurrency=concurrency
                ),
            )
        else:
            store = self.store
            result = self._call(PUT, key, "write", lambda: ob.put(store, key, data, use_multipart=False), up=size)
        return ObjectMeta(key=key, size=size, etag=result.get("e_tag"))

    def create_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        # One request, never multipart: a conditional create cannot span parts. A retried create
        # whose first attempt did land reports AlreadyExists; callers read what is there then.
        self._writable(key)
        ob = obstore_module()
        with self.errors(key, "create"):
            result = ob.put(self.store, key, data, mode="create", use_multipart=False)
        return ObjectMeta(key=key, size=len(data), etag=result.get("e_tag"))

    def upload(self, key: str, src: Path, *, progress: ProgressCallback | None = None) -> ObjectMeta:
        self._writable(key)
        ob = obstore_module()
        size = os.path.getsize(src)
        if size <= self._threshold:
            with open(src, "rb") as f:
                data = f.read()
            store = self.store
            result = self._call(PUT, key, "upload", lambda: ob.put(store, key, data, use_multipart=False), up=size)
        else:
            chunk, concurrency = self._chunk, self._stream_concurrency
            # obstore reads the file itself (no Python copy of each part); with a progress
            # callback, through a reader that reports the bytes obstore takes.
            source: Any = Path(src) if progress is None else progress_reader(src, size, progress)
            try:
                result = self._multipart(
                    key,
                    "upload",
                    size,
                    chunk,
                    lambda store: ob.put(
                        store, key, source, use_multipart=True, chunk_size=chunk, max_concurrency=concurrency
                    ),
                )
            finally:
                if progress is not None:
                    source.close()
        if progress is not None:
            progress(size, size)
        return ObjectMeta(key=key, size=size, etag=result.get("e_tag"))

    def delete(self, key: str) -> None:
        self._writable(key)
        ob = obstore_module()
        self.head(key)  # S3 deletes of missing keys succeed silently; pathlib raises.
        store = self.store
        self._call(DELETE, key, "delete", lambda: ob.delete(store, key))

    def delete_many(self, keys: list[str]) -> None:
        self._writable(keys[0] if keys else "")
        ob = obstore_module()
        store = self.store
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            self._call(DELETE, batch[0] if batch else "", "delete", functools.partial(ob.delete, store, batch))

    def copy(self, src: str, dst: str) -> None:
        self._writable(src)
        ob = obstore_module()
        store = self.store
        self._call(COPY, src, "copy", lambda: ob.copy(store, src, dst))

    # -- streams --------------------------------------------------------------------------
    def open_read(self, key: str) -> IO[bytes]:
        meta = self.head(key)
        reader: Any = ranged.RangeReader(self._range_fetcher(key, meta.etag), meta.size, self.uri(key))
        return reader  # type: ignore[no-any-return]

    def read_stream(self, key: str, chunk_size: int = STREAM_CHUNK) -> tuple[ObjectMeta, Iterator[bytes]]:
        ob = obstore_module()
        store = self.store
        result = self._call(GET, key, "read", lambda: ob.get(store, key))
        with self.errors(key, "read"):
            stream = iter(result.stream(min_chunk_size=chunk_size))
        meta = object_meta(result.meta)

        def chunks() -> Iterator[bytes]:
            done = 0
            while True:
                with self.errors(key, "read"):
                    chunk = next(stream, None)
                if chunk is None:
                    break
                done += len(chunk)
                self.stats.requests(GET, 0, down=len(chunk))  # the body's bytes, as they arrive
                yield bytes(chunk)
            if done != meta.size:
                raise BackendError(f"Read of {self.uri(key)} was cut short ({done} of {meta.size} bytes); retry.")

        return meta, chunks()

    def open_write(self, key: str) -> IO[bytes]:
        self._writable(key)
        ob = obstore_module()
        with self.errors(key, "open"):
            writer: Any = ob.open_writer(
                self._retrying_store, key, buffer_size=self._chunk, max_concurrency=self._stream_concurrency
            )
        counting: Any = CountingWriter(writer, self, self._chunk)
        return counting  # type: ignore[no-any-return]

    def close(self) -> None:
        self._store = None
        self._multipart_store = None
