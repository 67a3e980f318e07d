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

The S3 side (the boto3 transport, listing entries, ``VersionView``) is :mod:`autostore.s3versions`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from .backends.base import Backend
from .errors import (
    AmbiguousKey,
    AutoStoreError,
    ConfigError,
    InvalidKey,
    NotFound,
    UnsupportedOperation,
)
from .s3versions import (
    LISTING_KINDS,
    READING_KINDS,
    WHERE_VERSIONS_LIVE,
    ObjectVersion,
    VersionEntry,
    VersionView,
    boto_transport,
    list_entries,
)
from .uri import folder_key

if TYPE_CHECKING:
    from .backends.objectstore import ObjectStoreBackend
    from .store import AutoStore


__all__ = ["ObjectVersion", "Pinned", "list_versions", "parse_moment", "pin", "restore_version"]

_MAX_COPY = 5 * 1024**3  # largest single-request CopyObject; bigger objects are copied in parts


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
    raise UnsupportedOperation(f"Cannot {action} {uri}: {_where(backend)} keeps no versions. {WHERE_VERSIONS_LIVE}")


def _bucket_versioning(backend: ObjectStoreBackend) -> str | None:
    """ "Enabled", "Suspended", or None (never enabled); None as well when it cannot be read."""
    transport = boto_transport(backend)
    try:
        with transport._errors("", "read the versioning status of"):
            status = transport.client.get_bucket_versioning(Bucket=backend.bucket).get("Status")
    except AutoStoreError:
        return None
    return str(status) if status else None


# -- finding the stored key ------------------------------------------------------------------------
def _locate(store: AutoStore, backend: ObjectStoreBackend, full: str) -> tuple[str, list[VersionEntry] | None]:
    """The stored key ``full`` names, as reads resolve it: the current ``full.<ext>`` file, else,
    for a key deleted since, the one ``full.<ext>`` that has versions. Returns the listing when
    one was made (it holds the key's versions)."""
    try:
        return store.core.resolve(backend, full), None
    except NotFound:
        pass
    entries = list_entries(backend, full, folder_only=True)
    known = store.core.handlers.known_extension
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
    backend, full = store.core.target(key)
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
        entries = list_entries(ob, stored)
    shown = store.core.display_key(ob, stored)
    mine = [dataclasses.replace(e, key=shown) for e in entries if e.key == stored]
    if not mine:
        raise NotFound(f"No object and no versions at {ob.uri(stored)}; check the key (store.keys()).")
    return mine


def _at(moment: datetime, versions: list[VersionEntry], backend: ObjectStoreBackend, stored: str) -> VersionEntry:
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
        handler, ext = self.store.core.handler_for_read(self.key, format)
        return self.store.core.decode(self.reader, self.key, handler, ext, ignore_cache=ignore_cache)

    def read_bytes(self, *, ignore_cache: bool = False) -> bytes:
        """The stored bytes of this version."""
        if self.table:
            raise InvalidKey(
                f"{self.backend.uri(self.key)} is a Delta table (a folder): it has no bytes; read it with "
                "store.read(key, version=N)."
            )
        return self.store.core.read_bytes(self.reader, self.key, ignore_cache)


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
    backend, full = store.core.target(key)
    folder = dataset is True or not full or full.endswith("/")
    if folder:
        return _pin_table(store, backend, folder_key(full), version, moment, cache)
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
        entries = list_entries(ob, stored)
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
    backend, full = store.core.target(key)
    folder = folder_key(full)
    if not full or full.endswith("/") or _is_table(store, backend, folder):
        from .delta import restore_table

        number = _pin_table(store, backend, folder, version, None, False).table_version
        assert number is not None
        return restore_table(store, backend, folder, number)
    ob = _versioned(backend, "restore a version of", backend.uri(full), listing=True)
    stored, _entries = _locate(store, ob, full)
    if isinstance(version, bool) or not isinstance(version, str):
        raise ConfigError(f"version={version!r}: object versions are ids (strings) as store.versions(key) lists them.")
    transport = boto_transport(ob)
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
    store.core.after_write(ob, stored)
    store.core.index.resolved(ob, full, stored)
    return None if new_id in (None, "null") else str(new_id)
