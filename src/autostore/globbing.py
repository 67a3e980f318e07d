"""Glob patterns and folder walks, shared by ``AutoStore.list_files`` and ``AutoPath``.

Two users:

- ``AutoStore.list_files`` matches whole "/"-separated keys with :func:`glob_regex`: ``*`` and
  ``?`` stay inside one folder (unless ``recursive``), ``**`` spans folders and ``**/`` also
  matches zero folders, ``[abc]`` / ``[!abc]`` are fnmatch's character classes.
- ``AutoPath.glob``/``rglob``/``walk`` follow Python 3.11's ``pathlib`` exactly, on any
  :class:`Tree` (a local folder, or a listing of an object-store prefix): the pattern is read
  as pathlib reads it (:func:`parse_pattern`), then selected component by component as
  pathlib's selectors do (:func:`select`), names compared with ``fnmatch``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

__all__ = [
    "Entry",
    "ListingTree",
    "Tree",
    "glob_regex",
    "literal_prefix",
    "parse_pattern",
    "select",
    "walk_tree",
]

Rel = tuple[str, ...]
#: ``(name, is a folder following symlinks, is a folder not following symlinks)``
Entry = tuple[str, bool, bool]


def literal_prefix(pattern: str) -> str:
    """The part of ``pattern`` before its first wildcard (used to narrow a listing)."""
    for i, ch in enumerate(pattern):
        if ch in "*?[":
            return pattern[:i]
    return pattern


def _char_class(pattern: str, i: int) -> tuple[str, int]:
    """The regex for the ``[...]`` starting at ``pattern[i]`` and the index after it, read as
    ``fnmatch.translate`` reads it: ``]`` first in the class is literal, ``[!...]`` negates,
    reversed ranges (``z-a``) match nothing, a ``[`` without its ``]`` is literal."""
    start = i + 1
    j = start
    n = len(pattern)
    if j < n and pattern[j] == "!":
        j += 1
    if j < n and pattern[j] == "]":
        j += 1
    while j < n and pattern[j] != "]":
        j += 1
    if j >= n:
        return re.escape("["), i + 1
    body = pattern[start:j]
    if "-" not in body:
        stuff = body.replace("\\", r"\\")
    else:
        chunks = []
        k = start + 2 if pattern[start] == "!" else start + 1
        lo = start
        while True:
            k = pattern.find("-", k, j)
            if k < 0:
                break
            chunks.append(pattern[lo:k])
            lo = k + 1
            k += 3
        chunk = pattern[lo:j]
        if chunk:
            chunks.append(chunk)
        else:
            chunks[-1] += "-"
        for k in range(len(chunks) - 1, 0, -1):  # drop empty ranges such as "z-a"
            if chunks[k - 1][-1] > chunks[k][0]:
                chunks[k - 1] = chunks[k - 1][:-1] + chunks[k][1:]
                del chunks[k]
        stuff = "-".join(s.replace("\\", r"\\").replace("-", r"\-") for s in chunks)
    stuff = re.sub(r"([&~|])", r"\\\1", stuff)
    if not stuff:
        return "(?!)", j + 1  # an empty class never matches
    if stuff == "!":
        return "[^/]", j + 1  # a negated empty class matches any one character
    if stuff[0] == "!":
        stuff = "^" + stuff[1:] + "/"  # a class never matches "/" (last: a leading "]" stays literal)
    elif stuff[0] in ("^", "["):
        stuff = "\\" + stuff
    return "(?!/)[" + stuff + "]", j + 1


def glob_regex(pattern: str, recursive: bool) -> re.Pattern[str]:
    """A compiled regex matching whole keys against ``pattern`` (names may hold any character,
    newlines included)."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "[":
            regex, i = _char_class(pattern, i)
            out.append(regex)
            continue
        if ch == "*":
            out.append(".*" if recursive else "[^/]*")
        elif ch == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


# -- pathlib's glob ---------------------------------------------------------------------------
def parse_pattern(pattern: str, *, rglob: bool = False) -> Rel:
    """The components of a glob pattern as Python 3.11's pathlib reads them: empty and ``.``
    components dropped, a trailing "/" kept as a final ``""`` (folders only), ``rglob`` adds a
    leading ``**``. ValueError for an empty pattern (``""``, ``"."``) and for ``**`` inside a
    component; NotImplementedError for an absolute one."""
    if pattern.startswith("/"):
        raise NotImplementedError("Non-relative patterns are unsupported")
    parts = [p for p in pattern.split("/") if p not in ("", ".")]
    if pattern.endswith("/"):
        parts.append("")
    if rglob:
        parts.insert(0, "**")
    if not parts or parts == [""]:
        # pathlib 3.11 raises ValueError for "" and crashes (IndexError/AttributeError) for "."
        raise ValueError(f"Unacceptable pattern: {pattern!r}")
    for part in parts:
        if "**" in part and part != "**":
            raise ValueError("Invalid pattern: '**' can only be an entire path component")
    return tuple(parts)


def is_wildcard(part: str) -> bool:
    return "*" in part or "?" in part or "[" in part


class Tree(Protocol):
    """A folder tree seen from a base folder; ``rel`` are component tuples below it (they can
    hold ``..``)."""

    def is_dir(self, rel: Rel) -> bool:
        """True for a folder (following symlinks)."""

    def exists(self, rel: Rel) -> bool:
        """True when something is there (following symlinks)."""

    def scan(self, rel: Rel, strict: bool = False) -> list[Entry]:
        """The entries of the folder ``rel``, sorted by name. ``[]`` when it cannot be listed,
        or with ``strict`` the error (FileNotFoundError, NotADirectoryError, ...)."""


def select(tree: Tree, parts: Rel, *, case_sensitive: bool | None = None) -> Iterator[Rel]:
    """What Python 3.11's ``Path.glob`` selects for the components ``parts``, as paths relative
    to the tree's base (they keep ``..`` as pathlib's do: normalise them when making paths).
    ``case_sensitive=False`` compares names ignoring case (Python 3.12's parameter)."""
    if not tree.is_dir(()):
        return iter(())
    flags = re.IGNORECASE if case_sensitive is False else 0
    matchers: dict[str, Callable[[str], object]] = {}

    def matcher(part: str) -> Callable[[str], object]:
        found = matchers.get(part)
        if found is None:
            found = matchers[part] = re.compile(fnmatch.translate(part), flags).match
        return found

    def dirs_below(rel: Rel) -> Iterator[Rel]:
        yield rel
        for name, _, is_dir_here in tree.scan(rel):
            if is_dir_here:  # "**" does not descend into symlinked folders
                yield from dirs_below((*rel, name))

    def sel(rel: Rel, parts: Rel) -> Iterator[Rel]:
        if not parts or not parts[0]:
            yield rel  # the end of the pattern, or a trailing "/" after a folder
            return
        part, rest = parts[0], parts[1:]
        dir_only = bool(rest)
        if part == "**":
            yielded: set[Rel] = set()
            for start in dirs_below(rel):
                for found in sel(start, rest):
                    if found not in yielded:
                        yielded.add(found)
                        yield found
        elif is_wildcard(part) or (flags and part != ".."):
            match = matcher(part)
            for name, is_dir, _ in tree.scan(rel):
                if (is_dir or not dir_only) and match(name):
                    yield from sel((*rel, name), rest)
        else:
            child = (*rel, part)
            if tree.is_dir(child) if dir_only else tree.exists(child):
                yield from sel(child, rest)

    return sel((), parts)


class _Done:
    """A bottom-up walk's entry, yielded once its folder's children have been walked."""

    __slots__ = ("item",)

    def __init__(self, item: tuple[Rel, list[str], list[str]]) -> None:
        self.item = item


def walk_tree(
    tree: Tree,
    *,
    top_down: bool = True,
    on_error: Callable[[OSError], object] | None = None,
    follow_symlinks: bool = False,
) -> Iterator[tuple[Rel, list[str], list[str]]]:
    """Python 3.12's ``Path.walk`` on ``tree``: ``(folder, folder names, file names)``; a
    folder that cannot be listed goes to ``on_error`` (the base too: a missing base yields
    nothing). Top-down, removing names from the yielded folder list prunes the walk. Symlinks
    to folders are file names unless ``follow_symlinks``."""
    stack: list[Rel | _Done] = [()]
    while stack:
        item = stack.pop()
        if isinstance(item, _Done):
            yield item.item
            continue
        try:
            entries = tree.scan(item, strict=True)
        except OSError as exc:
            if on_error is not None:
                on_error(exc)
            continue
        dirnames = [name for name, is_dir, is_dir_here in entries if (is_dir if follow_symlinks else is_dir_here)]
        folders = set(dirnames)
        filenames = [name for name, _, _ in entries if name not in folders]
        if top_down:
            yield item, dirnames, filenames
        else:
            stack.append(_Done((item, dirnames, filenames)))
        stack += [(*item, name) for name in reversed(dirnames)]


class ListingTree:
    """A :class:`Tree` built from a listing below a prefix: ``(relative key, is a folder)`` pairs
    (object stores: folders are prefixes, a name can be a file and a folder, which counts as a
    folder). ``..`` is resolved by name; it cannot leave the listed prefix."""

    def __init__(self, entries: Iterable[tuple[str, bool]], *, exists: bool, missing: Callable[[], OSError]) -> None:
        self._dirs: dict[Rel, dict[str, bool]] = {(): {}}
        self._exists = exists
        self._missing = missing
        for rel, is_dir in entries:
            parts = tuple(rel.split("/"))
            for i in range(len(parts)):
                folder = i < len(parts) - 1 or is_dir
                children = self._dirs.setdefault(parts[:i], {})
                children[parts[i]] = children.get(parts[i], False) or folder
                if folder:
                    self._dirs.setdefault(parts[: i + 1], {})
            self._exists = True

    @staticmethod
    def _norm(rel: Rel) -> Rel | None:
        out: list[str] = []
        for part in rel:
            if part == "..":
                if not out:
                    return None
                out.pop()
            else:
                out.append(part)
        return tuple(out)

    def is_dir(self, rel: Rel) -> bool:
        norm = self._norm(rel)
        if norm == ():
            return self._exists
        return norm is not None and norm in self._dirs

    def exists(self, rel: Rel) -> bool:
        norm = self._norm(rel)
        if not norm:
            return norm == () and self._exists
        return norm[-1] in self._dirs.get(norm[:-1], {})

    def scan(self, rel: Rel, strict: bool = False) -> list[Entry]:
        if not self.is_dir(rel):
            if strict:
                raise self._missing()
            return []
        norm = self._norm(rel)
        assert norm is not None
        return [(name, d, d) for name, d in sorted(self._dirs.get(norm, {}).items())]
