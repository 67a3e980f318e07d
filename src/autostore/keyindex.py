"""Which stored file an extensionless key means, with as few LIST requests as possible.

``store["a/b"]`` must find the one ``a/b.<ext>`` file. Listing for every read would double the
requests, so the first lookup in a folder lists it once (one page) and later lookups in that
folder are answered from that snapshot. The snapshot is a *positive* cache for reads: a key it
does not know is looked up again on the server (another process may have written it since).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from .backends.base import Backend

__all__ = ["KeyIndex"]

PAGE = 1000  # one S3 LIST page
MAX_FOLDERS = 256  # folder listings kept (each at most PAGE keys)
MAX_KEYS = 10_000  # resolved keys kept; the oldest go first (they are looked up again if needed)


class _Folder:
    """One folder listing, indexed by stem ("a/b" for "a/b.json"). A file without a known
    extension (as 0.1.x wrote them: "a/b" holding JSON) is its own stem."""

    __slots__ = ("complete", "last", "stems")

    def __init__(self, listed: list[tuple[str, int]], complete: bool, ext_of: Callable[[str], str | None]) -> None:
        self.stems: dict[str, set[str]] = {}
        for key, size in listed:
            # A zero-byte name without extension may be a folder marker ("a/" listed as "a"):
            # such a key is looked up on the server instead (KeyIndex.candidates).
            if size or ext_of(key.rpartition("/")[2]) is not None:
                self.add(key, ext_of)
        self.complete = complete
        self.last = max(key for key, _ in listed) if listed else ""

    def add(self, key: str, ext_of: Callable[[str], str | None]) -> None:
        self.stems.setdefault(_stem(key, ext_of), set()).add(key)

    def discard(self, key: str, ext_of: Callable[[str], str | None]) -> None:
        found = self.stems.get(_stem(key, ext_of))
        if found is not None:
            found.discard(key)

    def covers(self, stem: str) -> bool:
        # Every "stem.*" key sorts before "stem/" ('.' < '/'), so a listing that reached past
        # "stem/" saw all of them.
        return self.complete or self.last >= stem + "/"


def _stem(key: str, ext_of: Callable[[str], str | None]) -> str:
    ext = ext_of(key.rpartition("/")[2])
    return key[: -len(ext)] if ext else key


class KeyIndex:
    """Resolves extensionless keys for one store; thread-safe, bounded (``MAX_KEYS`` resolved
    keys, ``MAX_FOLDERS`` folder listings)."""

    def __init__(self, ext_of: Callable[[str], str | None]) -> None:
        self._ext_of = ext_of  # name -> its registered extension, or None
        self._exact: dict[tuple[Backend, str], str] = {}
        self._folders: OrderedDict[tuple[Backend, str], _Folder] = OrderedDict()
        self._loading: dict[tuple[Backend, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._exact.clear()
            self._folders.clear()

    @property
    def empty(self) -> bool:
        """Nothing resolved or listed yet: a write by full name has nothing here to update."""
        return not self._exact and not self._folders

    # -- lookups --------------------------------------------------------------------------
    def remembered(self, backend: Backend, full: str) -> str | None:
        """The file ``full`` resolved to before (no request)."""
        return self._exact.get((backend, full))

    def listed(self, backend: Backend, full: str) -> str | None:
        """The one file a folder listing already held names for ``full`` (no request; None when
        that folder is not listed yet, or it names none or several)."""
        with self._lock:  # the set of a stem changes under this lock (_update)
            snap = self._folders.get((backend, full.rpartition("/")[0]))
            if snap is None or not snap.covers(full):
                return None
            found = snap.stems.get(full)
            return next(iter(found)) if found is not None and len(found) == 1 else None

    def candidates(self, backend: Backend, full: str, *, trust_absence: bool) -> list[str]:
        """Stored keys ``full.<known ext>``, and ``full`` itself when a file has that bare name
        (0.1.x wrote every value so). With ``trust_absence`` False an empty snapshot answer is
        checked on the server (reads); writes accept it (they only tidy old siblings)."""
        folder = full.rpartition("/")[0]
        snap = self._folder(backend, folder)
        if snap is not None and snap.covers(full):
            found = sorted(snap.stems.get(full, ()))
            if found or trust_absence:
                return found
        found = self._matching(backend.list_stem(full), full)
        if self._bare_file(backend, full):
            found = sorted([*found, full])
        return found

    @staticmethod
    def _bare_file(backend: Backend, full: str) -> bool:
        from .errors import NotFound

        try:
            backend.head(full)
        except NotFound:
            return False
        return True

    def _matching(self, keys: list[str], full: str) -> list[str]:
        out = []
        for key in keys:
            ext = self._ext_of(key.rpartition("/")[2])
            if ext is not None and key[: -len(ext)] == full:
                out.append(key)
        return sorted(out)

    def _folder(self, backend: Backend, folder: str) -> _Folder | None:
        ident = (backend, folder)
        with self._lock:
            snap = self._folders.get(ident)
            if snap is not None:
                self._folders.move_to_end(ident)
                return snap
        with self._lock:
            loading = self._loading.setdefault(ident, threading.Lock())
        with loading:  # concurrent first lookups in one folder list it once
            snap = self._folders.get(ident)
            if snap is not None:
                return snap
            listed: list[tuple[str, int]] = []
            complete = True
            prefix = folder + "/" if folder else ""
            for meta in backend.list_objects(prefix):
                if len(listed) >= PAGE:
                    complete = False
                    break
                listed.append((meta.key, meta.size))
            snap = _Folder(listed, complete, self._ext_of)
            with self._lock:
                self._folders[ident] = snap
                self._loading.pop(ident, None)
                while len(self._folders) > MAX_FOLDERS:
                    self._folders.popitem(last=False)
        return snap

    # -- updates from this store's own writes ----------------------------------------------
    def resolved(self, backend: Backend, full: str, stored: str) -> None:
        with self._lock:
            self._exact[(backend, full)] = stored
            while len(self._exact) > MAX_KEYS:  # dicts keep insertion order: drop the oldest
                self._exact.pop(next(iter(self._exact)), None)
        self._update(backend, stored, present=True)

    def added(self, backend: Backend, stem: str, stored: str) -> None:
        """``stored`` was written by its explicit name: ``stem`` may now match more files."""
        with self._lock:
            self._exact.pop((backend, stem), None)
        self._update(backend, stored, present=True)

    def removed(self, backend: Backend, full: str, stored: str) -> None:
        with self._lock:
            self._exact.pop((backend, full), None)
            self._exact.pop((backend, stored), None)
        self._update(backend, stored, present=False)

    def forget(self, backend: Backend, full: str) -> bool:
        """Drop what is remembered for ``full`` (it proved stale); True if anything was."""
        folder = full.rpartition("/")[0]
        with self._lock:
            stored = self._exact.pop((backend, full), None)
            dropped = self._folders.pop((backend, folder), None)
        return stored is not None or dropped is not None

    def _update(self, backend: Backend, stored: str, *, present: bool) -> None:
        with self._lock:
            snap = self._folders.get((backend, stored.rpartition("/")[0]))
            if snap is None:
                return
            if present:
                snap.add(stored, self._ext_of)
            else:
                snap.discard(stored, self._ext_of)
