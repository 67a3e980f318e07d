"""Opening command-line locations: a URI or path → the ``AutoStore`` holding it and the key in it.

Owns ``Target`` (one location), ``Session`` (the stores one command opened: one per scheme +
bucket, so same-backend copies stay server-side; all closed at the end), turning ``--profile`` /
``--endpoint-url`` into typed options, and ``stat``: a file's metadata resolved the way the store
resolves keys (the exact key, else the one ``key.<ext>``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from .. import config as config_module
from .. import objects
from ..errors import ConfigError, NotFound
from ..formats import default_registry
from ..objects import ObjectMeta
from ..options import Options, options_class_for_kind
from ..store import AutoStore
from ..uri import Location, parse_location
from .app import Settings, current_settings

__all__ = ["Session", "Target", "folder", "format_of", "open_session", "stat"]


@dataclass
class Target:
    """One command-line location: the store holding it and the key inside that store (a store on the
    bucket root, or on "/" for local paths, so keys are full keys: see :mod:`autostore.objects`)."""

    text: str
    location: Location
    store: AutoStore
    key: str

    @property
    def local(self) -> bool:
        return self.location.is_local

    def uri(self, key: str | None = None) -> str:
        return objects.uri(self.store, self.key if key is None else key)


@dataclass
class Session:
    """Stores opened by one command (one per scheme + bucket, so same-backend copies are
    server-side), closed at the end."""

    settings: Settings
    stores: dict[tuple[str, str], AutoStore] = field(default_factory=dict)
    #: allow_pickle of the stores opened (None: the options/environment decide)
    allow_pickle: bool | None = None

    def open(self, text: str) -> Target:
        loc = parse_location(text)
        ident = ("file", "/") if loc.is_local else (loc.scheme, loc.bucket)
        store = self.stores.get(ident)
        if store is None:
            extra: dict[str, Any] = {} if self.allow_pickle is None else {"allow_pickle": self.allow_pickle}
            if loc.is_local:
                store = AutoStore("/", **extra)
            else:
                store = AutoStore(f"{loc.scheme}://{loc.bucket}/", options=self._options(loc), **extra)
            self.stores[ident] = store
        return Target(text, loc, store, loc.key)

    def _options(self, loc: Location) -> Options | None:
        s = self.settings
        cls = options_class_for_kind(loc.kind)
        names = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        if s.endpoint_url:
            if "endpoint_url" not in names:
                raise ConfigError(f"--endpoint-url does not apply to {loc.scheme}:// URIs; drop it.")
            kwargs["endpoint_url"] = s.endpoint_url
        if s.profile and not config_module.has_profile(s.profile):
            if "profile_name" not in names:
                where = config_module.config_path()
                raise ConfigError(
                    f"--profile {s.profile!r}: no [profiles.{s.profile}] in {where} and {loc.scheme}:// URIs "
                    "have no AWS profiles; add the table to the config file."
                )
            kwargs["profile_name"] = s.profile
        if not kwargs:
            return None
        return cls(scheme=loc.scheme, **kwargs)

    def close(self) -> None:
        for store in self.stores.values():
            store.close()


@contextlib.contextmanager
def open_session(allow_pickle: bool | None = None) -> Iterator[Session]:
    """A ``Session`` with the current settings, closed (its stores too) on the way out."""
    session = Session(current_settings(), allow_pickle=allow_pickle)
    try:
        yield session
    finally:
        session.close()


def folder(key: str) -> str:
    """``key`` as a folder prefix (ending with ``/``; the empty key stays empty)."""
    return key if not key or key.endswith("/") else key + "/"


def stat(t: Target) -> ObjectMeta:
    """Metadata of the file ``t`` names: the exact key, else the one ``key.<ext>`` (as the store
    resolves keys). NotFound when neither exists; a folder is reported as such."""
    key = t.key
    if not key or key.endswith("/"):
        raise NotFound(f"{t.text} is a folder; name a file (or use -r where the command has it).")
    try:
        return objects.head(t.store, key)
    except NotFound:
        if t.location.kind == "http" or default_registry().known_extension(key.rpartition("/")[2]):
            if t.location.kind != "http" and objects.is_dir(t.store, key):
                raise NotFound(f"{t.text} is a folder; name a file (or use -r where the command has it).") from None
            raise
        try:
            return t.store.get_metadata(key)
        except NotFound:
            if objects.is_dir(t.store, key):
                raise NotFound(f"{t.text} is a folder; name a file (or use -r where the command has it).") from None
            raise NotFound(f"No such file: {t.text} (nor {key.rpartition('/')[2]}.<ext>).") from None


def format_of(key: str) -> str | None:
    """The format name of ``key``'s extension (``json``, ``parquet``, ...), None when unknown."""
    ext = default_registry().known_extension(key.rpartition("/")[2])
    return ext.lstrip(".") if ext else None
