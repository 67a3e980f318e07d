"""Folders as datasets: a polars LazyFrame over every data file below a folder, and
partitioned writes of a frame into a folder.

Reading lists the folder once (through the backend, so credentials and errors are the store's)
and hands polars the exact list of files: local paths, or ``s3://`` URIs with the store's
``storage_options``, so polars scans them in place — nothing is downloaded first, filters and
column selections reach the files (only the needed row groups and columns are fetched).
Hive folders (``year=2024/month=01/``) below the dataset folder become columns.

Writing stages the files polars produces in a temporary folder, then moves (local) or uploads
(object stores) each file to its final key, so every file appears atomically. Every write names
its files ``part-<write id>-<n>`` with a write id no earlier write used (time-ordered), so a new
file never replaces an old one: an overwrite removes the old files only once every new one is in
place, and a write that fails while placing its files removes those it placed.
"""

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
from urllib.parse import unquote

from .backends.base import TABULAR_EXTENSIONS, Backend, ObjectMeta, is_hidden
from .errors import ConfigError, FormatError, NotFound, UnsupportedFormat
from .formats.base import is_os_error, os_error, require

if TYPE_CHECKING:
    from .cache import DownloadCache
    from .store import AutoStore

__all__ = ["DATASET_FORMATS", "scan_dataset", "write_dataset"]

log = logging.getLogger("autostore")

#: extension -> format family of the files a dataset can be made of
_FAMILY_OF_EXT = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".arrow": "ipc",
    ".feather": "ipc",
    ".ipc": "ipc",
}
#: names accepted by ``format=`` -> format family
_FAMILY_OF_NAME = {ext.lstrip("."): family for ext, family in _FAMILY_OF_EXT.items()}
# polars decompresses gzip and zstd CSV / JSON Lines while it scans them (bz2 and xz it cannot).
_COMPRESSIBLE = {ext: family for ext, family in _FAMILY_OF_EXT.items() if family in ("csv", "tsv", "jsonl")}
_FAMILY_OF_EXT.update({ext + codec: family for ext, family in _COMPRESSIBLE.items() for codec in (".gz", ".zst")})
_CODECS = (".gz", ".zst", ".bz2", ".xz")
#: format family -> extension used when writing
_WRITE_EXT = {"parquet": ".parquet", "csv": ".csv", "tsv": ".tsv", "jsonl": ".jsonl", "ipc": ".arrow"}
DATASET_FORMATS = tuple(_WRITE_EXT)

_PATH_COLUMN = "__autostore_source_path__"
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_EXAMPLES = 3

assert set(_FAMILY_OF_EXT) == set(TABULAR_EXTENSIONS)


def _family(format: str) -> str:
    family = _FAMILY_OF_NAME.get(format.lower().lstrip("."))
    if family is None:
        raise UnsupportedFormat(
            f"format={format!r} cannot be a dataset; datasets are made of {', '.join(sorted(_FAMILY_OF_NAME))} files."
        )
    return family


def _ext(name: str) -> str:
    dot = name.rfind(".")
    if dot <= 0:
        return "(no extension)"
    ext = name[dot:].lower()
    before = name.rfind(".", 0, dot)
    if ext in _CODECS and before > 0:  # "x.csv.gz": a format inside a codec
        return name[before:].lower()
    return ext


def _shown(store: AutoStore, backend: Backend, prefix: str) -> tuple[str, str]:
    """(key as the user would write it, full URI) of the folder ``prefix``."""
    if backend is store._primary and prefix.startswith(store._prefix):
        return prefix[len(store._prefix) :], backend.uri(prefix)
    return backend.uri(prefix), backend.uri(prefix)


def _partitions(relative_key: str) -> list[tuple[str, str]]:
    """Hive ``name=value`` folders of a key relative to the dataset folder, outermost first."""
    out = []
    for part in relative_key.split("/")[:-1]:
        name, eq, value = part.partition("=")
        if eq and name:
            out.append((unquote(name), unquote(value)))
    return out


