"""Memoize keys: what a memoized function is (its folder in the store, signature, options) and
the key of one call: the bound arguments (defaults applied, ``ignore=`` dropped, ``track=`` keys
replaced by their state) digested with the code fingerprint or ``version=`` (:mod:`autostore.digest`
does the encoding)."""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from .backends.base import Backend
from .digest import Unencodable, backend_state, code_fingerprint, digest
from .errors import (
    ConfigError,
    NotFound,
    UnsupportedFormat,
)
from .uri import validate_key

if TYPE_CHECKING:
    from .store import AutoStore

P = ParamSpec("P")
R = TypeVar("R")

_SALT = b"autostore-memo-1\x00"


class MemoKeys(Generic[P, R]):
    """A memoized function's identity and the keys of its calls (base of the memoize wrappers)."""

    def __init__(
        self,
        store: AutoStore,
        func: Callable[P, Any],
        *,
        prefix: str = "",
        version: str | int | None = None,
        ignore: Iterable[str] = (),
        track: Iterable[str] = (),
        name: str | None = None,
        lock_timeout: float = 600.0,
    ) -> None:
        if not callable(func):
            raise ConfigError(f"memoize needs a function, got {type(func).__name__}.")
        functools.update_wrapper(self, func)  # type: ignore[arg-type]
        self.store = store
        self.func = func
        self.function = f"{func.__module__}.{func.__qualname__}"
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        if prefix:
            validate_key(prefix, uri=store.uri)
        folder = name if name is not None else _folder_name(func)
        validate_key(folder, uri=store.uri)
        self.folder = prefix + folder.strip("/")
        self.version = None if version is None else str(version)
        self.lock_timeout = float(lock_timeout)
        self._sig = inspect.signature(func)
        params = self._sig.parameters
        self._var_kw = next((p.name for p in params.values() if p.kind is p.VAR_KEYWORD), None)
        kinds = {p.kind for p in params.values()}
        plain = kinds <= {inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY}
        self._simple: tuple[str, ...] | None = tuple(params) if plain else None
        self._names = frozenset(params)
        self._positional = sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in params.values())
        self._defaults = {n: p.default for n, p in params.items() if p.default is not p.empty}
        self.ignore = frozenset(_names(ignore, "ignore"))
        self.track = tuple(_names(track, "track"))
        for option, names in (("ignore", self.ignore), ("track", self.track)):
            unknown = sorted(n for n in names if n not in params and (option == "track" or self._var_kw is None))
            if unknown:
                raise ConfigError(
                    f"memoize({option}=...) names {', '.join(map(repr, unknown))}, which {self.function} does not "
                    f"take; its parameters are {', '.join(params)}."
                )
        self._fingerprint: str | None = None
        self._salt_bytes: bytes | None = None
        self._known: dict[str, dict[str, Any]] = {}
        self._known_lock = threading.Lock()

    def _uri(self, name: str) -> str:
        backend, full = self._target(name)
        return backend.uri(full)

    # -- keys ---------------------------------------------------------------------------------
    @property
    def code(self) -> str:
        """The code fingerprint (``src:`` normalized source, or ``code:`` bytecode)."""
        if self._fingerprint is None:
            self._fingerprint = code_fingerprint(self.func)
        return self._fingerprint

    def _salt(self) -> bytes:
        salt = self._salt_bytes
        if salt is None:
            part = f"v:{self.version}" if self.version is not None else f"c:{self.code}"
            salt = self._salt_bytes = _SALT + part.encode() + b"\x00"
        return salt

    def _bound(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The arguments by parameter name, in signature order, defaults applied."""
        simple = self._simple
        if simple is not None and len(args) <= self._positional:
            # The common signature (no *args, **kwargs or positional-only): 3x faster than bind().
            given = dict(zip(simple, args, strict=False))
            if not any(k in given or k not in self._names for k in kwargs):
                given.update(kwargs)
                missing = object()
                out = {name: given.get(name, self._defaults.get(name, missing)) for name in simple}
                if not any(v is missing for v in out.values()):
                    return out
        bound = self._sig.bind(*args, **kwargs)  # the exact TypeError for a bad call
        bound.apply_defaults()
        return bound.arguments

    def _digest_of(self, arguments: dict[str, Any]) -> str:
        items: list[tuple[str, Any]] = []
        for name, value in arguments.items():
            if name in self.ignore:
                continue
            if name == self._var_kw and self.ignore:
                value = {k: v for k, v in value.items() if k not in self.ignore}
            items.append((name, value))
        try:
            for name in self.track:
                items.append((name + "@", self._tracked_state(name, arguments[name])))
            return digest(items, self._salt())
        except Unencodable as exc:
            where = exc.where()
            param = re.split(r"[\[.@]", where, maxsplit=1)[0]
            why = f" ({exc.reason})" if exc.reason else ""
            inside = f" (at {where})" if where != param else ""
            raise UnsupportedFormat(
                f"Cannot memoize {self.function}: argument {param!r}{inside} is a {exc.type_name}, which has no "
                f"stable encoding{why}. If it does not change the result, pass ignore=[{param!r}]; else pass a "
                "value memoize can hash (str, numbers, lists, dicts, dataclasses, numpy arrays, DataFrames, "
                "AutoPath, ...)."
            ) from None

    def _tracked_state(self, name: str, value: Any) -> Any:
        """Keys of this store passed to a ``track=`` parameter: their ETags (one request each)."""
        if isinstance(value, (list, tuple)):
            return [self._tracked_state(name, v) for v in value]
        if not isinstance(value, str):
            return value  # an AutoPath is tracked by the encoder; anything else by value
        backend, full = self.store.core.target(value)
        if full and not full.endswith("/"):
            with contextlib.suppress(NotFound):  # missing, or a folder: backend_state says which
                full = self.store.core.resolve(backend, full)
        return backend_state(backend, full)

    def _digest(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        arguments = self._bound(args, kwargs)
        return self._digest_of(arguments), arguments

    def _key(self, digest_: str) -> str:
        return f"{self.folder}/{digest_}"

    def key(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The store key of the result for these arguments: ``<prefix><module>.<qualname>/<digest>``
        (the metadata is that plus ``.meta.json``)."""
        return self._key(self._digest(args, kwargs)[0])

    def _target(self, name: str) -> tuple[Backend, str]:
        return self.store.core.target(f"{self.folder}/{name}")


def _folder_name(func: Callable[..., Any]) -> str:
    text = f"{func.__module__}.{func.__qualname__}".replace("<", "").replace(">", "")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def _names(values: Iterable[str] | str, option: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    out = list(values)
    for v in out:
        if not isinstance(v, str):
            raise ConfigError(f"memoize({option}=...) takes parameter names (str), got {v!r}.")
    return out
