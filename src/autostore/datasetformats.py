"""What a dataset folder can be made of, shared by reading (:mod:`autostore.datasets`) and writing
(:mod:`autostore.datasetwrite`): the tabular formats by extension (compressed CSV / JSON Lines
included), the names ``format=`` accepts, the extension each format is written with, and how a
dataset folder is named in messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .backends.base import TABULAR_EXTENSIONS, Backend
from .errors import UnsupportedFormat

if TYPE_CHECKING:
    from .store import AutoStore


__all__ = ["DATASET_FORMATS", "FAMILY_OF_EXT", "WRITE_EXT", "file_ext", "format_family", "shown_location"]

#: extension -> format family of the files a dataset can be made of
FAMILY_OF_EXT = {
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
_FAMILY_OF_NAME = {ext.lstrip("."): family for ext, family in FAMILY_OF_EXT.items()}
# polars decompresses gzip and zstd CSV / JSON Lines while it scans them (bz2 and xz it cannot).
_COMPRESSIBLE = {ext: family for ext, family in FAMILY_OF_EXT.items() if family in ("csv", "tsv", "jsonl")}
FAMILY_OF_EXT.update({ext + codec: family for ext, family in _COMPRESSIBLE.items() for codec in (".gz", ".zst")})
_CODECS = (".gz", ".zst", ".bz2", ".xz")
#: format family -> extension used when writing
WRITE_EXT = {"parquet": ".parquet", "csv": ".csv", "tsv": ".tsv", "jsonl": ".jsonl", "ipc": ".arrow"}
DATASET_FORMATS = tuple(WRITE_EXT)

assert set(FAMILY_OF_EXT) == set(TABULAR_EXTENSIONS)


def format_family(format: str) -> str:
    family = _FAMILY_OF_NAME.get(format.lower().lstrip("."))
    if family is None:
        raise UnsupportedFormat(
            f"format={format!r} cannot be a dataset; datasets are made of {', '.join(sorted(_FAMILY_OF_NAME))} files."
        )
    return family


def file_ext(name: str) -> str:
    dot = name.rfind(".")
    if dot <= 0:
        return "(no extension)"
    ext = name[dot:].lower()
    before = name.rfind(".", 0, dot)
    if ext in _CODECS and before > 0:  # "x.csv.gz": a format inside a codec
        return name[before:].lower()
    return ext


def shown_location(store: AutoStore, backend: Backend, prefix: str) -> tuple[str, str]:
    """(key as the user would write it, full URI) of the folder ``prefix``."""
    if backend is store.core.primary and prefix.startswith(store.core.prefix):
        return prefix[len(store.core.prefix) :], backend.uri(prefix)
    return backend.uri(prefix), backend.uri(prefix)