# -- reading ------------------------------------------------------------------------------
def scan_dataset(
    store: AutoStore,
    backend: Backend,
    prefix: str,
    *,
    format: str | None = None,
    cache: bool = False,
    fresh: bool = False,
) -> Any:
    """A polars LazyFrame over the data files below the folder ``prefix`` (ends with "/").

    ``cache=True`` first brings every file into the store's download cache (``fresh``: checked
    with the server even when cached) and scans local links to the cached files instead.
    """
    pl = require("polars", None, "Reading a folder as a dataset")
    key, uri = _shown(store, backend, prefix)
    files, family = _select_files(backend, prefix, key, uri, format)
    parts = {m.key: _partitions(m.key[len(prefix) :]) for m in files}
    hive_names = _check_partitions(parts, prefix, uri)

    root, sources, scan_kwargs = _sources(store, backend, prefix, files, cache=cache, fresh=fresh)
    if family == "parquet":
        lf = pl.scan_parquet(sources, hive_partitioning=bool(hive_names), glob=False, **scan_kwargs)
        # polars parses name=value folders along the whole path; only those below the dataset
        # folder are partitions of this dataset.
        above = [name for name, _ in _partitions(root.rstrip("/") + "/x") if name not in hive_names]
        if hive_names and above:
            lf = lf.drop(above, strict=False)
        if root.startswith("s3://"):  # read in place from an object store: a full scan fetches whole files
            from .prefetch import prefetching_scan

            lf = prefetching_scan(pl, backend, files, lf, hive_names, parts, uri)
        return lf
    if hive_names:
        scan_kwargs["include_file_paths"] = _PATH_COLUMN
    if family == "jsonl":
        lf = pl.scan_ndjson(sources, **scan_kwargs)
    elif family == "ipc":
        lf = pl.scan_ipc(sources, glob=False, hive_partitioning=False, **scan_kwargs)
    else:
        lf = pl.scan_csv(sources, separator="\t" if family == "tsv" else ",", glob=False, **scan_kwargs)
    if hive_names:
        # polars reads hive folders only for parquet: add them from the listing instead.
        lf = lf.with_columns(_hive_columns(pl, hive_names, parts, files, sources)).drop(_PATH_COLUMN)
    return lf


def _select_files(
    backend: Backend, prefix: str, key: str, uri: str, format: str | None
) -> tuple[list[ObjectMeta], str]:
    by_ext: dict[str, list[ObjectMeta]] = {}
    for meta in backend.list_objects(prefix):
        rel = meta.key[len(prefix) :]
        if rel and not rel.endswith("/") and not is_hidden(rel):
            by_ext.setdefault(_ext(rel.rpartition("/")[2]), []).append(meta)
    if not by_ext:
        raise NotFound(
            f"No data files below {uri}: the folder is empty or does not exist. "
            f"Write one with store[{key!r}] = df, or check store.list_files()."
        )
    families: dict[str, list[ObjectMeta]] = {}
    for ext, metas in by_ext.items():
        if ext in _FAMILY_OF_EXT:
            families.setdefault(_FAMILY_OF_EXT[ext], []).extend(metas)
    if format is not None:
        family = _family(format)
        chosen = families.get(family)
        if not chosen:
            raise NotFound(f"No {family} files below {uri} (found: {_summary(prefix, by_ext)}).")
        return sorted(chosen, key=lambda m: m.key), family
    if len(by_ext) == 1 and families:
        family, chosen = next(iter(families.items()))
        return sorted(chosen, key=lambda m: m.key), family
    if not families:
        # NotFound (a KeyError), as for an empty folder: `key in store` is False for this folder.
        raise NotFound(
            f"{uri} holds no tabular files a dataset is made of (parquet, csv, tsv, jsonl, Arrow IPC; "
            f"csv/tsv/jsonl also as .gz or .zst): "
            f"found {_summary(prefix, by_ext)}. Read the files one by one with store[key]."
        )
    if len(families) == 1 and all(ext in _FAMILY_OF_EXT for ext in by_ext):
        family, chosen = next(iter(families.items()))  # spellings of one format (.pq, .csv.gz)
        return sorted(chosen, key=lambda m: m.key), family
    example = next(iter(families))
    raise FormatError(
        f"Folder {uri} mixes formats: {_summary(prefix, by_ext)}. Read one of them with "
        f"store.read({key!r}, format={example!r}), or move the other files out of the folder."
    )


