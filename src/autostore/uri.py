"""URIs, keys and the scheme registry.

A location is either a local path (``./data``, ``/abs``, ``file:///abs``) or ``scheme://bucket/key``.
Keys are validated here, before any backend sees them: object stores rewrite or reject some keys
silently (obstore turns ``/a`` into ``a``), so we refuse anything ambiguous up front.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .errors import ConfigError, InvalidKey

__all__ = [
    "Location",
    "backend_kind",
    "folder_key",
    "join_key",
    "parse_location",
    "register_scheme",
    "supported_schemes",
    "validate_key",
]

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
SIMPLE_KEY_RE = re.compile(r"[A-Za-z0-9_\-.=,+@]+(?:/[A-Za-z0-9_\-.=,+@]+)*/?\Z")
MAX_KEY_BYTES = 1024  # S3's limit; also keeps local paths sane
MAX_SEGMENT_BYTES = 255  # common filesystem name limit
#: Names of in-progress local writes start with this; listings hide such files and
#: ``remove_stale_temp_files`` deletes them, so no key segment may start with it.
TEMP_MARKER = ".autostore-tmp-"

# scheme -> backend kind. Kinds: "local", "s3", "memory", "gs", "az", "http".
_BUILTIN_SCHEMES: dict[str, str] = {
    "file": "local",
    "s3": "s3",
    "s3a": "s3",
    "memory": "memory",
    "gs": "gs",
    "gcs": "gs",
    "az": "az",
    "abfs": "az",
    "abfss": "az",
    "azure": "az",
    "http": "http",
    "https": "http",
}
_schemes: dict[str, str] = dict(_BUILTIN_SCHEMES)

# Module names accepted by register_scheme (the seed passes "autostore.s3").
_MODULE_KINDS = {
    "autostore.s3": "s3",
    "autostore.gcs": "gs",
    "autostore.gs": "gs",
    "autostore.azure": "az",
    "autostore.az": "az",
    "autostore.memory": "memory",
    "autostore.http": "http",
    "autostore.local": "local",
}
_KINDS = frozenset(_BUILTIN_SCHEMES.values())


def register_scheme(scheme: str, backend: str = "autostore.s3", *, clobber: bool = False) -> None:
    """Make ``scheme://`` URIs use ``backend`` (a module such as ``"autostore.s3"`` or a kind
    such as ``"s3"``). ``AutoStore.register_scheme("minio", "autostore.s3")`` is the usual call."""
    name = scheme.lower().rstrip(":/")
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*", name):
        raise ConfigError(f"Invalid scheme name {scheme!r}: use letters, digits, '+', '.', '-'.")
    kind = _MODULE_KINDS.get(backend, backend)
    if kind not in _KINDS:
        known = ", ".join(sorted(_MODULE_KINDS))
        raise ConfigError(f"Unknown backend {backend!r} for scheme {scheme!r}; use one of {known}.")
    if name in _BUILTIN_SCHEMES and _BUILTIN_SCHEMES[name] != kind:
        raise ConfigError(f"Scheme {name!r} is built in and cannot be re-registered as {kind!r}.")
    current = _schemes.get(name)
    if current is not None and current != kind and not clobber:
        raise ConfigError(f"Scheme {name!r} is already registered as {current!r}; pass clobber=True to replace it.")
    _schemes[name] = kind


def supported_schemes() -> Mapping[str, str]:
    """Read-only view of scheme -> backend kind."""
    return MappingProxyType(_schemes)


def backend_kind(scheme: str) -> str:
    """The backend kind for ``scheme``, or ConfigError naming the way out."""
    kind = _schemes.get(scheme.lower())
    if kind is None:
        raise ConfigError(
            f"Unknown scheme {scheme!r}. Register it first, e.g. "
            f"AutoStore.register_scheme({scheme!r}, 'autostore.s3'), "
            f"or use one of: {', '.join(sorted(_schemes))}."
        )
    return kind


@dataclass(frozen=True)
class Location:
    """A parsed location: ``scheme`` ("file" for local), ``bucket`` (the local root "/" for
    files) and ``key`` (no leading slash; may end with "/" for a folder)."""

    scheme: str
    bucket: str
    key: str

    @property
    def kind(self) -> str:
        return backend_kind(self.scheme)

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    def uri(self) -> str:
        if self.is_local:
            return "/" + self.key if self.bucket == "/" else os.path.join(self.bucket, self.key)
        return f"{self.scheme}://{self.bucket}/{self.key}"


def has_scheme(text: str) -> bool:
    """True when ``text`` looks like ``scheme://...``."""
    return _SCHEME_RE.match(text) is not None


