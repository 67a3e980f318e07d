"""Writing a frame into a dataset folder (``store.write(folder, df)``): polars writes the files in a
staging folder, then they are moved (local) or uploaded (object stores) under names no earlier
write used (``part-<write id>-<n>``); an overwrite removes the old files only once every new one is
in place, and a write that fails while placing its files removes those it placed."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends.base import TABULAR_EXTENSIONS, Backend, is_hidden
from .datasetformats import WRITE_EXT, format_family, shown_location
from .errors import ConfigError, FormatError
from .formats.base import is_os_error, os_error, require

if TYPE_CHECKING:
    from .store import AutoStore


__all__ = ["write_dataset"]

log = logging.getLogger("autostore")


def write_dataset(
    store: AutoStore,
    backend: Backend,
    prefix: str,
    value: Any,
    *,
    format: str | None = None,
    partition_by: str | Sequence[str] | None = None,
    mode: str = "overwrite",
) -> str:
    """Write the frame ``value`` as data files below the folder ``prefix``; returns the folder key.

    ``partition_by`` writes hive folders (``name=value/part-<write id>-0.parquet``, the columns
    are not repeated inside the files). ``mode="overwrite"`` then removes the folder's other data
    files, once every new one is in place, so the folder holds exactly ``value``;
    ``mode="append"`` only adds files. A write that fails removes the files it placed.
    """
    pl = require("polars", None, "Writing a dataset")
    key, uri = shown_location(store, backend, prefix)
    if mode not in ("overwrite", "append"):
        raise ConfigError(f"mode={mode!r}; use 'overwrite' (replace the dataset) or 'append' (add files).")
    if isinstance(value, pl.DataFrame):
        lf = value.lazy()
    elif isinstance(value, pl.LazyFrame):
        lf = value
    else:
        raise FormatError(
            f"Cannot write a {type(value).__name__} to the folder {uri}: only polars DataFrames and "
            "LazyFrames become datasets. Give a file name to store other values."
        )
    family = format_family(format or "parquet")
    ext = WRITE_EXT[family]
    keys = [partition_by] if isinstance(partition_by, str) else list(partition_by or [])
    if keys:
        columns = lf.collect_schema().names()
        missing = [k for k in keys if k not in columns]
        if missing:
            raise ConfigError(
                f"partition_by column(s) {missing} not in the frame written to {uri} (columns: {columns})."
            )
    write_id = _write_id()
    local = backend.local_path(prefix)
    # Local: stage inside the target folder (same filesystem, so each file is moved in with an
    # atomic rename; hidden from listings). Object stores: stage in the store's temp folder.
    from .backends.local import TEMP_MARKER

    staging = local / f"{TEMP_MARKER}{write_id}" if local is not None else store.core.temp_path(f"dataset-{write_id}")
    placed: list[str] = []  # keys this write has put in place so far
    created: list[Path] = []  # local folders it made
    stale: list[str] = []
    try:
        _sink(pl, lf, family, staging, keys, ext)
        _place(store, backend, prefix, staging, ext, write_id, placed, created)
        if mode == "overwrite":
            done = set(placed)
            stale = [
                m.key
                for m in backend.list_objects(prefix)
                if m.key not in done
                and m.key[len(prefix) :].lower().endswith(TABULAR_EXTENSIONS)
                and not is_hidden(m.key[len(prefix) :])
            ]
    except BaseException:
        # Until the first old file is removed, a failure (or Ctrl-C) takes the new files back.
        _unplace(store, backend, placed, created)
        _remove_late(staging)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    if stale:
        log.debug("removing %d old data files below %s", len(stale), uri)
        try:
            backend.delete_many(stale)
        except BaseException as exc:
            exc.add_note(
                f"autostore: every new file of the write to {uri} is in place, but some of its "
                f"{len(stale)} old files may remain; repeat the write to finish replacing them."
            )
            raise
        finally:
            for k in stale:
                store.core.after_delete(backend, k)
                store.core.index.removed(backend, _stem(store, k), k)
    return key


def _write_id() -> str:
    """16 hex digits no other write uses: milliseconds since 1970, then 16 random bits, so that
    file names sort in write order (appended files are scanned in the order they were written)."""
    return f"{time.time_ns() // 1_000_000:012x}{uuid.uuid4().hex[:4]}"


def _remove_late(staging: Path, *, checks: int = 4, pause: float = 0.05) -> None:
    """Remove the staging folder of a failed write. polars may still create a file (and its
    folder) just after a failed sink has returned, so look again a few times (bounded)."""
    shutil.rmtree(staging, ignore_errors=True)
    for _ in range(checks):
        time.sleep(pause)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _sink(pl: Any, lf: Any, family: str, staging: Path, keys: list[str], ext: str) -> None:
    target: Any
    if keys:
        target = pl.PartitionBy(str(staging), key=keys, include_key=False)
    else:
        staging.mkdir(parents=True, exist_ok=True)
        target = str(staging / f"part-0{ext}")
    try:
        if family == "parquet":
            lf.sink_parquet(target, mkdir=True)
        elif family == "jsonl":
            lf.sink_ndjson(target, mkdir=True)
        elif family == "ipc":
            lf.sink_ipc(target, mkdir=True)
        else:
            lf.sink_csv(target, separator="\t" if family == "tsv" else ",", mkdir=True)
    except (pl.exceptions.PolarsError, OSError) as exc:
        if isinstance(exc, OSError) or is_os_error(exc):  # a full disk, no permission: not the frame
            raise os_error(exc, f"Cannot write the frame as {family} into {staging.parent}") from exc
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise FormatError(f"Cannot write the frame as {family}: {type(exc).__name__}: {first[:300]}") from exc


def _place(
    store: AutoStore,
    backend: Backend,
    prefix: str,
    staging: Path,
    ext: str,
    write_id: str,
    placed: list[str],
    created: list[Path],
) -> None:
    """Move/upload every staged file to its final key. ``placed`` gets each key once its file is
    in place and ``created`` each local folder made for one, also when a later one fails or the
    write is interrupted, so that the caller can take them back."""
    moves: list[tuple[Path, str]] = []
    for dirpath, _dirs, names in os.walk(staging):
        for name in names:
            path = Path(dirpath) / name
            folder = path.parent.relative_to(staging).as_posix()
            # polars names partition files by its own suffix ("00000000.ipc" for IPC)
            stem = name[: -len(ext)] if name.endswith(ext) else name.partition(".")[0]
            number = int(stem) if stem.isdigit() else stem.removeprefix("part-")
            final = f"part-{write_id}-{number}{ext}"
            moves.append((path, prefix + ("" if folder == "." else folder + "/") + final))
    moves.sort(key=lambda m: m[1])
    from .backends.local import LocalBackend

    if isinstance(backend, LocalBackend):
        for path, target in moves:
            parent = Path(backend.path(target)).parent
            created.extend(p for p in (parent, *parent.parents) if not p.exists())
            backend.rename(path.relative_to(backend.root).as_posix(), target)
            placed.append(target)
    elif moves:
        _upload_all(backend, moves, placed)
    for target in placed:
        store.core.after_write(backend, target)
        store.core.index.resolved(backend, _stem(store, target), target)


def _upload_all(backend: Backend, moves: list[tuple[Path, str]], placed: list[str]) -> None:
    """Upload in parallel. Each upload records its key in ``placed`` itself once it succeeded,
    and on any failure (or interrupt) the uploads not started are cancelled and those running are
    waited for before the error goes on, so ``placed`` then lists exactly what was uploaded."""
    lock = threading.Lock()

    def upload(path: Path, target: str) -> None:
        backend.upload(target, path)
        with lock:
            placed.append(target)

    pool = ThreadPoolExecutor(max_workers=min(8, len(moves)))
    try:
        futures = [pool.submit(upload, path, target) for path, target in moves]
        for future in as_completed(futures):
            future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _unplace(store: AutoStore, backend: Backend, placed: list[str], created: list[Path]) -> None:
    """Remove what a failed write placed (best effort: the original error is what matters)."""
    if placed:
        log.debug("write failed: removing the %d files it placed", len(placed))
        try:
            backend.delete_many(list(placed))
        except Exception as exc:  # reported; the write's own error is the one raised
            log.warning("could not remove %d files of a failed write (%s): %s", len(placed), exc, placed[:5])
        for key in placed:
            store.core.after_delete(backend, key)
            store.core.index.removed(backend, _stem(store, key), key)
    for folder in sorted(set(created), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _stem(store: AutoStore, key: str) -> str:
    """``key`` without its registered extension (the extensionless key ``store[...]`` takes)."""
    ext = store.core.handlers.known_extension(key.rpartition("/")[2])
    return key[: -len(ext)] if ext else key