def _summary(prefix: str, by_ext: dict[str, list[ObjectMeta]]) -> str:
    parts = []
    for ext, metas in sorted(by_ext.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        names = ", ".join(m.key[len(prefix) :] for m in metas[:_EXAMPLES])
        more = ", ..." if len(metas) > _EXAMPLES else ""
        parts.append(f"{len(metas)} {ext} ({names}{more})")
    return "; ".join(parts)


def _check_partitions(parts: dict[str, list[tuple[str, str]]], prefix: str, uri: str) -> list[str]:
    """The partition column names, the same for every file; FormatError otherwise."""
    layouts: dict[tuple[str, ...], str] = {}
    for key, pairs in parts.items():
        layouts.setdefault(tuple(name for name, _ in pairs), key[len(prefix) :])
    if len(layouts) > 1:
        shown = "; ".join(
            f"{example} has {'/'.join(names) or 'no partition folders'}" for names, example in layouts.items()
        )
        raise FormatError(
            f"Files below {uri} sit at different partition levels ({shown}). Every file of a "
            "dataset needs the same name=value folders; move the odd ones out or read a sub-folder."
        )
    names = list(next(iter(layouts)))
    if len(set(names)) != len(names):
        raise FormatError(f"Partition folders below {uri} repeat a name ({'/'.join(names)}); rename them.")
    return names


def _sources(
    store: AutoStore, backend: Backend, prefix: str, files: list[ObjectMeta], *, cache: bool, fresh: bool
) -> tuple[str, list[str], dict[str, Any]]:
    """(root the sources start with, sources for polars, polars' storage_options and
    credential_provider for them)."""
    local = backend.local_path(prefix)
    if local is not None:
        root = str(local)
        return root, [str(backend.local_path(m.key)) for m in files], {}
    if cache:
        download_cache = store._cache_for(backend)
        if download_cache is None:
            raise ConfigError(
                f"cache=True needs the download cache for {backend.uri(prefix)}: create the store with "
                "cache_enabled=True (or drop cache=True to scan the files in place)."
            )
        return _mirror(store, backend, prefix, files, download_cache, fresh)
    if getattr(backend, "kind", None) == "s3":
        # Custom schemes (minio://) are S3 services: polars knows them as s3:// + endpoint.
        root = f"s3://{backend.bucket}/{prefix}"
        return root, [f"s3://{backend.bucket}/{m.key}" for m in files], _s3_scan_kwargs(backend)
    log.debug("polars cannot read %s in place; copying %d files locally", backend.uri(prefix), len(files))
    return _mirror(store, backend, prefix, files, None, fresh)


#: Local mirrors (``read(folder, cache=True)``, or backends polars cannot scan) kept per store; a
#: new version of a dataset beyond these removes the least recently used mirror.
MAX_MIRRORS = 8


def _mirror(
    store: AutoStore, backend: Backend, prefix: str, files: list[ObjectMeta], cache: DownloadCache | None, fresh: bool
) -> tuple[str, list[str], dict[str, Any]]:
    """Local copies of the files in the store's temporary folder, taken from the download cache
    when given (hard links: no copy), else downloaded. One mirror per version of the dataset: a
    read of an unchanged dataset reuses it (``mirror-<digest of the files' versions>``), and at
    most ``MAX_MIRRORS`` are kept; ``store.close()`` removes them all."""
    rels = [m.key[len(prefix) :] for m in files]
    if cache is None and all(m.etag for m in files):
        # Versions known from the listing: an unchanged dataset needs no download at all.
        known = _mirror_path(store, backend, prefix, [(r, m.etag, m.size) for r, m in zip(rels, files, strict=True)])
        if known.is_dir():
            return _use_mirror(store, known, rels)
    staging = store._temp_path("mirror")
    targets = [staging / rel for rel in rels]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)

    def fetch(meta: ObjectMeta, target: Path) -> tuple[str, Any, int]:
        rel = meta.key[len(prefix) :]
        if cache is None:
            got = backend.download(meta.key, target)
            return rel, (got.etag if got is not None else None) or meta.etag, meta.size
        with cache.local_file(backend, meta.key, fresh=fresh) as path:
            # The cache never rewrites an entry's file in place, so a second link is a stable copy.
            try:
                os.link(path, target)
            except OSError:  # another filesystem, or no hard links
                shutil.copyfile(path, target)
            st = os.stat(path)
            return rel, (st.st_ino, st.st_mtime_ns), st.st_size  # the version of the cache entry

    try:
        with ThreadPoolExecutor(max_workers=min(8, len(files))) as pool:
            versions = list(pool.map(fetch, files, targets))
        final = _mirror_path(store, backend, prefix, versions)
        try:
            os.rename(staging, final)  # fails if another read built this version first: use it
        except OSError:
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _use_mirror(store, final, rels)


