"""Object versions: list the versions of a key, read one as it was (by version id or by moment),
and make an old one current again.

S3 and S3-compatible services keep every version of an object when bucket versioning is on.
Listing versions and restoring one (a server-side copy) go through boto3, which is part of the
``s3`` extra (obstore has no call for either); reading a version goes through obstore
(``get(..., options={"version": id})``), or through boto3 in a process forked after obstore was
used. A version never changes, so the download cache keeps a version read under its own entry
(the version id is part of the entry's identity) and never asks the server about it again.
Azure and GCS: a known version id is read through obstore (the service must keep versions);
listing, ``as_of`` and restoring are S3-only. Local disk and ``memory://`` keep no versions: every
call raises :class:`~autostore.errors.UnsupportedOperation`.

Delta tables (folders with a ``_delta_log/``) have versions of their own; the calls here hand
folder keys to :mod:`autostore.delta`.
"""

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
    AmbiguousKey,
    AutoStoreError,
    BackendError,
    ConfigError,
    InvalidKey,
    NotFound,
    UnsupportedOperation,
)
from .formats.base import require

if TYPE_CHECKING:
    from .backends.boto3_transport import Boto3Backend
    from .backends.objectstore import ObjectStoreBackend
    from .store import AutoStore

__all__ = ["ObjectVersion", "Pinned", "list_versions", "parse_moment", "pin", "restore_version"]

