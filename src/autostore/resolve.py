"""Key resolution: a key (or URI) given to a store → the backend and full key it names, and an
extensionless key → the one stored ``key.<ext>`` file.

Part of the store's internal interface (:class:`autostore.core.StoreCore` inherits
:class:`KeyResolver`); see :mod:`autostore.core` for who may use it. The lookups are answered
from :class:`autostore.keyindex.KeyIndex` where it can, so reads do not list every time.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from .backends.base import Backend
from .errors import AmbiguousKey, AuthError, BackendError, InvalidKey, NotFound
from .uri import has_scheme, parse_location, validate_key

if TYPE_CHECKING:
    from .formats.base import HandlerRegistry
    from .keyindex import KeyIndex
    from .uri import Location

__all__ = ["KeyResolver"]

log = logging.getLogger("autostore")


class KeyResolver:
    """Key → (backend, full key) → stored file, for one store (a base of StoreCore)."""

    # Set by StoreCore.__init__.
    location: Location
    primary: Backend
    prefix: str
    handlers: HandlerRegistry
    index: KeyIndex

    if TYPE_CHECKING:  # provided by StoreCore

        @property
        def uri(self) -> str: ...

        def backend(self, scheme: str, bucket: str) -> Backend: ...

        def after_delete(self, backend: Backend, stored: str) -> None: ...

    def target(self, key: str) -> tuple[Backend, str]:
        """The backend holding ``key`` (a key of this store, or any URI) and its full key there."""
        if not isinstance(key, str):
            raise InvalidKey(f"Key {key!r} must be a string, not {type(key).__name__}.")
        if has_scheme(key) and key.index(":") > 1:  # "c://x" is no URI (nor a drive): a bad key
            loc = parse_location(key)
            if loc.is_local:
                inside = self.inside_root(loc.key)
                if inside is not None:
                    return self.primary, inside
                return self.backend("file", "/"), loc.key
            return self.backend(loc.scheme, loc.bucket), loc.key
        return self.primary, self.prefix + validate_key(key, uri=self.uri)

    def primary_root(self) -> str | None:
        """The folder of a local store ("/abs/data"), None for object stores."""
        return "/" + self.location.key.rstrip("/") if self.location.is_local else None

    def inside_root(self, path_key: str) -> str | None:
        """A ``file://`` path below a local store's root as the store's own key (AutoPath reaches
        local files by URI), held to the store's key rules: one key index and one set of siblings
        for both ways in, and no symlink out of the root."""
        root = self.primary.local_path("")
        if root is None or str(root) == "/":  # a store on "/" (AutoPath's default) takes any path
            return None
        path = PurePosixPath("/" + path_key)
        if path == PurePosixPath(root) or not path.is_relative_to(root):
            return None
        rel = path.relative_to(root).as_posix() + ("/" if path_key.endswith("/") else "")
        return validate_key(rel, uri=self.uri)

    def display_key(self, backend: Backend, full: str) -> str:
        """``full`` relative to the store when it is inside it, else its URI."""
        if backend is self.primary and full.startswith(self.prefix):
            return full[len(self.prefix) :]
        return backend.uri(full)

    def resolve(self, backend: Backend, full: str) -> str:
        """The stored key for ``full``: itself when it names a known extension, else the single
        ``full.<ext>`` file. NotFound / AmbiguousKey otherwise."""
        if not full or full.endswith("/"):
            raise InvalidKey(f"Key {full!r} in {backend.uri('')} names a folder, not a value; name a file in it.")
        name = full.rpartition("/")[2]
        if self.handlers.known_extension(name):
            return full
        memo = self.index.remembered(backend, full)
        if memo is not None:
            return memo
        try:
            candidates = self.index.candidates(backend, full, trust_absence=False)
        except (AuthError, BackendError) as exc:
            raise type(exc)(f"{exc} (looking up {backend.uri(full)})") from None
        if not candidates:
            raise NotFound(
                f"Key {full!r} not found in {backend.uri(full.rpartition('/')[0])} "
                f"(looked for {name} and {name}.<ext>); check store.keys()."
            )
        if len(candidates) > 1:
            shown = [self.display_key(backend, c) for c in candidates]  # as the user names them
            example = next(n for c, n in zip(candidates, shown, strict=True) if c != full)
            bare = (
                f"; {self.display_key(backend, full)} has no extension (as autostore 0.1.x wrote files): "
                "rename it, see `autostore migrate`"
                if full in candidates
                else ""
            )
            raise AmbiguousKey(
                f"Key {self.display_key(backend, full)!r} is ambiguous in {backend.uri('')}: {', '.join(shown)} "
                f"all match; read one with its extension, e.g. store['{example}']{bare}.",
                candidates,
            )
        self.index.resolved(backend, full, candidates[0])
        return candidates[0]

    def replace_siblings(self, backend: Backend, full: str, stored: str) -> None:
        """``stored`` was written for the extensionless key ``full``: remove any other
        ``full.<ext>`` file, so ``full`` names one file again."""
        if self.index.remembered(backend, full) == stored:
            return  # this store wrote or resolved it before: no sibling to tidy, nothing to note
        for other in self.index.candidates(backend, full, trust_absence=True):
            if other != stored:
                log.debug("replacing %s with %s", backend.uri(other), backend.uri(stored))
                with contextlib.suppress(NotFound):
                    backend.delete(other)
                self.after_delete(backend, other)
                self.index.removed(backend, full, other)
        self.index.resolved(backend, full, stored)

    def forget(self, backend: Backend, full: str, stored: str) -> None:
        """``stored`` (what ``full`` named) was removed: ``full`` is looked up again next time."""
        self.index.removed(backend, full, stored)

    def index_views(self, backend: Backend, key: str) -> list[tuple[Backend, str]]:
        """``(backend, key)`` and, for a file inside a local store's root reached through another
        local backend (an AutoPath), the same file as the store's own key index sees it."""
        views = [(backend, key)]
        path = backend.local_path(key)
        root = self.primary.local_path("")
        if path is not None and root is not None and backend is not self.primary and path.is_relative_to(root):
            views.append((self.primary, path.relative_to(root).as_posix()))
        return views
