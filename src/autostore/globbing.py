"""Glob patterns over "/"-separated keys, shared by ``AutoStore.list_files`` and ``AutoPath.glob``.

``*`` and ``?`` stay inside one folder (unless ``recursive``), ``**`` spans folders and ``**/``
also matches zero folders, ``[abc]`` / ``[!abc]`` are character classes, as in pathlib.
"""

from __future__ import annotations

import re

__all__ = ["glob_regex", "literal_prefix"]


def literal_prefix(pattern: str) -> str:
    """The part of ``pattern`` before its first wildcard (used to narrow a listing)."""
    for i, ch in enumerate(pattern):
        if ch in "*?[":
            return pattern[:i]
    return pattern


def glob_regex(pattern: str, recursive: bool) -> re.Pattern[str]:
    """A compiled regex matching whole keys against ``pattern``."""
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
        if ch == "*":
            out.append(".*" if recursive else "[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : j].replace("\\", "\\\\").replace("[", "\\[")
                if body.startswith("!"):
                    body = "^" + body[1:]
                elif body.startswith("^"):
                    body = "\\" + body  # a literal "^", as in fnmatch
                out.append("(?!/)[" + body + "]")  # a class never matches "/"
                i = j
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z")
