"""autostore: put and get typed data on local disk and any object store.

from autostore import AutoStore
store = AutoStore("./data")          # or "s3://bucket/prefix/"
store["sales"] = df                  # -> ./data/sales.parquet
AutoPath("s3://bucket/x.json").read_text()
"""

from __future__ import annotations

from .errors import (
    AlreadyExists,
    AmbiguousKey,
    AuthError,
    AutoStoreError,
    BackendError,
    BatchError,
    BucketNotFound,
    ConfigError,
    CorruptData,
    DirectoryNotEmpty,
    FormatError,
    InvalidKey,
    InvalidTarget,
    IsADirectory,
    MissingDependency,
    NotADirectory,
    NotFound,
    SourceChanged,
    UnsafeLoad,
    UnsupportedFormat,
    UnsupportedOperation,
)
from .formats.base import DataHandler
from .metrics import StoreStats
from .metrics import process_stats as stats
from .options import AzureOptions, GCSOptions, Options, S3Options
from .path import AutoPath
from .store import AutoStore
from .uri import register_scheme

__version__ = "0.2.0"

__all__ = [
    "AlreadyExists",
    "AmbiguousKey",
    "AuthError",
    "AutoPath",
    "AutoStore",
    "AutoStoreError",
    "AzureOptions",
    "BackendError",
    "BatchError",
    "BucketNotFound",
    "ConfigError",
    "CorruptData",
    "DataHandler",
    "DirectoryNotEmpty",
    "FormatError",
    "GCSOptions",
    "InvalidKey",
    "InvalidTarget",
    "IsADirectory",
    "MissingDependency",
    "NotADirectory",
    "NotFound",
    "Options",
    "S3Options",
    "SourceChanged",
    "StoreStats",
    "UnsafeLoad",
    "UnsupportedFormat",
    "UnsupportedOperation",
    "__version__",
    "register_scheme",
    "stats",
]
