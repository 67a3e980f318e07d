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

Writing is :mod:`autostore.datasetwrite`; the formats a dataset holds are
:mod:`autostore.datasetformats`.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .backends.base import Backend, ObjectMeta, is_hidden
from .datasetformats import DATASET_FORMATS, FAMILY_OF_EXT, file_ext, format_family, shown_location
from .datasetwrite import write_dataset
from .errors import ConfigError, FormatError, NotFound
from .formats.base import require

if TYPE_CHECKING:
    from .cache import DownloadCache
    from .store import AutoStore


__all__ = ["DATASET_FORMATS", "scan_dataset", "write_dataset"]

log = logging.getLogger("autostore")

_PATH_COLUMN = "__autostore_source_path__"
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_EXAMPLES = 3


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
    listing: list[ObjectMeta] | None = None,
) -> Any:
    """A polars LazyFrame over the data files below the folder ``prefix`` (ends with "/").

    ``cache=True`` first brings every file into the store's download cache (``fresh``: checked
    with the server even when cached) and scans local links to the cached files instead.
    ``listing``: the objects below ``prefix`` when the caller has listed them already.
    """
    pl = require("polars", None, "Reading a folder as a dataset")
    key, uri = shown_location(store, backend, prefix)
    found = backend.list_objects(prefix) if listing is None else listing
    files, family = _select_files(found, prefix, key, uri, format)
    parts = {m.key: _partitions(m.key[len(prefix) :]) for m in files}
    hive_names = _check_partitions(parts, prefix, uri)

    root, sources, scan_kwargs = _sources(store, backend, prefix, files, cache=cache, fresh=fresh)
    if family == "parquet":
        if root.startswith("s3://") and len(sources) > 1:
            scan_kwargs["schema"] = _first_file_schema(pl, sources[0], scan_kwargs)
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


def _first_file_schema(pl: Any, source: str, scan_kwargs: dict[str, Any]) -> Any:
    """The columns of the first file, from its footer (one ranged GET), or None when it cannot be
    read (polars' own scan then reports the file when the query runs).

    polars takes a dataset's columns from its first file anyway (other files must match them),
    but to learn them it fetches the footers of the first 16 files at once; given the schema,
    it fetches no footer until the query runs, and a full scan fetched whole files needs none.
    """
    try:
        return pl.scan_parquet(source, glob=False, hive_partitioning=False, **scan_kwargs).collect_schema()
    except Exception:
        return None


def _select_files(
    found: Iterable[ObjectMeta], prefix: str, key: str, uri: str, format: str | None
) -> tuple[list[ObjectMeta], str]:
    by_ext: dict[str, list[ObjectMeta]] = {}
    for meta in found:
        rel = meta.key[len(prefix) :]
        if rel and not rel.endswith("/") and not is_hidden(rel):
            by_ext.setdefault(file_ext(rel.rpartition("/")[2]), []).append(meta)
    if not by_ext:
        raise NotFound(
            f"No data files below {uri}: the folder is empty or does not exist. "
            f"Write one with store[{key!r}] = df, or check store.list_files()."
        )
    families: dict[str, list[ObjectMeta]] = {}
    for ext, metas in by_ext.items():
        if ext in FAMILY_OF_EXT:
            families.setdefault(FAMILY_OF_EXT[ext], []).extend(metas)
    if format is not None:
        family = format_family(format)
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
    if len(families) == 1 and all(ext in FAMILY_OF_EXT for ext in by_ext):
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
        download_cache = store.core.cache_for(backend)
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
    staging = store.core.temp_path("mirror")
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
    return store.core.tmp() / f"mirror-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def _use_mirror(store: AutoStore, folder: Path, rels: list[str]) -> tuple[str, list[str], dict[str, Any]]:
    os.utime(folder)  # last use, for the LRU below
    mirrors = [p for p in store.core.tmp().iterdir() if p.name.startswith("mirror-") and p != folder]
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