def _mirror_path(store: AutoStore, backend: Backend, prefix: str, versions: list[tuple[str, Any, int]]) -> Path:
    import hashlib
    import json

    text = json.dumps([backend.settled_identity(), prefix, sorted(versions, key=lambda v: v[0])], default=str)
    return store._tmp() / f"mirror-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def _use_mirror(store: AutoStore, folder: Path, rels: list[str]) -> tuple[str, list[str], dict[str, Any]]:
    os.utime(folder)  # last use, for the LRU below
    mirrors = [p for p in store._tmp().iterdir() if p.name.startswith("mirror-") and p != folder]
    if len(mirrors) >= MAX_MIRRORS:
        by_use = sorted(mirrors, key=_last_use)
        for old in by_use[: len(mirrors) - MAX_MIRRORS + 1]:
            shutil.rmtree(old, ignore_errors=True)
    return str(folder), [str(folder / rel) for rel in rels], {}


def _s3_scan_kwargs(backend: Backend) -> dict[str, Any]:
    """polars' storage_options and credential provider (it outranks every credential polars would
    read from AWS_* variables; see engines.polars_scan)."""
    options, provider = backend.polars_scan()
    if provider is None:
        return {"storage_options": options}
    return {"storage_options": options, "credential_provider": provider}


def _last_use(folder: Path) -> float:
    try:
        return folder.stat().st_mtime
    except FileNotFoundError:  # removed by another thread meanwhile
        return 0.0


def _hive_columns(
    pl: Any, names: list[str], parts: dict[str, list[tuple[str, str]]], files: list[ObjectMeta], sources: list[str]
) -> list[Any]:
    columns = []
    for i, name in enumerate(names):
        raw = {src: parts[m.key][i][1] for m, src in zip(files, sources, strict=True)}
        dtype, values = _typed(pl, raw)
        columns.append(pl.col(_PATH_COLUMN).replace_strict(values, return_dtype=dtype).alias(name))
    return columns


def _typed(pl: Any, raw: dict[str, str]) -> tuple[Any, dict[str, Any]]:
    """Partition values as Int64, else Float64, else String (as polars does for parquet)."""
    present = [v for v in raw.values() if v != _HIVE_NULL]
    for dtype, cast in ((pl.Int64, int), (pl.Float64, float)):
        try:
            converted = {k: None if v == _HIVE_NULL else cast(v) for k, v in raw.items()}
        except ValueError:
            continue
        if present:
            return dtype, converted
    return pl.String, {k: None if v == _HIVE_NULL else v for k, v in raw.items()}


# -- writing ------------------------------------------------------------------------------
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
    key, uri = _shown(store, backend, prefix)
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
    family = _family(format or "parquet")
    ext = _WRITE_EXT[family]
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

    staging = local / f"{TEMP_MARKER}{write_id}" if local is not None else store._temp_path(f"dataset-{write_id}")
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
                store._after_delete(backend, k)
                store._index.removed(backend, _stem(store, k), k)
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
        store._after_write(backend, target)
        store._index.resolved(backend, _stem(store, target), target)


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
            store._after_delete(backend, key)
            store._index.removed(backend, _stem(store, key), key)
    for folder in sorted(set(created), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _stem(store: AutoStore, key: str) -> str:
    """``key`` without its registered extension (the extensionless key ``store[...]`` takes)."""
    ext = store._handlers.known_extension(key.rpartition("/")[2])
    return key[: -len(ext)] if ext else key
