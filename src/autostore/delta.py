"""Delta Lake tables: dataset folders that commit atomically and time-travel, through deltalake.

A folder with a ``_delta_log/`` is a Delta table. Reading one scans the files of the current (or
a chosen) version with ``pl.scan_delta`` - never the folder's plain listing, which would include
files the log has removed. Every write is one commit made by deltalake (append, overwrite,
merge) with the store's credentials; on S3 a commit is a conditional PUT of the next log file
(``aws_conditional_put="etag"``), so concurrent writers need no lock service: a writer that
loses the race re-reads the log and commits as the next version.

Time travel by moment (``as_of``) picks the newest version whose commit file is not newer than
the moment - the commit file's modification time on the store (the server's clock), as Delta
readers (deltalake, Spark) do; ``history()`` shows that same time.

deltalake is imported only here and in :mod:`autostore.deltawrite` (the writes), on first use
(extra ``autostore[delta]``).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .backends.base import Backend
from .errors import (
    AlreadyExists,
    AuthError,
    AutoStoreError,
    BackendError,
    ConfigError,
    FormatError,
    NotFound,
    UnsupportedOperation,
)
from .formats.base import require
from .uri import folder_key

if TYPE_CHECKING:
    from .store import AutoStore

__all__ = [
    "LOG_FOLDER",
    "WRITE_MODES",
    "TableVersion",
    "is_table",
    "location",
    "scan_table",
    "import_deltalake",
    "mapped_errors",
    "restore_table",
    "shown_as",
    "table_history",
]

log = logging.getLogger("autostore")

LOG_FOLDER = "_delta_log/"
WRITE_MODES = ("overwrite", "append", "error", "ignore", "merge")
_COMMIT = re.compile(r"^(\d{20})\.json$")
_NO_VERSION = re.compile(r"end version (\d+) not the same as the specified end version (\d+)")
_SECRET_HINTS = ("secret", "key", "token", "sas", "password")


@dataclass(frozen=True)
class TableVersion:
    """One version (commit) of a Delta table, as ``store.history(key)`` lists them (newest first).

    ``timestamp`` is when the version became current: its commit file's modification time on the
    store, which ``as_of`` compares against. ``rows_added`` / ``rows_updated`` / ``rows_removed``
    come from the commit's metrics when the writer recorded them (None otherwise); ``info`` is the
    whole ``commitInfo`` (the writer's own ``timestamp`` in ms, engine, ...)."""

    version: int
    timestamp: datetime | None
    operation: str | None
    rows_added: int | None = None
    rows_updated: int | None = None
    rows_removed: int | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (``timestamp`` as ISO 8601 text), e.g. for JSON."""
        return {
            "version": self.version,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "operation": self.operation,
            "rows_added": self.rows_added,
            "rows_updated": self.rows_updated,
            "rows_removed": self.rows_removed,
            "parameters": self.parameters,
        }


def import_deltalake() -> Any:
    return require("deltalake", "delta", "Reading or writing a Delta table")


def is_table(backend: Backend, prefix: str) -> bool:
    """True when the folder ``prefix`` holds a Delta table (has a ``_delta_log/`` folder)."""
    if getattr(backend, "kind", None) == "http":
        return False  # no listing over plain HTTP
    try:
        return backend.is_dir(folder_key(prefix) + LOG_FOLDER)
    except NotFound:
        return False


def shown_as(store: AutoStore, backend: Backend, prefix: str) -> tuple[str, str]:
    """(key as the user would write it, full URI) of the folder ``prefix``."""
    if backend is store.core.primary and prefix.startswith(store.core.prefix):
        return prefix[len(store.core.prefix) :], backend.uri(prefix)
    return backend.uri(prefix), backend.uri(prefix)


def location(backend: Backend, prefix: str) -> tuple[str, dict[str, str] | None]:
    """(table URI for deltalake/polars, storage options) of the folder ``prefix``."""
    body = prefix.rstrip("/")
    local = backend.local_path(body)
    if local is not None:
        return str(local), None
    kind = getattr(backend, "kind", None)
    if kind == "s3":  # custom schemes (minio://) are S3 services: deltalake knows them as s3://
        return f"s3://{backend.bucket}/{body}".rstrip("/"), backend.storage_options("delta")
    if kind == "az":
        container = backend.bucket.partition("@")[0]
        return f"az://{container}/{body}".rstrip("/"), backend.storage_options("delta")
    raise UnsupportedOperation(
        f"Delta tables on {backend.uri(prefix)} are not supported: deltalake cannot reach {backend.scheme}:// "
        "stores of autostore; use local disk, an S3-compatible store or Azure."
    )


# -- errors -------------------------------------------------------------------------------------
def _scrub(text: str, options: dict[str, str] | None) -> str:
    for name, value in (options or {}).items():
        if value and len(value) > 3 and any(h in name for h in _SECRET_HINTS):
            text = text.replace(value, "***")
    return text


@contextlib.contextmanager
def mapped_errors(uri: str, action: str, options: dict[str, str] | None) -> Iterator[None]:
    """Map deltalake's and polars' exceptions onto ours, naming the table and never a secret."""
    try:
        yield
    except AutoStoreError:
        raise
    except Exception as exc:
        raise _translate(exc, uri, action, options) from None


def _translate(exc: Exception, uri: str, action: str, options: dict[str, str] | None) -> Exception:
    name = type(exc).__name__
    text = _scrub(str(exc), options)
    first = " ".join(text.split())[:300] or name
    lowered = text.lower()
    if name == "TableNotFoundError":
        return NotFound(f"No Delta table at {uri} ({first}); write one with store.write(key, df, format='delta').")
    found = _NO_VERSION.search(text)
    if found:
        return NotFound(
            f"Delta table {uri} has no version {found.group(2)}: its latest is {found.group(1)}; "
            "store.history(key) lists the versions."
        )
    if name == "SchemaMismatchError":
        return FormatError(
            f"Cannot {action} {uri}: the frame does not match the table's schema ({first}). Cast the columns, "
            "or replace the table with mode='overwrite'."
        )
    if "cast error" in lowered or "arrow schema" in lowered or "schema error" in lowered:
        return FormatError(
            f"Cannot {action} {uri}: a column does not fit the Delta table ({first}). Delta has no unsigned "
            "integer types; cast such columns (e.g. pl.col(c).cast(pl.Int64)) first."
        )
    if name == "CommitFailedError":
        return BackendError(
            f"Cannot {action} {uri}: another writer committed a conflicting change at the same time ({first}); "
            "retry the write."
        )
    if any(s in lowered for s in ("lacked the necessary privileges", "unauthenticated", "access denied", "403")):
        return AuthError(f"Access denied to {action} the Delta table {uri}: check the credentials ({first}).")
    if "already exists" in lowered:
        return AlreadyExists(f"A Delta table exists at {uri} ({first}).")
    module = type(exc).__module__
    if module.startswith("polars") or isinstance(exc, (ValueError, TypeError)):
        return FormatError(f"Cannot {action} {uri}: {name}: {first}")
    return BackendError(f"Could not {action} the Delta table {uri}: {name}: {first}")


# -- versions and moments ------------------------------------------------------------------------
def _commit_times(backend: Backend, prefix: str) -> dict[int, datetime]:
    """Version -> modification time of its commit file (one listing of ``_delta_log/``)."""
    out: dict[int, datetime] = {}
    log_prefix = folder_key(prefix) + LOG_FOLDER
    for meta in backend.list_objects(log_prefix):
        found = _COMMIT.match(meta.key[len(log_prefix) :])
        if found and meta.modified_time is not None:
            out[int(found.group(1))] = meta.modified_time.astimezone(UTC)
    return out


def _version_at(backend: Backend, prefix: str, moment: datetime, uri: str) -> int:
    """The newest version whose commit file is not newer than ``moment``."""
    times = _commit_times(backend, prefix)
    before = [v for v, t in times.items() if t <= moment]
    if before:
        return max(before)
    if not times:
        raise NotFound(f"Delta table {uri} has no commit files to time-travel with (its log was cleaned up).")
    first = min(times)
    raise NotFound(
        f"Delta table {uri} did not exist at {moment.isoformat()}: its first kept version ({first}) was committed "
        f"at {times[first].isoformat()}."
    )


# -- reading ------------------------------------------------------------------------------------
def scan_table(
    store: AutoStore,
    backend: Backend,
    prefix: str,
    *,
    version: int | None = None,
    moment: datetime | None = None,
    cache: bool = False,
) -> Any:
    """A LazyFrame over the table in the folder ``prefix``: its latest version, ``version``, or
    the version that was current at ``moment``. Always scanned in place."""
    if cache:
        raise UnsupportedOperation(
            f"{backend.uri(prefix)} is a Delta table: it is always scanned in place, cache=True does not apply."
        )
    pl = require("polars", None, "Reading a Delta table")
    dl = import_deltalake()
    uri, options = location(backend, prefix)
    if moment is not None:
        version = _version_at(backend, prefix, moment, uri)
    if version is not None and version < 0:
        raise ConfigError(f"version={version} of the Delta table {uri}: versions are whole numbers >= 0.")
    with mapped_errors(uri, "read", options):
        # Opened here, not lazily by polars, so a missing version or a denied read fails now with
        # our error, not at collect() time.
        table = dl.DeltaTable(uri, version=version, storage_options=options)
        return pl.scan_delta(table, storage_options=options, credential_provider=None)


def table_history(store: AutoStore, backend: Backend, prefix: str) -> list[TableVersion]:
    """Every version of the table in ``prefix``, newest first."""
    _, uri = shown_as(store, backend, prefix)
    if not is_table(backend, prefix):
        raise NotFound(
            f"No Delta table at {uri} (no {LOG_FOLDER} folder). store.versions(key) lists the versions of single "
            "objects; write a table with store.write(key, df, format='delta')."
        )
    dl = import_deltalake()
    table_uri, options = location(backend, prefix)
    with mapped_errors(table_uri, "read the history of", options):
        raw = dl.DeltaTable(table_uri, storage_options=options).history()
    times = _commit_times(backend, prefix)
    out = []
    for commit in raw:
        number = int(commit.get("version", -1))
        metrics = commit.get("operationMetrics") or {}
        when = times.get(number)
        if when is None and isinstance(commit.get("timestamp"), (int, float)):
            when = datetime.fromtimestamp(commit["timestamp"] / 1000, tz=UTC)
        out.append(
            TableVersion(
                version=number,
                timestamp=when,
                operation=commit.get("operation"),
                rows_added=_metric(metrics, _ADDED),
                rows_updated=_metric(metrics, _UPDATED),
                rows_removed=_metric(metrics, _REMOVED),
                parameters=dict(commit.get("operationParameters") or {}),
                info=dict(commit),
            )
        )
    return sorted(out, key=lambda v: -v.version)


# commitInfo.operationMetrics names: delta-rs (snake_case) and Spark (camelCase)
_ADDED = ("num_added_rows", "numOutputRows", "num_target_rows_inserted", "numTargetRowsInserted")
_UPDATED = ("num_target_rows_updated", "numTargetRowsUpdated", "num_updated_rows", "numUpdatedRows")
_REMOVED = ("num_target_rows_deleted", "numTargetRowsDeleted", "num_deleted_rows", "numDeletedRows")


def _metric(metrics: dict[str, Any], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in metrics:
            try:
                return int(metrics[name])
            except (TypeError, ValueError):
                return None
    return None


def restore_table(store: AutoStore, backend: Backend, prefix: str, version: int) -> int:
    """Make ``version`` current again with one new commit; returns the new version number."""
    _, uri = shown_as(store, backend, prefix)
    dl = import_deltalake()
    table_uri, options = location(backend, prefix)
    with mapped_errors(table_uri, "restore", options):
        table = dl.DeltaTable(table_uri, storage_options=options)
        latest = table.version()
        if version > latest:
            raise NotFound(f"Delta table {uri} has no version {version}: its latest is {latest}.")
        table.restore(version)
        return int(dl.DeltaTable(table_uri, storage_options=options).version())


# -- writing ------------------------------------------------------------------------------------