def parse_location(text: str | os.PathLike[str]) -> Location:
    """Parse a URI or a local path. Local paths become absolute (relative to the current
    directory), as pathlib's ``resolve`` would, without following symlinks."""
    raw = os.fspath(text)
    if not isinstance(raw, str) or not raw:
        raise InvalidKey(f"Empty location {text!r}: give a path like './data' or 's3://bucket/'.")
    m = _SCHEME_RE.match(raw)
    if m is None or len(m.group(1)) == 1:  # "C://x" would be a drive letter, not a scheme
        path = os.path.abspath(os.path.expanduser(raw))
        trailing = "/" if raw.endswith(("/", os.sep)) and path != "/" else ""
        return Location("file", "/", path.lstrip("/") + trailing)
    scheme, rest = m.group(1).lower(), m.group(2)
    kind = backend_kind(scheme)
    if kind == "local":
        path = os.path.abspath("/" + rest.lstrip("/"))
        return Location("file", "/", path.lstrip("/") + ("/" if rest.endswith("/") else ""))
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise InvalidKey(f"URI {raw!r} has no bucket: write it as '{scheme}://bucket/key'.")
    if kind == "http":
        # http(s) URIs keep the whole host:port as "bucket".
        return Location(scheme, bucket, key)
    return Location(scheme, bucket, validate_key(key, allow_empty=True) if key else "")


def validate_key(key: str, *, allow_empty: bool = False, uri: str = "") -> str:
    """Return ``key`` in normal form (NFC unicode, no leading "./"), or raise InvalidKey.

    Refused: non-strings, empty keys, NUL and control characters, absolute paths, a leading "~",
    backslashes, "." / ".." / empty segments, segments starting with the temporary-file marker
    (``.autostore-tmp-``), keys over 1024 bytes or segments over 255 bytes.
    A single trailing "/" marks a folder and is kept.
    """
    if (
        type(key) is str
        and len(key) <= MAX_SEGMENT_BYTES
        and SIMPLE_KEY_RE.match(key)
        and not key.startswith(".")
        and "/." not in key
    ):
        return key  # the common case: plain ASCII names, nothing to normalise
    where = f" in {uri}" if uri else ""
    if not isinstance(key, str):
        raise InvalidKey(f"Key {key!r}{where} must be a string, not {type(key).__name__}.")
    if not key:
        if allow_empty:
            return ""
        raise InvalidKey(f"Empty key{where}: name the file, e.g. store['results'].")
    if _CONTROL_RE.search(key):
        raise InvalidKey(f"Key {key!r}{where} contains NUL or control characters; remove them.")
    key = unicodedata.normalize("NFC", key)
    if key.startswith("/"):
        raise InvalidKey(
            f"Key {key!r}{where} is an absolute path; use a key relative to the store, "
            "or a full URI such as 's3://bucket/key'."
        )
    if key.startswith("~"):
        raise InvalidKey(f"Key {key!r}{where} starts with '~'; home directories are not expanded in keys.")
    if "\\" in key:
        raise InvalidKey(f"Key {key!r}{where} contains a backslash; use '/' to separate folders.")
    while key.startswith("./"):
        key = key[2:]
    body = key[:-1] if key.endswith("/") else key
    if not body:
        if allow_empty:
            return ""
        raise InvalidKey(f"Empty key{where}: name the file, e.g. store['results'].")
    for part in body.split("/"):
        if part in ("", ".", ".."):
            raise InvalidKey(
                f"Key {key!r}{where} has an empty, '.' or '..' segment; keys cannot leave the store or contain '//'."
            )
        if len(part.encode()) > MAX_SEGMENT_BYTES:
            raise InvalidKey(f"Key {key[:60]!r}...{where} has a segment over {MAX_SEGMENT_BYTES} bytes.")
        if part.startswith(TEMP_MARKER):
            raise InvalidKey(
                f"Key {key!r}{where} has a segment starting with {TEMP_MARKER!r}, the name autostore gives "
                "temporary files (hidden from listings, deleted as leftovers); rename it."
            )
    if len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidKey(f"Key {key[:60]!r}...{where} is over {MAX_KEY_BYTES} bytes; shorten it.")
    return key


def folder_key(key: str) -> str:
    """``key`` as a folder prefix: ``"a/b"`` and ``"a/b/"`` give ``"a/b/"``; the root is ``""``."""
    body = key.rstrip("/")
    return body + "/" if body else ""


def join_key(prefix: str, key: str) -> str:
    """Join a folder prefix ("" or "a/b/") and a relative key."""
    if not prefix:
        return key
    return prefix if not key else (prefix if prefix.endswith("/") else prefix + "/") + key