#: Backend kinds that list versions, read them by moment and restore them (S3 API).
LISTING_KINDS = ("s3",)
#: Backend kinds whose service reads a given version id (through obstore).
READING_KINDS = ("s3", "az", "gs")
_MAX_COPY = 5 * 1024**3  # largest single-request CopyObject; bigger objects are copied in parts
_PAGE = 1000  # versions per listing request (S3's maximum)
_MAX_PAGES = 1_000_000  # listing pages of one key's versions: a bound, never reached
_CHUNK = 8 * 1024 * 1024
_ORDER = "AutostoreOrder"
_WHERE_VERSIONS_LIVE = (
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


# -- moments ------------------------------------------------------------------------------------
def parse_moment(value: datetime | str, name: str = "as_of") -> datetime:
    """``value`` as an aware UTC datetime. ISO 8601 text is accepted (``2026-01-31T12:00``);
    a naive time is local time, as ``datetime.timestamp()`` reads it. A moment in the future is
    a ConfigError: nothing is known about it yet."""
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConfigError(
                f"{name}={value!r} is not a date and time; write it as ISO 8601, e.g. '2026-01-31T12:00' "
                "(local time) or '2026-01-31T12:00:00+00:00'."
            ) from None
    elif isinstance(value, datetime):
        when = value
    else:
        raise ConfigError(f"{name} must be a datetime or ISO 8601 text, not {type(value).__name__}.")
    if when.tzinfo is None:
        when = when.astimezone()  # naive: local time
    when = when.astimezone(UTC)
    now = datetime.now(UTC)
    if when > now:
        raise ConfigError(
            f"{name}={when.isoformat()} is in the future (now {now.isoformat(timespec='seconds')}); give a past "
            f"moment, or leave {name} out to read the current version."
        )
    return when


# -- which backends keep versions ------------------------------------------------------------------
def _where(backend: Backend) -> str:
    kind = getattr(backend, "kind", None)
    if kind is None:
        return "local disk"
    if kind == "memory":
        return "memory://"
    return f"{backend.scheme}:// ({kind} backend)"


def _versioned(backend: Backend, action: str, uri: str, *, listing: bool) -> ObjectStoreBackend:
    """``backend`` as the object-store backend that can ``action``; UnsupportedOperation naming the
    backends that keep versions otherwise."""
    kind = getattr(backend, "kind", None)
    if kind in LISTING_KINDS or (not listing and kind in READING_KINDS):
        return cast("ObjectStoreBackend", backend)
    if kind in READING_KINDS:
        raise UnsupportedOperation(
            f"Cannot {action} {uri}: autostore lists versions (and reads by as_of, restores) on S3-compatible "
            f"services only; on {_where(backend)} read a version whose id you know with version=ID."
        )
    raise UnsupportedOperation(f"Cannot {action} {uri}: {_where(backend)} keeps no versions. {_WHERE_VERSIONS_LIVE}")


# -- boto3 for listing and copying --------------------------------------------------------------
_TRANSPORTS: weakref.WeakKeyDictionary[Backend, tuple[int, Boto3Backend]] = weakref.WeakKeyDictionary()
_TRANSPORTS_LOCK = threading.Lock()


def _boto(backend: ObjectStoreBackend) -> Boto3Backend:
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
_Entry = ObjectVersion


def _entries(response: dict[str, Any]) -> list[_Entry]:
    found: dict[tuple[str, str | None, bool], _Entry] = {}
    for marker, items in ((False, response.get("Versions") or []), (True, response.get("DeleteMarkers") or [])):
        for item in items:
            raw_id = item.get("VersionId")
            modified = item.get("LastModified")
            entry = _Entry(
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


def _list_entries(backend: ObjectStoreBackend, prefix: str, *, folder_only: bool = False) -> list[_Entry]:
    """Every version and delete marker whose key starts with ``prefix``, newest first per key
    (``folder_only``: not below sub-folders of the prefix's folder)."""
    transport = _boto(backend)
    client = _client(transport)
    kwargs: dict[str, Any] = {"Bucket": backend.bucket, "Prefix": prefix, "MaxKeys": _PAGE}
    if folder_only:
        kwargs["Delimiter"] = "/"
    out: list[_Entry] = []
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


def _bucket_versioning(backend: ObjectStoreBackend) -> str | None:
    """ "Enabled", "Suspended", or None (never enabled); None as well when it cannot be read."""
    transport = _boto(backend)
    try:
        with transport._errors("", "read the versioning status of"):
            status = transport.client.get_bucket_versioning(Bucket=backend.bucket).get("Status")
    except AutoStoreError:
        return None
    return str(status) if status else None


# -- finding the stored key ------------------------------------------------------------------------
def _locate(store: AutoStore, backend: ObjectStoreBackend, full: str) -> tuple[str, list[_Entry] | None]:
    """The stored key ``full`` names, as reads resolve it: the current ``full.<ext>`` file, else,
    for a key deleted since, the one ``full.<ext>`` that has versions. Returns the listing when
    one was made (it holds the key's versions)."""
    try:
        return store._resolve(backend, full), None
    except NotFound:
        pass
    entries = _list_entries(backend, full, folder_only=True)
    known = store._handlers.known_extension
    found: set[str] = set()
    for e in entries:
        if e.key == full:
            found.add(e.key)
        elif e.key.startswith(full + ".") and "/" not in e.key[len(full) :]:
            ext = known(e.key.rpartition("/")[2])
            if ext and e.key[: -len(ext)] == full:
                found.add(e.key)
    name = full.rpartition("/")[2]
    if not found:
        raise NotFound(
            f"No versions of {backend.uri(full)} (nor {name}.<ext>): the key never existed there or its versions "
            "were removed; check store.keys()."
        )
    if len(found) > 1:
        candidates = sorted(found)
        raise AmbiguousKey(
            f"Key {full!r} is ambiguous in {backend.uri('')}: {', '.join(candidates)} all have versions; "
            "name one with its extension.",
            candidates,
        )
    return found.pop(), entries


def _object_key(store: AutoStore, key: str, action: str) -> tuple[Backend, str]:
    backend, full = store._target(key)
    if not full or full.endswith("/"):
        raise InvalidKey(
            f"Cannot {action} {key!r}: it names a folder. Objects have versions; a Delta table folder has "
            "table versions: store.history(key) lists them and store.read(key, version=N) reads one."
        )
    return backend, full


def _is_table(store: AutoStore, backend: Backend, folder: str) -> bool:
    from .delta import is_table

    return is_table(backend, folder)


# -- listing --------------------------------------------------------------------------------------
def list_versions(store: AutoStore, key: str) -> list[ObjectVersion]:
    """Every version of ``key`` (and its delete markers), newest first; see ``AutoStore.versions``."""
    backend, full = _object_key(store, key, "list versions of")
    ob = _versioned(backend, "list versions of", backend.uri(full), listing=True)
    stored, entries = _locate(store, ob, full)
    if entries is None:
        entries = _list_entries(ob, stored)
    shown = store._display_key(ob, stored)
    mine = [dataclasses.replace(e, key=shown) for e in entries if e.key == stored]
    if not mine:
        raise NotFound(f"No object and no versions at {ob.uri(stored)}; check the key (store.keys()).")
    return mine


def _at(moment: datetime, versions: list[_Entry], backend: ObjectStoreBackend, stored: str) -> _Entry:
    """The version that was current at ``moment`` (``versions`` newest first)."""
    uri = backend.uri(stored)
    when = moment.isoformat()
    for e in versions:
        if e.modified_time is not None and e.modified_time <= moment:
            if e.is_delete_marker:
                raise NotFound(
                    f"{uri} did not exist at {when}: it had been deleted at {e.modified_time.isoformat()} "
                    f"(delete marker {e.version_id}); pick another moment from store.versions(key)."
                )
            return e
    oldest = versions[-1] if versions else None
    if oldest is not None and oldest.version_id is None:
        status = _bucket_versioning(backend)
        state = "is off" if status is None else f"was off when it was written (now {status})"
        raise UnsupportedOperation(
            f"Cannot read {uri} as of {when}: versioning of bucket {backend.bucket!r} {state}, so only the "
            f"version written at {oldest.modified_time.isoformat() if oldest.modified_time else '?'} is kept. "
            "Turn bucket versioning on (put_bucket_versioning) to keep every version from now on."
        )
    first = "it has no versions"
    if oldest is not None and oldest.modified_time is not None:
        first = f"its first version was written at {oldest.modified_time.isoformat()}"
    raise NotFound(f"{uri} did not exist at {when}: {first}.")


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
            f"there. {_WHERE_VERSIONS_LIVE}"
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
            return _boto(self.base)._errors(key, action)
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
        client = _boto(self.base).client
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

    def fetch(self, key: str, dest: Path, *, limit: int) -> bytes | None:
        body = self._open(key, "read")
        if body.meta.size <= limit:
            return self._whole(body, key)
        stream_into(dest, body.chunks(), body.meta.size, self.uri(key), lambda: self._guard(key, "download"), None)
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


# -- pinning a key to one version -------------------------------------------------------------------
@dataclass(frozen=True)
class Pinned:
    """A key pinned to one version: an object version (``reader`` reads it), the current object of
    an unversioned bucket, or a version of a Delta table (``table``)."""

    store: AutoStore
    backend: Backend
    key: str  # the stored key, or the table's folder
    reader: Backend  # a VersionView, or the backend itself for the current object
    table: bool = False
    table_version: int | None = None
    moment: datetime | None = None
    cache: bool = False

    @property
    def uri(self) -> str:
        return self.reader.uri(self.key)

    def read(self, format: str | None = None, *, ignore_cache: bool = False) -> Any:
        """The decoded value (a LazyFrame of the table version for tables)."""
        if self.table:
            from .delta import scan_table

            return scan_table(
                self.store, self.backend, self.key, version=self.table_version, moment=self.moment, cache=self.cache
            )
        handler, ext = self.store._handler_for_read(self.key, format)
        return self.store._decode(self.reader, self.key, handler, ext, ignore_cache=ignore_cache)

    def read_bytes(self, *, ignore_cache: bool = False) -> bytes:
        """The stored bytes of this version."""
        if self.table:
            raise InvalidKey(
                f"{self.backend.uri(self.key)} is a Delta table (a folder): it has no bytes; read it with "
                "store.read(key, version=N)."
            )
        return self.store._read_bytes(self.reader, self.key, ignore_cache)


def pin(
    store: AutoStore,
    key: str,
    *,
    version: str | int | None = None,
    as_of: datetime | str | None = None,
    dataset: bool | None = None,
    cache: bool = False,
) -> Pinned:
    """Resolve ``key`` to the version ``version`` names or that was current at ``as_of``."""
    if version is not None and as_of is not None:
        raise ConfigError("Give version= or as_of=, not both.")
    if version is None and as_of is None:
        raise ConfigError("Give version= (a version id) or as_of= (a moment).")
    moment = parse_moment(as_of) if as_of is not None else None
    backend, full = store._target(key)
    folder = dataset is True or not full or full.endswith("/")
    if folder:
        return _pin_table(store, backend, full.rstrip("/") + "/" if full.rstrip("/") else "", version, moment, cache)
    uri = backend.uri(full)
    if getattr(backend, "kind", None) not in READING_KINDS:
        # Nothing to resolve on local disk or memory://, unless the key is a Delta table's folder.
        if dataset is not False and _is_table(store, backend, full + "/"):
            return _pin_table(store, backend, full + "/", version, moment, cache)
        _versioned(backend, "read a version of", uri, listing=False)
    ob = _versioned(backend, "read a version of", uri, listing=version is None)
    try:
        stored, entries = _locate(store, ob, full)
    except NotFound:
        if dataset is not False and ob.is_dir(full + "/"):
            return _pin_table(store, ob, full + "/", version, moment, cache)
        raise
    if version is not None:
        if isinstance(version, bool) or not isinstance(version, str):
            raise ConfigError(
                f"version={version!r}: object versions are ids (strings) as store.versions(key) lists them; "
                "whole numbers are versions of Delta tables."
            )
        return Pinned(store, ob, stored, VersionView(ob, version))
    assert moment is not None
    if entries is None:
        entries = _list_entries(ob, stored)
    chosen = _at(moment, [e for e in entries if e.key == stored], ob, stored)
    if chosen.version_id is None:  # an unversioned bucket's only version: the current object
        return Pinned(store, ob, stored, ob, moment=moment)
    return Pinned(store, ob, stored, VersionView(ob, chosen.version_id), moment=moment)


def _pin_table(
    store: AutoStore, backend: Backend, folder: str, version: str | int | None, moment: datetime | None, cache: bool
) -> Pinned:
    from .delta import is_table

    if not is_table(backend, folder):
        raise UnsupportedOperation(
            f"{backend.uri(folder)} is not a Delta table (no _delta_log/ folder): a plain dataset keeps no "
            "versions. Write it with store.write(key, df, format='delta') to get table versions, or read "
            "single objects by version."
        )
    number: int | None = None
    if version is not None:
        text = str(version).strip()
        if isinstance(version, bool) or not text.isdigit():
            raise ConfigError(
                f"version={version!r}: versions of the Delta table {backend.uri(folder)} are whole numbers >= 0 "
                "(store.history(key) lists them)."
            )
        number = int(text)
    return Pinned(store, backend, folder, backend, table=True, table_version=number, moment=moment, cache=cache)


# -- restoring ---------------------------------------------------------------------------------------
def restore_version(store: AutoStore, key: str, version: str | int) -> str | int | None:
    """Make ``version`` of ``key`` current again; see ``AutoStore.restore``."""
    if version is None:
        raise ConfigError("restore() needs version=: the id of the version to make current again.")
    backend, full = store._target(key)
    folder = full.rstrip("/") + "/" if full.rstrip("/") else ""
    if not full or full.endswith("/") or _is_table(store, backend, folder):
        from .delta import restore_table

        number = _pin_table(store, backend, folder, version, None, False).table_version
        assert number is not None
        return restore_table(store, backend, folder, number)
    ob = _versioned(backend, "restore a version of", backend.uri(full), listing=True)
    stored, _entries = _locate(store, ob, full)
    if isinstance(version, bool) or not isinstance(version, str):
        raise ConfigError(f"version={version!r}: object versions are ids (strings) as store.versions(key) lists them.")
    transport = _boto(ob)
    client = transport.client
    source = {"Bucket": ob.bucket, "Key": stored, "VersionId": version}
    view = VersionView(ob, version)
    try:
        head = client.head_object(**source)
    except Exception as exc:
        code = str(((getattr(exc, "response", None) or {}).get("Error") or {}).get("Code", ""))
        if code in ("404", "405", "400", "NoSuchKey", "NoSuchVersion", "MethodNotAllowed", "InvalidArgument"):
            raise view._missing(stored) from None
        raise transport._translate(exc, stored, "restore") from None
    with transport._errors(stored, "restore"):
        if int(head.get("ContentLength", 0)) <= _MAX_COPY:
            new_id = client.copy_object(Bucket=ob.bucket, Key=stored, CopySource=source).get("VersionId")
        else:
            client.copy(source, ob.bucket, stored, Config=transport._transfer_config())
            new_id = client.head_object(Bucket=ob.bucket, Key=stored).get("VersionId")
    store._after_write(ob, stored)
    store._index.resolved(ob, full, stored)
    return None if new_id in (None, "null") else str(new_id)
