"""Object versions on the S3 API, below the public functions of :mod:`autostore.versions`: the
boto3 transport that lists them (the backend's own in a forked child), listing entries (paged, in
the server's order of versions and delete markers) and ``VersionView``, one version of the objects
of a backend as a read-only ``Backend`` that obstore (or boto3 in a forked child) reads."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from .backends import forksafe
from .backends.base import Backend, ObjectMeta, ProgressCallback, stream_into
from .errors import (
    BackendError,
    NotFound,
    UnsupportedOperation,
)
from .formats.base import require

if TYPE_CHECKING:
    from .backends.boto3_transport import Boto3Backend
    from .backends.objectstore import ObjectStoreBackend

__all__ = [
    "LISTING_KINDS",
    "READING_KINDS",
    "WHERE_VERSIONS_LIVE",
    "ObjectVersion",
    "VersionEntry",
    "VersionView",
    "boto_transport",
    "list_entries",
]

#: Backend kinds that list versions, read them by moment and restore them (S3 API).
LISTING_KINDS = ("s3",)
#: Backend kinds whose service reads a given version id (through obstore).
READING_KINDS = ("s3", "az", "gs")
_PAGE = 1000  # versions per listing request (S3's maximum)
_MAX_PAGES = 1_000_000  # listing pages of one key's versions: a bound, never reached
_CHUNK = 8 * 1024 * 1024
_ORDER = "AutostoreOrder"
WHERE_VERSIONS_LIVE = (
    "Object versions are kept by S3 and S3-compatible services with bucket versioning on (list, read, "
    "as_of, restore) and read by id on Azure (blob versioning) and GCS (object versioning); for data "
    "that time-travels on any backend, write a Delta table: store.write('folder/', df, format='delta')."
)


@dataclass(frozen=True)
class ObjectVersion:
    """One version of a stored object, or a delete marker (``store.versions(key)``, newest first).

    ``version_id`` is None for the version an unversioned bucket keeps (S3's "null" version).
    ``size`` and ``etag`` are None for delete markers. ``modified_time`` is the server's clock
    (1 s resolution on AWS S3 and SeaweedFS)."""

    key: str
    version_id: str | None
    modified_time: datetime | None
    size: int | None
    etag: str | None
    is_latest: bool
    is_delete_marker: bool

    def as_dict(self) -> dict[str, Any]:
        """Plain values (``modified_time`` as ISO 8601 text), e.g. for JSON."""
        out = dataclasses.asdict(self)
        out["modified_time"] = self.modified_time.isoformat() if self.modified_time else None
        return out


# -- boto3 for listing and copying --------------------------------------------------------------
_TRANSPORTS: weakref.WeakKeyDictionary[Backend, tuple[int, Boto3Backend]] = weakref.WeakKeyDictionary()
_TRANSPORTS_LOCK = threading.Lock()


def boto_transport(backend: ObjectStoreBackend) -> Boto3Backend:
    """A boto3 transport with the backend's options (the backend's own in a forked child)."""
    if forksafe.obstore_unsafe():
        return cast("Boto3Backend", backend._fork_transport())
    require("boto3", "s3", f"Listing and restoring versions of {backend.uri('')}")
    pid = os.getpid()
    with _TRANSPORTS_LOCK:
        found = _TRANSPORTS.get(backend)
        if found is None or found[0] != pid:
            from .backends.boto3_transport import Boto3Backend

            found = _TRANSPORTS[backend] = (pid, Boto3Backend(backend.scheme, backend.bucket, backend.options))
    return found[1]


def _client(transport: Boto3Backend) -> Any:
    client = transport.client
    # botocore ignores a second registration with the same unique_id.
    client.meta.events.register(
        "after-call.s3.ListObjectVersions", _record_order, unique_id="autostore-list-versions-order"
    )
    return client


def _record_order(http_response: Any = None, parsed: Any = None, **_: Any) -> None:
    """Keep the server's order of <Version> and <DeleteMarker> entries, which boto3 parses into two
    separate lists: timestamps (1 s resolution) cannot order a delete and a write in one second."""
    if not isinstance(parsed, dict) or http_response is None:
        return
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(http_response.content)
    except Exception:  # not XML (an error page): boto3 reports it
        return
    order = []
    for element in root:
        tag = element.tag.rpartition("}")[2]
        if tag in ("Version", "DeleteMarker"):
            order.append((element.findtext("{*}Key"), element.findtext("{*}VersionId"), tag == "DeleteMarker"))
    parsed[_ORDER] = order


# Listing entries are ObjectVersions whose key is the full key in the bucket.
VersionEntry = ObjectVersion


def _entries(response: dict[str, Any]) -> list[VersionEntry]:
    found: dict[tuple[str, str | None, bool], VersionEntry] = {}
    for marker, items in ((False, response.get("Versions") or []), (True, response.get("DeleteMarkers") or [])):
        for item in items:
            raw_id = item.get("VersionId")
            modified = item.get("LastModified")
            entry = VersionEntry(
                key=item["Key"],
                version_id=None if raw_id in (None, "", "null") else str(raw_id),
                modified_time=modified.astimezone(UTC) if isinstance(modified, datetime) else None,
                size=None if marker else int(item.get("Size", 0)),
                etag=None if marker else item.get("ETag"),
                is_latest=bool(item.get("IsLatest")),
                is_delete_marker=marker,
            )
            found[(entry.key, raw_id, marker)] = entry
    order = response.get(_ORDER)
    if order is not None and len(order) == len(found):
        return [found[(key, vid, marker)] for key, vid, marker in order if (key, vid, marker) in found]
    # Without the server's order: by key, then newest first (the latest of a tie first).
    return sorted(found.values(), key=lambda e: (e.key, -(e.modified_time or _EPOCH).timestamp(), not e.is_latest))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def list_entries(backend: ObjectStoreBackend, prefix: str, *, folder_only: bool = False) -> list[VersionEntry]:
    """Every version and delete marker whose key starts with ``prefix``, newest first per key
    (``folder_only``: not below sub-folders of the prefix's folder)."""
    transport = boto_transport(backend)
    client = _client(transport)
    kwargs: dict[str, Any] = {"Bucket": backend.bucket, "Prefix": prefix, "MaxKeys": _PAGE}
    if folder_only:
        kwargs["Delimiter"] = "/"
    out: list[VersionEntry] = []
    for _page in range(_MAX_PAGES):
        with transport._errors(prefix, "list versions of"):
            response = client.list_object_versions(**kwargs)
        out.extend(_entries(response))
        if not response.get("IsTruncated"):
            return out
        kwargs["KeyMarker"] = response.get("NextKeyMarker") or ""
        kwargs["VersionIdMarker"] = response.get("NextVersionIdMarker") or ""
        if not kwargs["KeyMarker"]:
            break
    raise BackendError(f"Listing the versions of {backend.uri(prefix)} did not end (a server paging bug?); retry.")


# -- one version as a read-only backend -----------------------------------------------------------
class _Body:
    """A version's metadata and a way to read its body (from obstore or boto3)."""

    def __init__(self, meta: ObjectMeta, read: Callable[[], bytes], chunks: Callable[[], Iterator[bytes]]) -> None:
        self.meta = meta
        self.read = read
        self.chunks = chunks


class VersionView(Backend):
    """One version of the objects of an object-store backend, as a read-only Backend, so the
    store's decoding and the download cache read it like any object. Its ``identity`` names the
    version: the cache keeps it apart from the current object, and since a version never changes
    a cached copy is always current (``download(if_none_match=...)`` answers "unchanged" without
    asking the server)."""

    def __init__(self, backend: ObjectStoreBackend, version_id: str) -> None:
        self.scheme = backend.scheme
        self.bucket = backend.bucket
        self.base = backend
        self.version_id = version_id
        if forksafe.obstore_unsafe():
            base_identity = backend._fork_transport().identity
        else:
            backend.store  # noqa: B018 - building the client (no request) completes the identity
            base_identity = backend.identity
        self.identity = f"{base_identity}|version={version_id}"

    def uri(self, key: str) -> str:
        return f"{self.base.uri(key)} (version {self.version_id})"

    def _missing(self, key: str) -> NotFound:
        return NotFound(
            f"No version {self.version_id!r} of {self.base.uri(key)}: unknown id, a delete marker, or no such "
            "object; store.versions(key) lists the versions."
        )

    def _check(self, key: str, got: str | None) -> None:
        if got == self.version_id or (self.version_id == "null" and got is None):
            return
        raise UnsupportedOperation(
            f"Asked {self.base.uri(key)} for version {self.version_id!r}, the service answered with "
            f"{'the current object' if got is None else 'version ' + repr(got)}: versioning is off or not supported "
            f"there. {WHERE_VERSIONS_LIVE}"
        )

    @contextlib.contextmanager
    def _guard(self, key: str, action: str) -> Iterator[None]:
        try:
            with self._transport_errors(key, action):
                yield
        except NotFound:
            raise self._missing(key) from None
        except BackendError as exc:
            if "InvalidArgument" in str(exc):  # AWS: a malformed version id
                raise self._missing(key) from None
            raise

    def _transport_errors(self, key: str, action: str) -> contextlib.AbstractContextManager[None]:
        if forksafe.obstore_unsafe():
            return boto_transport(self.base)._errors(key, action)
        return self.base._errors(key, action)

    def _open(self, key: str, action: str, *, head: bool = False, byte_range: tuple[int, int] | None = None) -> _Body:
        if forksafe.obstore_unsafe():
            return self._open_boto(key, action, head=head, byte_range=byte_range)
        import obstore

        options: dict[str, Any] = {"version": self.version_id}
        if head:
            options["head"] = True
        if byte_range is not None:
            options["range"] = byte_range
        with self._guard(key, action):
            result = obstore.get(self.base.store, key, options=cast(Any, options))
        m = result.meta
        self._check(key, m.get("version"))
        meta = ObjectMeta(key=key, size=int(m["size"]), etag=m.get("e_tag"), modified_time=m.get("last_modified"))

        def read() -> bytes:
            with self._guard(key, action):
                return bytes(result.bytes())

        def chunks() -> Iterator[bytes]:
            with self._guard(key, action):
                return iter(result.stream(min_chunk_size=_CHUNK))

        return _Body(meta, read, chunks)

    def _open_boto(self, key: str, action: str, *, head: bool, byte_range: tuple[int, int] | None) -> _Body:
        client = boto_transport(self.base).client
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "VersionId": self.version_id}
        with self._guard(key, action):
            if head:
                r = client.head_object(**kwargs)
            else:
                if byte_range is not None:
                    kwargs["Range"] = f"bytes={byte_range[0]}-{byte_range[1] - 1}"
                r = client.get_object(**kwargs)
        self._check(key, r.get("VersionId"))
        meta = ObjectMeta(
            key=key, size=int(r["ContentLength"]), etag=r.get("ETag"), modified_time=r.get("LastModified")
        )

        def read() -> bytes:
            with self._guard(key, action):
                return r["Body"].read()  # type: ignore[no-any-return]

        def chunks() -> Iterator[bytes]:
            return iter(r["Body"].iter_chunks(chunk_size=1024 * 1024))

        return _Body(meta, read, chunks)

    def _whole(self, body: _Body, key: str) -> bytes:
        data = body.read()
        if len(data) != body.meta.size:
            raise BackendError(f"Read of {self.uri(key)} was cut short ({len(data)} of {body.meta.size} bytes); retry.")
        return data

    # -- reads ----------------------------------------------------------------------------
    def head(self, key: str) -> ObjectMeta:
        return self._open(key, "read", head=True).meta

    def get_bytes(self, key: str) -> bytes:
        return self._whole(self._open(key, "read"), key)

    def get_range(self, key: str, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        return self._open(key, "read", byte_range=(start, end)).read()

    def download(
        self,
        key: str,
        dest: Path,
        *,
        if_none_match: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectMeta | None:
        if if_none_match is not None:
            return None  # a version never changes: whatever copy the caller holds is current
        body = self._open(key, "download")
        stream_into(dest, body.chunks(), body.meta.size, self.uri(key), lambda: self._guard(key, "download"), progress)
        return body.meta

    def fetch(self, key: str, dest: Callable[[], Path], *, limit: int) -> bytes | None:
        body = self._open(key, "read")
        if body.meta.size <= limit:
            return self._whole(body, key)
        stream_into(dest(), body.chunks(), body.meta.size, self.uri(key), lambda: self._guard(key, "download"), None)
        return None

    # -- a version is read-only -------------------------------------------------------------
    def _read_only(self, key: str) -> UnsupportedOperation:
        return UnsupportedOperation(
            f"{self.uri(key)} is an old version and cannot be changed; write the key itself, or make this "
            "version current again with store.restore(key, version=...)."
        )

    def put_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        raise self._read_only(key)

    def upload(self, key: str, src: Path, *, progress: ProgressCallback | None = None) -> ObjectMeta:
        raise self._read_only(key)

    def delete(self, key: str) -> None:
        raise self._read_only(key)

    def copy(self, src: str, dst: str) -> None:
        raise self._read_only(src)

    def open_write(self, key: str) -> IO[bytes]:
        raise self._read_only(key)

    def open_read(self, key: str) -> IO[bytes]:
        raise UnsupportedOperation(
            f"Streaming reads of {self.uri(key)} are not supported; read it whole with read_bytes(version=...) "
            "or load(version=...)."
        )

    def list_objects(self, prefix: str = "") -> Iterator[ObjectMeta]:
        raise UnsupportedOperation(f"A version of one object has no folder to list ({self.uri(prefix)}).")

    def list_dir(self, prefix: str = "") -> tuple[list[ObjectMeta], list[str]]:
        raise UnsupportedOperation(f"A version of one object has no folder to list ({self.uri(prefix)}).")

    def list_stem(self, stem: str) -> list[str]:
        raise UnsupportedOperation(f"A version of one object has no folder to list ({self.uri(stem)}).")
