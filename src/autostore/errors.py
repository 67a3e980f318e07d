"""One exception hierarchy for autostore.

Every error names the key or URI it is about (never a secret) and says what to do::

    AutoStoreError
    ├── ConfigError            (ValueError)        bad options, unknown scheme, bad URL
    ├── InvalidKey             (ValueError)        "..", NUL, absolute path, escaping the root
    │   └── InvalidTarget      (+ OSError, EINVAL) a folder moved or copied into itself
    ├── NotFound               (FileNotFoundError, KeyError)
    ├── AmbiguousKey           (KeyError)          "a" matches a.json and a.parquet
    ├── AlreadyExists          (FileExistsError)
    ├── IsADirectory           (IsADirectoryError) a file operation on a folder (AutoPath)
    ├── NotADirectory          (NotADirectoryError) a folder operation on a file (AutoPath)
    ├── DirectoryNotEmpty      (OSError, ENOTEMPTY) rmdir of a folder with content (AutoPath)
    ├── SourceChanged          (OSError)           a moved source changed after it was copied: kept
    ├── AuthError              (PermissionError)   wrong credentials, access denied
    ├── BackendError           (OSError)           network, timeouts, server errors
    │   └── BucketNotFound                         the bucket/container does not exist
    ├── FormatError            (ValueError)
    │   ├── UnsupportedFormat                      unknown extension / value type
    │   ├── CorruptData                            file cannot be decoded
    │   └── UnsafeLoad                             pickle refused by allow_pickle=False
    ├── MissingDependency      (ImportError)       optional library not installed
    ├── UnsupportedOperation   (NotImplementedError) the backend cannot do this (e.g. versions on local disk)
    └── BatchError                                 some keys of get_many/put_many failed

Catching the builtin parent works as pathlib/dict users expect: ``except KeyError`` catches a
missing key, ``except FileNotFoundError`` a missing path.
"""

from __future__ import annotations

import errno

__all__ = [
    "AlreadyExists",
    "AmbiguousKey",
    "AuthError",
    "AutoStoreError",
    "BackendError",
    "BatchError",
    "BucketNotFound",
    "ConfigError",
    "CorruptData",
    "DirectoryNotEmpty",
    "FormatError",
    "InvalidKey",
    "InvalidTarget",
    "IsADirectory",
    "MissingDependency",
    "NotADirectory",
    "NotFound",
    "SourceChanged",
    "UnsafeLoad",
    "UnsupportedFormat",
    "UnsupportedOperation",
]


class AutoStoreError(Exception):
    """Root of every error autostore raises."""

    def __str__(self) -> str:
        # KeyError subclasses would otherwise print the repr of the message.
        return str(self.args[0]) if self.args else self.__class__.__name__


class ConfigError(AutoStoreError, ValueError):
    """Invalid options, unknown scheme or malformed URI."""


class InvalidKey(AutoStoreError, ValueError):
    """A key that is unsafe or malformed (``..``, NUL, absolute, escaping the store root)."""


class InvalidTarget(InvalidKey, OSError):
    """A folder moved or copied into itself (``errno`` is ``EINVAL``, as pathlib's ``rename``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.errno = errno.EINVAL


class NotFound(AutoStoreError, FileNotFoundError, KeyError):
    """The key or path does not exist."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.errno = errno.ENOENT  # as the OSError pathlib raises


class AmbiguousKey(AutoStoreError, KeyError):
    """An extensionless key matches more than one file."""

    def __init__(self, message: str, candidates: list[str] | None = None) -> None:
        super().__init__(message)
        self.candidates = list(candidates or [])


class AlreadyExists(AutoStoreError, FileExistsError):
    """The target exists and overwriting was not allowed."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.errno = errno.EEXIST  # as the OSError pathlib raises


class IsADirectory(AutoStoreError, IsADirectoryError):
    """A file operation (read, write, unlink) on a path that is a folder."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.errno = errno.EISDIR  # as the OSError pathlib raises


class NotADirectory(AutoStoreError, NotADirectoryError):
    """A folder operation (iterdir, rmdir) on a path that is a file."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.errno = errno.ENOTDIR  # as the OSError pathlib raises


class DirectoryNotEmpty(AutoStoreError, OSError):
    """``rmdir`` of a folder that still has content (``errno`` is ``ENOTEMPTY``, as in pathlib)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.errno = errno.ENOTEMPTY


class SourceChanged(AutoStoreError, OSError):
    """A move copied its source, but the source changed (another writer) before it could be
    removed: the source is kept, the destination holds the version that was copied."""


class AuthError(AutoStoreError, PermissionError):
    """Credentials are wrong, missing or not allowed to do this."""


class BackendError(AutoStoreError, OSError):
    """The storage backend failed (network, timeout, server error, missing bucket)."""


class BucketNotFound(BackendError):
    """The bucket or container does not exist (not a missing key: ``in`` does not hide it)."""


class FormatError(AutoStoreError, ValueError):
    """A value cannot be encoded or a file cannot be decoded."""


class UnsupportedFormat(FormatError):
    """No handler for this extension or value type."""


class CorruptData(FormatError):
    """The stored bytes cannot be decoded in the format their extension names."""


class UnsafeLoad(FormatError):
    """Loading would execute code (pickle, full torch modules) and it is not allowed."""


class MissingDependency(AutoStoreError, ImportError):
    """An optional library needed for this format or backend is not installed."""


class UnsupportedOperation(AutoStoreError, NotImplementedError):
    """The backend cannot do this at all (not a transient failure): object versions on local disk
    or ``memory://``, listing versions where only S3 lists them. The message names the backends
    that can (``NotImplementedError``, as ``pathlib.UnsupportedOperation`` in Python 3.13)."""


class BatchError(AutoStoreError):
    """Some operations of ``get_many``/``put_many`` failed; ``errors`` maps each failed key to
    its exception (the others completed)."""

    def __init__(self, message: str, errors: dict[str, BaseException]) -> None:
        super().__init__(message)
        self.errors = errors
