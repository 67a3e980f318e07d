"""Folder keys of a store: ``store["sales/"]`` reads a folder as a dataset (or a Delta table),
``store["sales/"] = frame`` writes one. Only the dispatch lives here: which of
:mod:`autostore.delta` and :mod:`autostore.datasets` handles a folder key, and the options that
make no sense for a folder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .backends.base import Backend, ObjectMeta
from .errors import ConfigError, NotFound
from .uri import folder_key

if TYPE_CHECKING:
    from .store import AutoStore

__all__ = ["folder_of", "read_folder", "write_folder"]


def folder_of(full: str) -> str:
    """``full`` as a folder key: ``"a/b"`` and ``"a/b/"`` → ``"a/b/"``; a root stays as it is."""
    return folder_key(full) or full


def read_folder(
    store: AutoStore,
    backend: Backend,
    prefix: str,
    format: str | None = None,
    *,
    cache: bool = False,
    fresh: bool = False,
    options: dict[str, Any] | None = None,
) -> Any:
    """The folder ``prefix`` as a polars LazyFrame: its Delta table, else a scan of its files."""
    from .delta import is_table

    listing: list[ObjectMeta] | None = None
    if format is None and _lists_by_request(backend):
        listing = _listing_unless_delta(backend, prefix)
        delta = listing is None
    else:
        delta = format in (None, "delta") and is_table(backend, prefix)
    if delta:  # never the plain scan of a Delta table: wrong rows
        from .delta import scan_table

        return scan_table(store, backend, prefix, cache=cache)
    if format == "delta":
        raise NotFound(f"No Delta table at {backend.uri(prefix)} (no _delta_log/ folder).")
    from .datasets import scan_dataset

    if options:
        name = next(iter(options))
        raise ConfigError(
            f"{'mmap=True' if name == 'mmap' else name + '='} applies to single files, not to the folder "
            f"{backend.uri(prefix)} (a folder is scanned lazily by polars); read one file of it instead."
        )

    return scan_dataset(store, backend, prefix, format=format, cache=cache, fresh=fresh, listing=listing)


def _lists_by_request(backend: Backend) -> bool:
    """An object store, where each listing is a round trip (a local folder is checked by a stat;
    plain HTTP cannot list)."""
    return backend.local_path("") is None and getattr(backend, "kind", None) != "http"


def _listing_unless_delta(backend: Backend, prefix: str) -> list[ObjectMeta] | None:
    """Every object below ``prefix``, or None as soon as one lies in ``_delta_log/``: one listing
    decides "Delta table or plain dataset" and serves the plain scan, instead of a LIST to look for
    the log and another for the files. Listings come in key order, and ``_`` sorts before the
    lower-case names Delta gives its data files and partitions, so for a table the log usually
    shows up on the first page and the listing stops there."""
    from .delta import LOG_FOLDER

    log = folder_key(prefix) + LOG_FOLDER
    listing = []
    for meta in backend.list_objects(prefix):
        if meta.key.startswith(log):
            return None
        listing.append(meta)
    return listing


def write_folder(
    store: AutoStore,
    backend: Backend,
    full: str,
    key: str,
    value: Any,
    *,
    format: str | None,
    partition_by: str | list[str] | None,
    mode: str,
    compression: str | None,
    on: str | list[str] | None,
) -> str | None:
    """Write ``value`` when ``full`` (``key`` as given) is a folder write — one Delta commit or a
    dataset — and return the stored key; None when it is a single file's write."""
    folder_write = full.endswith("/") or full == "" or partition_by is not None
    if folder_write or format == "delta" or on is not None or mode == "merge":
        from .deltawrite import write_wanted

        if write_wanted(backend, full, format, mode, on):
            from .deltawrite import write_table

            folder = folder_of(full) if full.rstrip("/") else ""
            return write_table(store, backend, folder, value, mode=mode, partition_by=partition_by, on=on)
    if folder_write:
        from .datasets import write_dataset

        if compression is not None:
            raise ConfigError(f"compression= applies to single files, not to the dataset folder {key!r}.")
        folder = folder_of(full)
        return write_dataset(store, backend, folder, value, format=format, partition_by=partition_by, mode=mode)
    if mode != "overwrite":
        raise ConfigError(f"mode={mode!r} applies to dataset folders only; write {key!r}/ or drop mode=.")
    return None
