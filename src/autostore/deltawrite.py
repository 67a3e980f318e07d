"""Writing Delta Lake tables: ``store["t/"] = frame`` with ``format="delta"`` (or onto a folder that
already is a table) is one deltalake commit — append, overwrite, error/ignore when it exists, or
merge (upsert by ``on=[...]``) — with the store's credentials. On S3 a commit is a conditional PUT
of the next log file, so concurrent writers need no lock service. Reading, history, restore and
time travel are :mod:`autostore.delta`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .backends.base import Backend
from .delta import WRITE_MODES, import_deltalake, is_table, location, mapped_errors, shown_as
from .errors import (
    AlreadyExists,
    ConfigError,
    FormatError,
)
from .formats.base import require
from .uri import folder_key

if TYPE_CHECKING:
    from .store import AutoStore

__all__ = ["write_table", "write_wanted"]

log = logging.getLogger("autostore")


def write_wanted(backend: Backend, full: str, format: str | None, mode: str, on: object) -> bool:
    """Does a write of ``full`` go to a Delta table? Yes for ``format="delta"``, and for a folder
    that already is a Delta table when no other format is asked (a plain write would corrupt the
    table: FormatError). ``mode="merge"`` / ``on=`` anywhere else: ConfigError."""
    if format is not None and format.lower().lstrip(".") == "delta":
        return True
    folder = folder_key(full)
    if is_table(backend, folder):
        if format is None:
            return True
        raise FormatError(
            f"{backend.uri(folder)} is a Delta table: writing plain {format} files into it would corrupt it. "
            "Write with format='delta' (or no format), or delete the table first; nothing was written."
        )
    if mode == "merge" or on is not None:
        raise ConfigError(
            f"mode='merge' / on= upsert into Delta tables only, and {backend.uri(full)} is none: write with "
            "format='delta' (the first merge creates the table); nothing was written."
        )
    return False


def _names(value: str | Sequence[str] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def write_table(
    store: AutoStore,
    backend: Backend,
    prefix: str,
    value: Any,
    *,
    mode: str = "overwrite",
    partition_by: str | Sequence[str] | None = None,
    on: str | Sequence[str] | None = None,
) -> str:
    """Write the frame ``value`` to the Delta table in the folder ``prefix`` as one commit;
    returns the folder key. Every check runs before anything is written."""
    pl = require("polars", None, "Writing a Delta table")
    key, uri = shown_as(store, backend, prefix)
    if mode not in WRITE_MODES:
        raise ConfigError(
            f"mode={mode!r} for the Delta table {uri}; use 'overwrite', 'append', 'error' (fail if it exists), "
            "'ignore' (skip if it exists) or 'merge' (upsert by on=[...])."
        )
    if not isinstance(value, (pl.DataFrame, pl.LazyFrame)):
        raise FormatError(
            f"Cannot write a {type(value).__name__} to the Delta table {uri}: only polars DataFrames and "
            "LazyFrames become tables."
        )
    keys, parts = _names(on), _names(partition_by)
    if mode == "merge" and not keys:
        raise ConfigError(
            f"mode='merge' on {uri} needs on=[...]: the column(s) that identify a row (matching rows are updated, "
            "the others inserted); nothing was written."
        )
    if keys and mode != "merge":
        raise ConfigError(f"on={keys} applies to mode='merge' only (writing {uri} with mode={mode!r}).")
    columns = value.columns if isinstance(value, pl.DataFrame) else value.collect_schema().names()
    for what, names in (("partition_by", parts), ("on", keys)):
        missing = [n for n in names if n not in columns]
        if missing:
            raise ConfigError(f"{what} column(s) {missing} not in the frame written to {uri} (columns: {columns}).")
    dl = import_deltalake()
    table_uri, options = location(backend, prefix)
    exists = is_table(backend, prefix)
    if not exists and backend.is_dataset(prefix):
        raise FormatError(
            f"{uri} holds plain data files but no Delta log: a table written there would hide them. Write the "
            "table to an empty folder (or remove the files first); nothing was written."
        )
    if exists and mode == "error":
        raise AlreadyExists(f"A Delta table exists at {uri} (mode='error'); use mode='append', 'overwrite' or 'merge'.")
    if exists and mode == "ignore":
        return key

    def data() -> Any:
        # A LazyFrame is streamed to deltalake batch by batch, in order, never collected whole.
        return value if isinstance(value, pl.DataFrame) else value.collect_batches(maintain_order=True, lazy=True)

    with mapped_errors(table_uri, "write", options):
        if mode == "merge" and exists:
            _merge(dl, table_uri, options, data(), keys)
        elif mode == "merge":
            try:  # no table yet: every row is new
                dl.write_deltalake(table_uri, data(), mode="error", partition_by=parts or None, storage_options=options)
            except Exception as exc:
                if "already exists" not in str(exc).lower():
                    raise
                _merge(dl, table_uri, options, data(), keys)  # created meanwhile by another writer
        else:
            dl.write_deltalake(
                table_uri,
                data(),
                mode=mode,
                partition_by=parts or None,
                # overwrite replaces the data and its schema, as writing a plain dataset does
                schema_mode="overwrite" if mode == "overwrite" else None,
                storage_options=options,
            )
    return key


def _merge(dl: Any, uri: str, options: dict[str, str] | None, data: Any, keys: list[str]) -> None:
    predicate = " AND ".join(f"target.{_quote(k)} = source.{_quote(k)}" for k in keys)
    table = dl.DeltaTable(uri, storage_options=options)
    metrics = (
        table.merge(data, predicate=predicate, source_alias="source", target_alias="target")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    log.debug("merged into %s: %s", uri, metrics)


def _quote(name: str) -> str:
    """A column name as a SQL identifier for deltalake's predicates."""
    return '"' + name.replace('"', '""') + '"'
