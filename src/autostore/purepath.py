"""PureAutoPath: the path arithmetic of an AutoPath, with no I/O and no store.

A path is a scheme, a bucket ("/" for local disk) and key segments. Everything here computes
new paths or strings from those (parsing of segments, ``/`` and ``joinpath``, ``parent``,
``name``/``suffix``/``stem``, ``with_*``, ``relative_to``, ``match``, equality, hashing,
ordering, ``as_uri``); :class:`autostore.path.AutoPath` adds the store and the I/O. Making a
path from text (which may pick a store) is the subclass's job: :meth:`PureAutoPath._from_text`.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath
from typing import Self, cast

from .errors import InvalidKey
from .uri import has_scheme, parse_location, validate_key

__all__ = ["PureAutoPath"]


class PureAutoPath:
    """Scheme, bucket and key segments of a path, and the arithmetic on them (no I/O)."""

    __slots__ = ("_bucket", "_parts", "_scheme")

    _scheme: str
    _bucket: str
    _parts: tuple[str, ...]

    def _with_parts(self, parts: tuple[str, ...]) -> Self:
        """This path with other key segments (same scheme, bucket and store)."""
        raise NotImplementedError

    def _from_text(self, text: str | os.PathLike[str]) -> Self:
        """A path from a URI or local path given to this one (a join, a relative_to base)."""
        raise NotImplementedError

    @property
    def is_local(self) -> bool:
        """True for a file or folder on this machine."""
        return self._scheme == "file"

    @property
    def drive(self) -> str:
        """``scheme://bucket`` for object stores, ``""`` for local paths."""
        return "" if self.is_local else f"{self._scheme}://{self._bucket}"

    @property
    def root(self) -> str:
        return "/"

    @property
    def anchor(self) -> str:
        """``s3://bucket/`` or ``/``: the part that every parent keeps."""
        return self.drive + "/"

    @property
    def key(self) -> str:
        """The key in the bucket (for local paths: the absolute path without its leading "/")."""
        return "/".join(self._parts)

    @property
    def parts(self) -> tuple[str, ...]:
        """``("s3://bucket/", "a", "b.json")``, like pathlib's ``("/", "a", "b.json")``."""
        return (self.anchor, *self._parts)

    @property
    def name(self) -> str:
        return self._parts[-1] if self._parts else ""

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix if self._parts else ""

    @property
    def suffixes(self) -> list[str]:
        return PurePosixPath(self.name).suffixes if self._parts else []

    @property
    def stem(self) -> str:
        return PurePosixPath(self.name).stem if self._parts else ""

    @property
    def parent(self) -> Self:
        """The folder holding this path; the bucket root (or "/") is its own parent."""
        return self._with_parts(self._parts[:-1]) if self._parts else self

    @property
    def parents(self) -> tuple[Self, ...]:
        """Every ancestor, nearest first, ending with the bucket root (or "/")."""
        return tuple(self._with_parts(self._parts[:i]) for i in range(len(self._parts) - 1, -1, -1))

    def __str__(self) -> str:
        if self.is_local:
            return "/" + self.key
        return self.drive + ("/" + self.key if self._parts else "")

    def __repr__(self) -> str:
        return f"AutoPath({str(self)!r})"

    def as_posix(self) -> str:
        """The path with forward slashes: the URI, or the plain path for local files."""
        return str(self)

    def as_uri(self) -> str:
        """``file:///...`` for local paths (percent-encoded like pathlib), ``s3://...`` otherwise."""
        return PurePosixPath(str(self)).as_uri() if self.is_local else str(self)

    def is_absolute(self) -> bool:
        """Always True: local paths are resolved against the current directory when created."""
        return True

    def absolute(self) -> Self:
        return self

    def expanduser(self) -> Self:
        return self

    def __fspath__(self) -> str:
        if self.is_local:
            return str(self)
        raise TypeError(
            f"{self} is not on local disk; use `with path.local_path() as p:` to get a local copy, "
            "or read_bytes()/open()."
        )

    def _key_tuple(self) -> tuple[str, str, tuple[str, ...]]:
        return (self._scheme, self._bucket, self._parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PureAutoPath):
            return NotImplemented
        return self._key_tuple() == other._key_tuple()

    def __hash__(self) -> int:
        return hash(self._key_tuple())

    def __lt__(self, other: PureAutoPath) -> bool:
        if not isinstance(other, PureAutoPath):
            return NotImplemented
        return self._key_tuple() < other._key_tuple()

    def __le__(self, other: PureAutoPath) -> bool:
        if not isinstance(other, PureAutoPath):
            return NotImplemented
        return self._key_tuple() <= other._key_tuple()

    def __gt__(self, other: PureAutoPath) -> bool:
        if not isinstance(other, PureAutoPath):
            return NotImplemented
        return self._key_tuple() > other._key_tuple()

    def __ge__(self, other: PureAutoPath) -> bool:
        if not isinstance(other, PureAutoPath):
            return NotImplemented
        return self._key_tuple() >= other._key_tuple()

    def joinpath(self, *segments: str | os.PathLike[str] | PureAutoPath) -> Self:
        """Append segments; an absolute one (a URI, or "/..." for local paths) replaces the path,
        as in pathlib. ``..`` goes up lexically and stops at the bucket root."""
        path = self
        for segment in segments:
            path = path._join(segment)
        return path

    def __truediv__(self, segment: str | os.PathLike[str] | PureAutoPath) -> Self:
        try:
            return self._join(segment)
        except TypeError:
            return NotImplemented

    def __rtruediv__(self, other: str | os.PathLike[str]) -> Self:
        return self  # an AutoPath is absolute: joining it to anything gives itself, as in pathlib

    def _join(self, segment: str | os.PathLike[str] | PureAutoPath) -> Self:
        if isinstance(segment, PureAutoPath):
            return cast(Self, segment)
        text = os.fspath(segment)
        if not isinstance(text, str):
            raise TypeError(f"Cannot join {type(segment).__name__} to an AutoPath; use str.")
        if has_scheme(text):
            return self._from_text(text)
        parts = [] if text.startswith("/") else list(self._parts)
        if self.is_local and text.startswith("/"):
            return self._from_text(text)
        added: list[str] = []
        for part in text.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if added:
                    added.pop()
                elif parts:
                    parts.pop()
                continue
            added.append(part)
        if added and not self.is_local:  # checked as a key of its own (so no leading "~")
            added = validate_key("/".join(added), uri=self.drive).split("/")
        elif "\x00" in text:
            raise InvalidKey(f"Path segment {text!r} contains NUL; remove it.")
        return self._with_parts((*parts, *added))

    def with_name(self, name: str) -> Self:
        if not self._parts:
            raise ValueError(f"{self!r} has an empty name")
        if not name or "/" in name or name == ".":
            raise ValueError(f"Invalid name {name!r}")
        if not self.is_local:
            name = validate_key(name, uri=self.drive)  # NFC, as every key
        return self._with_parts((*self._parts[:-1], name))

    def with_stem(self, stem: str) -> Self:
        return self.with_name(stem + self.suffix)

    def with_suffix(self, suffix: str) -> Self:
        if not self._parts:
            raise ValueError(f"{self!r} has an empty name")
        return self.with_name(PurePosixPath(self.name).with_suffix(suffix).name)

    def _coerce(self, other: str | os.PathLike[str] | PureAutoPath) -> Self:
        """``other`` as a path; strings use this path's store (when it was given one)."""
        if isinstance(other, PureAutoPath):
            return cast(Self, other)
        return self._from_text(other)

    def relative_to(self, other: str | os.PathLike[str] | PureAutoPath) -> PurePosixPath:
        """The relative path from ``other`` to this path, as a ``PurePosixPath``
        (``str()`` gives ``"run_1/results.json"``). ValueError if not below ``other``."""
        base = self._coerce(other)
        n = len(base._parts)
        if base._scheme != self._scheme or base._bucket != self._bucket or self._parts[:n] != base._parts:
            raise ValueError(f"{str(self)!r} is not in the subpath of {str(base)!r}")
        return PurePosixPath(*self._parts[n:]) if len(self._parts) > n else PurePosixPath()

    def is_relative_to(self, other: str | os.PathLike[str] | PureAutoPath) -> bool:
        try:
            self.relative_to(other)
        except ValueError:
            return False
        return True

    def match(self, pattern: str) -> bool:
        """pathlib's ``match``: a relative pattern matches from the right (``"*.log"``); a URI
        pattern must match the whole path."""
        if has_scheme(pattern):
            loc = parse_location(pattern)
            scheme = loc.scheme
            bucket = "/" if loc.is_local else loc.bucket
            if (scheme, bucket) != (self._scheme, self._bucket):
                return False
            pattern = "/" + loc.key
        return PurePosixPath("/" + self.key).match(pattern)
