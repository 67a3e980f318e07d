"""The object-store backend: one bucket of S3 (and compatibles), memory, GCS, Azure or (read-only)
HTTP, as the store sees it. It owns no requests: every call goes to this process's *transport*.

Fork routing lives here and only here. obstore must not run in a child forked after obstore was
used (see :mod:`.forksafe`). So the backend holds ``transport``: the obstore transport
(:class:`~.obstore_transport.ObstoreTransport`), or in such a child the kind's fork transport
(boto3 for S3, :class:`~.boto3_transport.Boto3Backend`), built in the child on first use. The
:attr:`ObjectStoreBackend.transport` accessor checks whether the process changed with one integer
comparison (the pid :mod:`.forksafe` renews at fork, no system call) and swaps the transport
then; each method is a plain delegation, as httpx's client hands requests to its transport.

The names other modules import from here (client builders, S3 settings, retry bounds) are
re-exported from the modules that own them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import BackendError
from ..metrics import Recorder
from ..options import Options
from . import forksafe
from .base import Backend, ObjectMeta, ProgressCallback
from .builders import StoreBuilder, azure_config, refuse_unoverridable_env, register_builder
from .obstore_transport import STREAM_CHUNK, ObstoreTransport
from .retry import backoff_bounds, worst_case_seconds
from .s3conn import StaticCredentials, s3_settings

__all__ = [
    "ObjectStoreBackend",
    "StaticCredentials",
    "StoreBuilder",
    "azure_config",
    "backoff_bounds",
    "refuse_unoverridable_env",
    "register_builder",
    "register_fork_transport",
    "s3_settings",
    "worst_case_seconds",
]

ForkTransport = Callable[[str, str, Options], Backend]
"""(scheme, bucket, options) -> a Backend that works without obstore (see forksafe)."""

_FORK_TRANSPORTS: dict[str, ForkTransport] = {}


def register_fork_transport(kind: str, factory: ForkTransport) -> None:
    """Say how ``kind`` is reached in a child forked after obstore was used."""
    _FORK_TRANSPORTS[kind] = factory


def _boto3_transport(scheme: str, bucket: str, options: Options) -> Backend:
    from .boto3_transport import Boto3Backend

    return Boto3Backend(scheme, bucket, options)


register_fork_transport("s3", _boto3_transport)


class ObjectStoreBackend(Backend):
    """One bucket of an object store; requests go to :attr:`transport`."""

    def __init__(self, scheme: str, kind: str, bucket: str, options: Options) -> None:
        self._obstore = ObstoreTransport(scheme, kind, bucket, options)
        self.scheme, self.kind, self.bucket = scheme, kind, bucket
        self.options = self._obstore.options
        self._transport: Backend = self._obstore
        self._pid = -1  # the process _transport was chosen in; none yet

    # -- routing --------------------------------------------------------------------------------
    @property
    def transport(self) -> Backend:
        """The transport for this process (chosen again when the process forked)."""
        if self._pid != forksafe.pid:
            return self._route()
        return self._transport

    def _route(self) -> Backend:
        pid = forksafe.pid
        transport: Backend = self._obstore
        if forksafe.obstore_unsafe() and self.kind not in forksafe.FORK_SAFE_KINDS:
            factory = _FORK_TRANSPORTS.get(self.kind)
            if factory is None:
                raise BackendError(
                    f"{self.uri('')} cannot be used in a process forked after obstore was used ({self.kind} has "
                    "no fork-safe transport); start workers with multiprocessing's 'spawn' or 'forkserver' method."
                )
            # Built here, without a lock: one inherited from the parent may be held by a thread
            # that does not exist in this process. A grandchild builds its own.
            transport = factory(self.scheme, self.bucket, self.options)
            transport.stats = self._obstore.stats  # the child's requests count on the same store
        self._transport, self._pid = transport, pid
        return transport

    def _fork_transport(self) -> Backend:
        """This process's transport when obstore must not run here (see :attr:`transport`)."""
        return self.transport

    @property  # type: ignore[override]
    def stats(self) -> Recorder:
        """Where requests are counted (shared by every transport of this backend)."""
        return self._obstore.stats

    @stats.setter
    def stats(self, recorder: Recorder) -> None:
        self._obstore.stats = recorder
        self._transport.stats = recorder

    @property
    def identity(self) -> str:
        """The service and bucket, as the current transport names them."""
        return self.transport.identity

    @identity.setter
    def identity(self, value: str) -> None:
        self.transport.identity = value

    def settled_identity(self) -> str:
        return self.transport.settled_identity()

    # -- obstore only (object versions read through it) -----------------------------------------
    @property
    def store(self) -> Any:
        """This process's obstore store for single requests (never in a forked child)."""
        self._obstore.check_usable()
        return self._obstore.store

    def _errors(self, key: str, action: str, *, idempotent: bool = False) -> contextlib.AbstractContextManager[None]:
        """Map obstore's exceptions onto ours (for callers that use :attr:`store` directly)."""
        return self._obstore.errors(key, action, idempotent=idempotent)

    def _delete_markers(self, keys: list[str]) -> None:
        """Delete folder-marker keys (ending with "/"), which obstore cannot address."""
        self._obstore.delete_markers(keys)

    # -- delegation -----------------------------------------------------------------------------
    def head(self, key: str) -> ObjectMeta:
        return self.transport.head(key)

    def get_bytes(self, key: str) -> bytes:
        return self.transport.get_bytes(key)

    def get_with_meta(self, key: str) -> tuple[bytes, ObjectMeta]:
        """The object and its metadata from one request."""
        return self.transport.get_with_meta(key)  # type: ignore[attr-defined,no-any-return]

    def get_range(self, key: str, start: int, end: int) -> bytes:
        return self.transport.get_range(key, start, end)

    def download(
        self, key: str, dest: Path, *, if_none_match: str | None = None, progress: ProgressCallback | None = None
    ) -> ObjectMeta | None:
        return self.transport.download(key, dest, if_none_match=if_none_match, progress=progress)

    def fetch(self, key: str, dest: Callable[[], Path], *, limit: int) -> bytes | None:
        return self.transport.fetch(key, dest, limit=limit)

    def put_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        return self.transport.put_bytes(key, data)

    def create_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        return self.transport.create_bytes(key, data)

    def upload(self, key: str, src: Path, *, progress: ProgressCallback | None = None) -> ObjectMeta:
        return self.transport.upload(key, src, progress=progress)

    def delete(self, key: str) -> None:
        self.transport.delete(key)

    def delete_many(self, keys: list[str]) -> None:
        self.transport.delete_many(keys)

    def copy(self, src: str, dst: str) -> None:
        self.transport.copy(src, dst)

    def list_objects(self, prefix: str = "") -> Iterator[ObjectMeta]:
        return self.transport.list_objects(prefix)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        return self.transport.list_keys(prefix)

    def list_dir(self, prefix: str = "") -> tuple[list[ObjectMeta], list[str]]:
        return self.transport.list_dir(prefix)

    def list_stem(self, stem: str) -> list[str]:
        return self.transport.list_stem(stem)

    def is_dir(self, prefix: str) -> bool:
        return self.transport.is_dir(prefix)

    def remove_dir(self, prefix: str, *, recursive: bool = False) -> None:
        self.transport.remove_dir(prefix, recursive=recursive)

    def open_read(self, key: str) -> IO[bytes]:
        return self.transport.open_read(key)

    def read_stream(self, key: str, chunk_size: int = STREAM_CHUNK) -> tuple[ObjectMeta, Iterator[bytes]]:
        return self.transport.read_stream(key, chunk_size)

    def open_write(self, key: str) -> IO[bytes]:
        return self.transport.open_write(key)

    def storage_options(self, engine: str = "polars") -> dict[str, Any]:
        from .engines import engine_options

        return engine_options(self.options, self.kind, engine, self.bucket)

    def polars_scan(self) -> tuple[dict[str, Any], Any]:
        if self.kind != "s3":
            return self.storage_options("polars"), None  # raises: only S3 is scanned in place
        from .engines import polars_scan

        return polars_scan(self.options)

    def close(self) -> None:
        self.transport.close()
