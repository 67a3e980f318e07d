"""Folders as datasets: a polars LazyFrame over every data file below a folder, and
partitioned writes of a frame into a folder.

Reading lists the folder once (through the backend, so credentials and errors are the store's)
and hands polars the exact list of files: local paths, or ``s3://`` URIs with the store's
``storage_options``, so polars scans them in place — nothing is downloaded first, filters and
column selections reach the files (only the needed row groups and columns are fetched).
Hive folders (``year=2024/month=01/``) below the dataset folder become columns.

Writing stages the files polars produces in a temporary folder, then moves (local) or uploads
(object stores) each file to its final key, so every file appears atomically.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
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
}
#: names accepted by ``format=`` -> format family
_FAMILY_OF_NAME = {ext.lstrip("."): family for ext, family in _FAMILY_OF_EXT.items()}
#: format family -> extension used when writing
_WRITE_EXT = {"parquet": ".parquet", "csv": ".csv", "tsv": ".tsv", "jsonl": ".jsonl"}
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
    return name[dot:].lower() if dot > 0 else "(no extension)"


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

    root, sources, options = _sources(store, backend, prefix, files, cache=cache, fresh=fresh)
    if family == "parquet":
        lf = pl.scan_parquet(sources, hive_partitioning=bool(hive_names), glob=False, storage_options=options)
        # polars parses name=value folders along the whole path; only those below the dataset
        # folder are partitions of this dataset.
        above = [name for name, _ in _partitions(root.rstrip("/") + "/x") if name not in hive_names]
        if hive_names and above:
            lf = lf.drop(above, strict=False)
        if options is not None:  # read in place from an object store: a full scan fetches whole files
            from .prefetch import prefetching_scan

            lf = prefetching_scan(pl, backend, files, lf, hive_names, parts, uri)
        return lf
    scan_kwargs: dict[str, Any] = {"storage_options": options}
    if hive_names:
        scan_kwargs["include_file_paths"] = _PATH_COLUMN
    if family == "jsonl":
        lf = pl.scan_ndjson(sources, **scan_kwargs)
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
            f"{uri} holds no tabular files a dataset is made of (parquet, csv, tsv, jsonl): "
            f"found {_summary(prefix, by_ext)}. Read the files one by one with store[key]."
        )
    if len(by_ext) == 2 and set(by_ext) in ({".parquet", ".pq"}, {".jsonl", ".ndjson"}):
        family, chosen = next(iter(families.items()))  # two spellings of one format
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
) -> tuple[str, list[str], dict[str, Any] | None]:
    """(root the sources start with, sources for polars, storage_options)."""
    local = backend.local_path(prefix)
    if local is not None:
        root = str(local)
        return root, [str(backend.local_path(m.key)) for m in files], None
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
        return root, [f"s3://{backend.bucket}/{m.key}" for m in files], backend.storage_options("polars")
    log.debug("polars cannot read %s in place; copying %d files locally", backend.uri(prefix), len(files))
    return _mirror(store, backend, prefix, files, None, fresh)


def _mirror(
    store: AutoStore, backend: Backend, prefix: str, files: list[ObjectMeta], cache: DownloadCache | None, fresh: bool
) -> tuple[str, list[str], dict[str, Any] | None]:
    """Local copies of the files in the store's temporary folder (removed by ``store.close()``),
    taken from the download cache when given (hard links: no copy), else downloaded."""
    folder = store._temp_path("dataset")
    targets = [folder / m.key[len(prefix) :] for m in files]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)

    def fetch(meta: ObjectMeta, target: Path) -> None:
        if cache is None:
            backend.download(meta.key, target)
            return
        with cache.local_file(backend, meta.key, fresh=fresh) as path:
            # The cache never rewrites an entry's file in place, so a second link is a stable copy.
            try:
                os.link(path, target)
            except OSError:  # another filesystem, or no hard links
                shutil.copyfile(path, target)

    with ThreadPoolExecutor(max_workers=min(8, len(files))) as pool:
        list(pool.map(fetch, files, targets))
    return str(folder), [str(t) for t in targets], None


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

    ``partition_by`` writes hive folders (``name=value/part-0.parquet``, the columns are not
    repeated inside the files). ``mode="overwrite"`` then removes the folder's other data files,
    so the folder holds exactly ``value``; ``mode="append"`` adds uniquely named files.
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
    write_id = uuid.uuid4().hex[:8]
    local = backend.local_path(prefix)
    # Local: stage inside the target folder (same filesystem, so each file is moved in with an
    # atomic rename; hidden from listings). Object stores: stage in the store's temp folder.
    from .backends.local import TEMP_MARKER

    staging = local / f"{TEMP_MARKER}{write_id}" if local is not None else store._temp_path(f"dataset-{write_id}")
    try:
        _sink(pl, lf, family, staging, keys, ext)
        placed = _place(store, backend, prefix, staging, ext, write_id if mode == "append" else None)
    except BaseException:
        _remove_late(staging)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    if mode == "overwrite":
        stale = [
            m.key
            for m in backend.list_objects(prefix)
            if m.key not in placed
            and m.key[len(prefix) :].lower().endswith(TABULAR_EXTENSIONS)
            and not is_hidden(m.key[len(prefix) :])
        ]
        if stale:
            log.debug("removing %d old data files below %s", len(stale), uri)
            backend.delete_many(stale)
            for k in stale:
                store._after_delete(backend, k)
                store._index.removed(backend, _stem(store, k), k)
    return key


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
        else:
            lf.sink_csv(target, separator="\t" if family == "tsv" else ",", mkdir=True)
    except (pl.exceptions.PolarsError, OSError) as exc:
        if isinstance(exc, OSError) or is_os_error(exc):  # a full disk, no permission: not the frame
            raise os_error(exc, f"Cannot write the frame as {family} into {staging.parent}") from exc
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise FormatError(f"Cannot write the frame as {family}: {type(exc).__name__}: {first[:300]}") from exc


def _place(store: AutoStore, backend: Backend, prefix: str, staging: Path, ext: str, append_id: str | None) -> set[str]:
    """Move/upload every staged file to its final key; returns the keys written."""
    moves: list[tuple[Path, str]] = []
    for dirpath, _dirs, names in os.walk(staging):
        for name in names:
            path = Path(dirpath) / name
            folder = path.parent.relative_to(staging).as_posix()
            stem = name[: -len(ext)] if name.endswith(ext) else name
            number = int(stem) if stem.isdigit() else stem.removeprefix("part-")
            final = f"part-{append_id}-{number}{ext}" if append_id else f"part-{number}{ext}"
            moves.append((path, prefix + ("" if folder == "." else folder + "/") + final))
    moves.sort(key=lambda m: m[1])
    from .backends.local import LocalBackend

    if isinstance(backend, LocalBackend):
        for path, target in moves:
            backend.rename(path.relative_to(backend.root).as_posix(), target)
    elif moves:
        with ThreadPoolExecutor(max_workers=min(8, len(moves))) as pool:
            list(pool.map(lambda m: backend.upload(m[1], m[0]), moves))
    for _, target in moves:
        store._after_write(backend, target)
        store._index.resolved(backend, _stem(store, target), target)
    return {target for _, target in moves}


def _stem(store: AutoStore, key: str) -> str:
    """``key`` without its registered extension (the extensionless key ``store[...]`` takes)."""
    ext = store._handlers.known_extension(key.rpartition("/")[2])
    return key[: -len(ext)] if ext else key
