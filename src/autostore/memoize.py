"""``store.memoize``: results of expensive functions kept in a store, in their natural format,
shared by everyone using the store, recomputed when the code or the inputs change.

Layout below the store, for a function ``features`` of module ``pipeline``::

    <prefix>pipeline.features/<digest>.meta.json        the commit point: names the value file(s)
    <prefix>pipeline.features/<digest>.<token><ext>     the value (DataFrame -> .parquet, ...)
    <prefix>pipeline.features/<digest>.<token>-<i><ext> element i of a tuple result

``<digest>`` covers the code (or ``version=``) and the bound arguments (:mod:`autostore.digest`).
A call writes its value file(s) under a name no other call uses (``<token>`` is random), then
creates the metadata object only if absent (``mode="create"`` on object stores, ``link(2)`` on
disk): of two machines computing one result, the first to commit wins and both callers, and every
later one, get that result. A process killed before the commit leaves at most value files nothing
names, which are never read. On one machine a file lock per result makes concurrent callers with
the same arguments wait for one computation (bounded by ``lock_timeout``).

Because value files are never overwritten, a store with the download cache keeps what a call wrote
as confirmed cache entries: the next call, in any process on the machine, makes no request.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import inspect
import json
import logging
import os
import platform
import re
import reprlib
import secrets
import threading
import time
import types
import warnings
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from .backends.base import Backend, ObjectMeta
from .digest import Unencodable, backend_state, code_fingerprint, digest
from .errors import (
    AlreadyExists,
    AuthError,
    BackendError,
    ConfigError,
    CorruptData,
    FormatError,
    MissingDependency,
    NotFound,
    UnsupportedFormat,
)
from .formats.base import DataHandler
from .uri import validate_key

if TYPE_CHECKING:
    from .store import AutoStore

__all__ = ["AsyncMemoized", "MemoInfo", "Memoized", "list_results", "memoize", "remove_results"]

log = logging.getLogger("autostore")

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_FORMAT = 1
_META = ".meta.json"
_META_RE = re.compile(r"[0-9a-f]{32}\.meta\.json")
_VALUE_RE = re.compile(r"[0-9a-f]{32}\.[0-9a-f]{12}(-\d+)?(\.[^/]*)?")
_SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|api_?key|access_?key|credential|auth|private", re.I)
_URL_CREDENTIALS = re.compile(r"(\w+://)[^/@\s:]+:[^/@\s]+@")
_SALT = b"autostore-memo-1\x00"
_KNOWN_MAX = 4096  # results a wrapper remembers in memory (their metadata, not their values)
_POLL = 0.05

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 6
_repr.maxlevel = 3


def _short(name: str, value: Any) -> str:
    """A repr for the metadata: cut short, credentials in URLs masked, secret-named arguments hidden."""
    if _SECRET_NAME.search(name):
        return "***"
    try:
        text = _repr.repr(value)
    except Exception as exc:  # a broken __repr__ must not lose a computed result
        text = f"<{type(value).__name__}: repr failed ({type(exc).__name__})>"
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    return text if len(text) <= 120 else text[:119] + "…"


def _json_exact(value: Any) -> bool:
    """True when JSON gives ``value`` back unchanged (no tuples, no non-str keys, no subclasses)."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if v is None or t is str or t is int or t is float or t is bool:
            continue
        if t is list:
            stack.extend(v)
        elif t is dict:
            if any(type(k) is not str for k in v):
                return False
            stack.extend(v.values())
        else:
            return False
    return True


def _faithful(handler: DataHandler, value: Any) -> bool:
    """Does reading what ``handler`` writes give back ``value``'s type? The built-in formats that
    can change it: JSON (tuples, int keys, dates), text (str subclasses), and dataclass/pydantic
    files of a class that cannot be imported again (defined in a function)."""
    from .formats.classref import class_path, import_class
    from .formats.dataclass import DataclassHandler
    from .formats.json import JSONHandler
    from .formats.jsonl import JSONLHandler
    from .formats.pydantic import PydanticHandler
    from .formats.text import TextHandler

    if isinstance(handler, (JSONHandler, JSONLHandler)):
        return _json_exact(value)
    if isinstance(handler, TextHandler):
        return type(value) is str
    if isinstance(handler, (DataclassHandler, PydanticHandler)):
        return import_class(class_path(type(value)))[0] is type(value)
    return True


def _folder_name(func: Callable[..., Any]) -> str:
    text = f"{func.__module__}.{func.__qualname__}".replace("<", "").replace(">", "")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


# -- the per-machine lock ---------------------------------------------------------------------------
class _MachineLock:
    """One result's file lock: concurrent callers on this machine (threads, tasks, processes)
    compute once. A fresh descriptor per call, so two threads or tasks of one process exclude
    each other too. Waiting is bounded: after ``timeout`` the caller computes anyway (the commit
    stays create-if-absent, so that costs a computation, never a wrong result)."""

    def __init__(self, path: Path | None, timeout: float, what: str) -> None:
        self.path = path
        self.timeout = timeout
        self.what = what
        self._lock: Any = None

    def _new(self) -> Any:
        from filelock import FileLock

        assert self.path is not None
        return FileLock(str(self.path), thread_local=False)

    def acquire(self) -> None:
        if self.path is None:
            return
        from filelock import Timeout

        lock = self._new()
        try:
            lock.acquire(timeout=self.timeout)
        except Timeout:
            self._gave_up()
            return
        self._lock = lock

    async def acquire_async(self) -> None:
        """The same without blocking the event loop (polls; cancelling the task is safe)."""
        if self.path is None:
            return
        from filelock import Timeout

        lock = self._new()
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                lock.acquire(blocking=False)
            except Timeout:
                if time.monotonic() >= deadline:
                    self._gave_up()
                    return
                await asyncio.sleep(_POLL)
            else:
                self._lock = lock
                return

    def _gave_up(self) -> None:
        log.warning("memoize: %s still locked after %.0fs; computing it here too", self.what, self.timeout)

    def committed(self) -> None:
        """The result is stored: drop the lock file while holding it (whoever locks the path
        later, on a new file, finds the result; waiters on the old file do too)."""
        if self._lock is not None and self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


_LOCK_DIRS: dict[str, Path | None] = {}


def _lock_dir(store: AutoStore, backend: Backend) -> Path | None:
    """``<cache dir>/memo-locks`` (cache_dir option, else the platform cache folder); None, with
    one warning, when it cannot be created."""
    configured = store.options_for(backend.scheme).cache_dir
    if configured:
        base = Path(os.path.abspath(os.path.expanduser(configured)))
    else:
        from .cache import default_cache_dir

        base = default_cache_dir()
    found = _LOCK_DIRS.get(str(base), ...)
    if found is not ...:
        return found
    path: Path | None = base / "memo-locks"
    try:
        path.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
    except OSError as exc:
        warnings.warn(
            f"autostore: memoize lock folder {path} is not usable ({type(exc).__name__}: {exc}); concurrent "
            "calls on this machine may compute the same result twice. Set cache_dir= to a writable folder.",
            RuntimeWarning,
            stacklevel=3,
        )
        path = None
    _LOCK_DIRS[str(base)] = path
    return path


# -- the wrappers -----------------------------------------------------------------------------------
class _Memo(Generic[P, R]):
    """What the sync and async wrappers share: keys, lookups, commits, removal."""

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

    def __repr__(self) -> str:
        return f"<memoized {self.function} in {self._uri('')}>"

    def _uri(self, name: str) -> str:
        backend, full = self._target(name)
        return backend.uri(full)

    def __reduce__(self) -> str:
        # Pickled by reference, like the function it replaced (multiprocessing, spawn).
        return str(self.__qualname__)  # type: ignore[attr-defined]

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        return self if obj is None else types.MethodType(self, obj)  # type: ignore[arg-type]

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
        backend, full = self.store._target(value)
        if full and not full.endswith("/"):
            with contextlib.suppress(NotFound):  # missing, or a folder: backend_state says which
                full = self.store._resolve(backend, full)
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

    # -- reading ------------------------------------------------------------------------------
    def _target(self, name: str) -> tuple[Backend, str]:
        return self.store._target(f"{self.folder}/{name}")

    def _read_meta(self, digest_: str, *, fresh: bool, strict: bool = True) -> dict[str, Any] | None:
        """The metadata of a stored result, None when there is none; CorruptData for an object
        there that is not ours (with ``strict``; else it counts as none)."""
        key = self._key(digest_) + _META
        try:
            meta = self.store.read(key, ignore_cache=fresh)
        except NotFound:
            return None
        except CorruptData:
            meta = None
        if not _valid_meta(meta):
            if not strict:
                return None
            raise CorruptData(
                f"{self._uri(digest_ + _META)} is not a memoize metadata object; remove it "
                f"({self.func.__name__}.forget(...) or `autostore memo rm {self.store.uri} "
                f"{self.folder.rpartition('/')[2]}`) and call again."
            )
        return meta  # type: ignore[no-any-return]

    def _load(self, meta: dict[str, Any]) -> Any:
        value = meta["value"]
        parts = [self._load_item(item) for item in value["items"]]
        return tuple(parts) if value["tuple"] else parts[0]

    def _load_item(self, item: dict[str, Any]) -> Any:
        if item.get("none"):
            return None
        name = str(item["file"])
        if item.get("as") == "bytes":
            backend, full = self._target(name)
            return self.store._read_bytes(backend, full, False)
        value = self.store.read(f"{self.folder}/{name}")
        return value.lazy() if item.get("as") == "lazy" else value

    def _lookup(self, digest_: str, *, fresh: bool = False) -> tuple[bool, Any]:
        """(True, value) when a result is stored; a result removed or replaced meanwhile (its
        files gone) is looked up once more from the server."""
        meta = None if fresh else self._known.get(digest_)
        for attempt in range(2):
            if meta is None:
                meta = self._read_meta(digest_, fresh=fresh or attempt > 0)
                if meta is None:
                    return False, None
            try:
                value = self._load(meta)
            except NotFound:
                self._forget_known(digest_)
                meta = None
                continue
            self._remember(digest_, meta)
            return True, value
        return False, None

    def _remember(self, digest_: str, meta: dict[str, Any]) -> None:
        with self._known_lock:
            if len(self._known) >= _KNOWN_MAX:
                self._known.clear()
            self._known[digest_] = meta

    def _forget_known(self, digest_: str) -> None:
        with self._known_lock:
            self._known.pop(digest_, None)

    def _machine_lock(self, digest_: str) -> _MachineLock:
        backend, full = self._target(digest_ + _META)
        getattr(backend, "store", None)  # an object-store backend settles its identity (endpoint) here
        root = _lock_dir(self.store, backend)
        if root is None:
            return _MachineLock(None, self.lock_timeout, "")
        h = hashlib.sha256(f"{backend.identity}\x00{full}".encode()).hexdigest()[:32]
        folder = root / h[:2]
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("memoize: no lock folder %s (%s); computing without the machine lock", folder, exc)
            return _MachineLock(None, self.lock_timeout, "")
        return _MachineLock(folder / f"{h}.lock", self.lock_timeout, backend.uri(full))

    # -- writing ------------------------------------------------------------------------------
    def _choose(self, value: Any) -> tuple[DataHandler | None, str]:
        """The handler and extension ``store[key] = value`` would use, unless that format would
        give back something else (a tuple as a list, int dict keys as str, ...): then pickle. Where only
        pickle would take the value, numbers go to JSON and bytes to a raw ``.bin`` file (None)."""
        registry = self.store._handlers
        handler = registry.for_value(value)
        if not _faithful(handler, value):
            handler = registry.for_extension(".pkl")
        if handler.unsafe:
            t = type(value)
            if t is int or t is float or t is bool:
                return registry.for_extension(".json"), ".json"
            if t is bytes:
                return None, ".bin"
        return handler, handler.extension_for(value)

    def _no_safe_format(self, value: Any, why: str) -> UnsupportedFormat:
        cls = type(value)
        return UnsupportedFormat(
            f"Cannot memoize {self.function}: its result, a {cls.__module__}.{cls.__qualname__}, {why} and "
            f"allow_pickle is off for {self.store.uri}. Return a value with a safe format (DataFrame, dict with "
            "str keys, list, ndarray, tensor, dataclass, pydantic model, str, bytes, numbers, None, or a tuple "
            "of those), register a handler for the type, or allow pickle for this store."
        )

    def _write_item(self, stem: str, value: Any) -> dict[str, Any]:
        if value is None:
            return {"none": True}
        allowed = self.store.options_for(self.store._primary.scheme).pickle_allowed
        handler, ext = self._choose(value)
        name = stem + ext
        if handler is None:  # raw bytes
            backend, full = self._target(name)
            meta = backend.put_bytes(full, value)
            self._cache_own(backend, full, meta, data=value)
            return {"file": name, "as": "bytes"}
        if handler.unsafe and not allowed:
            raise self._no_safe_format(value, "has no format other than pickle")
        try:
            try:
                self._put_value(name, handler, ext, value)
            except FormatError as exc:
                if handler.unsafe or isinstance(exc, UnsupportedFormat):
                    raise
                if not allowed:
                    raise self._no_safe_format(value, f"cannot be written as {ext} ({exc})") from None
                name = stem + ".pkl"
                self._put_value(name, self.store._handlers.for_extension(".pkl"), ".pkl", value)
        except UnsupportedFormat:
            raise
        except FormatError as exc:  # not even pickle can hold it
            cls = type(value)
            raise UnsupportedFormat(
                f"Cannot memoize {self.function}: its result, a {cls.__module__}.{cls.__qualname__}, cannot be "
                f"stored ({exc}). Return a value with a format, or register a handler for the type."
            ) from None
        item: dict[str, Any] = {"file": name}
        if type(value).__name__ == "LazyFrame" and type(value).__module__.startswith("polars"):
            item["as"] = "lazy"
        return item

    def _put_value(self, name: str, handler: DataHandler, ext: str, value: Any) -> None:
        store = self.store
        backend, full = self._target(name)
        cache = store._cache_for(backend)
        if cache is None:
            store._encode(backend, full, handler, ext, value)
            return
        # With the cache: encode once locally, upload, and keep that same file as a confirmed cache
        # entry (the name is unique to this call, so nobody else can have written it).
        uri = backend.uri(full)
        try:
            if handler.supports_bytes:
                data = handler.write_to_bytes(value, ext)
                meta = backend.put_bytes(full, data)
                self._cache_own(backend, full, meta, data=data)
                return
            tmp = store._temp_path(full)
            try:
                handler.write_to_file(value, tmp, ext)
                meta = backend.upload(full, tmp)
                self._cache_own(backend, full, meta, path=tmp)
            finally:
                tmp.unlink(missing_ok=True)
        except (FormatError, MissingDependency) as exc:
            raise type(exc)(f"Cannot write {uri}: {exc}") from None
        except (AuthError, BackendError, NotFound):
            raise
        except Exception as exc:
            raise FormatError(
                f"Cannot write {type(value).__name__} to {uri} as {ext}: {type(exc).__name__}: {exc}"
            ) from exc

    def _cache_own(
        self, backend: Backend, full: str, meta: ObjectMeta, *, data: bytes | None = None, path: Path | None = None
    ) -> None:
        cache = self.store._cache_for(backend)
        if cache is not None:
            cache.stored(backend, full, data, meta.etag, path=path, confirmed=True)

    def _remove(self, names: Iterable[str]) -> None:
        for name in names:
            backend, full = self._target(name)
            with contextlib.suppress(NotFound):
                backend.delete(full)
            self.store._after_delete(backend, full)

    def _commit(
        self,
        digest_: str,
        value: Any,
        seconds: float,
        arguments: dict[str, Any],
        lock: _MachineLock,
        *,
        replace: bool = False,
    ) -> Any:
        """Store ``value`` and return what callers get from now on: ``value``, or the result
        another machine committed first."""
        token = secrets.token_hex(6)
        is_tuple = type(value) is tuple
        parts = value if is_tuple else (value,)
        written: list[str] = []
        key = self._key(digest_)
        try:
            items = []
            for i, part in enumerate(parts):
                item = self._write_item(f"{digest_}.{token}" + (f"-{i}" if is_tuple else ""), part)
                items.append(item)
                if "file" in item:
                    written.append(item["file"])
            meta = self._meta(key, arguments, seconds, {"tuple": is_tuple, "items": items})
            payload = json.dumps(meta, ensure_ascii=False, default=str).encode()
            self._put_meta(digest_, payload, replace=replace)
        except AlreadyExists:
            self._remove(written)
            found, theirs = self._lookup(digest_, fresh=True)
            lock.committed()
            if found:
                return theirs
            return self._commit(digest_, value, seconds, arguments, lock, replace=True)  # theirs was broken
        except (AuthError, BackendError) as exc:
            with contextlib.suppress(Exception):
                self._remove(written)
            warnings.warn(
                f"autostore: {self.function} was computed but its result could not be stored at "
                f"{self._uri(digest_)} ({exc}); the next call computes it again.",
                RuntimeWarning,
                stacklevel=4,
            )
            return value
        except BaseException:
            with contextlib.suppress(Exception):
                self._remove(written)
            raise
        self._remember(digest_, meta)
        lock.committed()
        return value

    def _meta(self, key: str, arguments: dict[str, Any], seconds: float, value: dict[str, Any]) -> dict[str, Any]:
        from . import __version__

        return {
            "autostore_memo": _FORMAT,
            "function": self.function,
            "key": key,
            "args": {name: _short(name, v) for name, v in arguments.items()},
            "ignored": sorted(self.ignore),
            "code": self.code,
            "version": self.version,
            "created": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "seconds": round(seconds, 6),
            "autostore": __version__,
            "python": platform.python_version(),
            "value": value,
        }

    def _put_meta(self, digest_: str, payload: bytes, *, replace: bool) -> None:
        backend, full = self._target(digest_ + _META)
        if replace:
            meta = backend.put_bytes(full, payload)
            self.store._after_write(backend, full, meta, payload)  # not confirmed: others may replace it too
        else:
            meta = backend.create_bytes(full, payload)
            self._cache_own(backend, full, meta, data=payload)

    # -- the rest of the API --------------------------------------------------------------------
    def is_cached(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """True when a result for these arguments is stored (no computation; through the cache)."""
        return self._read_meta(self._digest(args, kwargs)[0], fresh=False) is not None

    def forget(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Remove the stored result for these arguments; False when there was none."""
        return self._forget(self._digest(args, kwargs)[0])

    def _forget(self, digest_: str) -> bool:
        self._forget_known(digest_)
        meta = self._read_meta(digest_, fresh=True, strict=False)
        backend, full = self._target(digest_ + _META)
        try:
            backend.delete(full)  # first: without its metadata the result is gone for everyone
        except NotFound:
            return False
        finally:
            self.store._after_delete(backend, full)
        if meta is not None:
            self._remove(item["file"] for item in meta["value"]["items"] if "file" in item)
        return True

    def clear(self) -> int:
        """Remove every stored result of this function (any arguments, any code version);
        returns how many."""
        with self._known_lock:
            self._known.clear()
        return len(remove_results(self.store, self.folder + "/"))

    def _refreshed(
        self, digest_: str, value: Any, seconds: float, arguments: dict[str, Any], lock: _MachineLock
    ) -> Any:
        old = self._read_meta(digest_, fresh=True)
        result = self._commit(digest_, value, seconds, arguments, lock, replace=True)
        if old is not None:
            self._remove(item["file"] for item in old["value"]["items"] if "file" in item)
        return result


class Memoized(_Memo[P, R]):
    """A memoized function: call it like the function. See :meth:`AutoStore.memoize`."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        digest_, arguments = self._digest(args, kwargs)
        found, value = self._lookup(digest_)
        if found:
            return value  # type: ignore[no-any-return]
        with self._locked(digest_) as lock:
            found, value = self._lookup(digest_)  # computed by another caller while we waited?
            if found:
                lock.committed()
                return value  # type: ignore[no-any-return]
            started = time.perf_counter()
            value = self.func(*args, **kwargs)
            return self._commit(digest_, value, time.perf_counter() - started, arguments, lock)  # type: ignore[no-any-return]

    def refresh(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Compute the result again and replace the stored one."""
        digest_, arguments = self._digest(args, kwargs)
        with self._locked(digest_) as lock:
            started = time.perf_counter()
            value = self.func(*args, **kwargs)
            return self._refreshed(digest_, value, time.perf_counter() - started, arguments, lock)  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def _locked(self, digest_: str) -> Iterator[_MachineLock]:
        lock = self._machine_lock(digest_)
        lock.acquire()
        try:
            yield lock
        finally:
            lock.release()


class AsyncMemoized(_Memo[P, T]):
    """A memoized ``async def`` function: ``await f(...)``. Store I/O runs in worker threads, so
    the event loop is never blocked; waiting for another caller's computation polls the lock."""

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        digest_, arguments = await asyncio.to_thread(self._digest, args, kwargs)
        found, value = await asyncio.to_thread(self._lookup, digest_)
        if found:
            return value  # type: ignore[no-any-return]
        lock = await asyncio.to_thread(self._machine_lock, digest_)
        await lock.acquire_async()
        try:
            found, value = await asyncio.to_thread(self._lookup, digest_)
            if found:
                lock.committed()
                return value  # type: ignore[no-any-return]
            started = time.perf_counter()
            value = await self.func(*args, **kwargs)
            seconds = time.perf_counter() - started
            return await asyncio.to_thread(self._commit, digest_, value, seconds, arguments, lock)  # type: ignore[no-any-return]
        finally:
            lock.release()

    async def refresh(self, *args: P.args, **kwargs: P.kwargs) -> T:
        """Compute the result again and replace the stored one."""
        digest_, arguments = await asyncio.to_thread(self._digest, args, kwargs)
        lock = await asyncio.to_thread(self._machine_lock, digest_)
        await lock.acquire_async()
        try:
            started = time.perf_counter()
            value = await self.func(*args, **kwargs)
            seconds = time.perf_counter() - started
            return await asyncio.to_thread(self._refreshed, digest_, value, seconds, arguments, lock)  # type: ignore[no-any-return]
        finally:
            lock.release()


def _names(values: Iterable[str] | str, option: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    out = list(values)
    for v in out:
        if not isinstance(v, str):
            raise ConfigError(f"memoize({option}=...) takes parameter names (str), got {v!r}.")
    return out


def _valid_meta(meta: Any) -> bool:
    if not isinstance(meta, dict) or meta.get("autostore_memo") != _FORMAT:
        return False
    value = meta.get("value")
    if not isinstance(value, dict) or not isinstance(value.get("items"), list) or not value["items"]:
        return False
    return all(isinstance(i, dict) and (i.get("none") or isinstance(i.get("file"), str)) for i in value["items"])


class MemoizeDecorator:
    """``store.memoize(prefix=..., ...)``: apply it to a function."""

    def __init__(self, store: AutoStore, options: dict[str, Any]) -> None:
        self._store = store
        self._options = options

    @overload
    def __call__(self, func: Callable[P, Coroutine[Any, Any, T]]) -> AsyncMemoized[P, T]: ...  # type: ignore[overload-overlap]

    @overload
    def __call__(self, func: Callable[P, R]) -> Memoized[P, R]: ...

    def __call__(self, func: Callable[..., Any]) -> Any:
        return _wrap(self._store, func, self._options)


def _wrap(store: AutoStore, func: Callable[..., Any], options: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(inspect.unwrap(func)):
        return AsyncMemoized(store, func, **options)
    return Memoized(store, func, **options)


def memoize(store: AutoStore, func: Callable[..., Any] | None = None, **options: Any) -> Any:
    """``@store.memoize`` or ``@store.memoize(prefix=..., version=..., ignore=[...], track=[...])``."""
    if func is None:
        return MemoizeDecorator(store, options)
    return _wrap(store, func, options)


# -- listing and removing results (CLI, Memoized.clear) ---------------------------------------------
@dataclass(frozen=True)
class MemoInfo:
    """One stored result, as ``autostore memo ls`` shows it."""

    key: str  # relative to the listed prefix, without .meta.json
    function: str
    created: str | None
    seconds: float | None
    bytes: int
    args: dict[str, str]
    code: str | None
    version: str | None


def _listing(store: AutoStore, prefix: str) -> tuple[Backend, str, list[ObjectMeta]]:
    if prefix:
        validate_key(prefix, uri=store.uri)
        prefix = prefix if prefix.endswith("/") else prefix + "/"
    backend = store._primary
    base = store._prefix + prefix
    return backend, base, list(backend.list_objects(base))


def list_results(store: AutoStore, prefix: str = "") -> list[MemoInfo]:
    """Every memoized result stored below ``prefix`` of ``store``, by function then creation time."""
    backend, base, objects = _listing(store, prefix)
    sizes = {m.key: m.size for m in objects}
    metas = [m.key for m in objects if _META_RE.fullmatch(m.key.rpartition("/")[2])]

    def read(key: str) -> MemoInfo | None:
        try:
            meta = json.loads(backend.get_bytes(key))
        except (NotFound, ValueError, UnicodeDecodeError):
            return None
        if not _valid_meta(meta):
            return None
        folder = key.rpartition("/")[0]
        files = [f"{folder}/{i['file']}" for i in meta["value"]["items"] if "file" in i]
        args = meta.get("args")
        return MemoInfo(
            key=key[len(base) : -len(_META)],
            function=str(meta.get("function", "")),
            created=meta.get("created"),
            seconds=meta.get("seconds"),
            bytes=sum(sizes.get(f, 0) for f in files),
            args={str(k): str(v) for k, v in args.items()} if isinstance(args, dict) else {},
            code=meta.get("code"),
            version=meta.get("version"),
        )

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = [info for info in pool.map(read, metas) if info is not None]
    return sorted(found, key=lambda i: (i.function, i.created or "", i.key))


def _matches(folder: str, function: str | None) -> bool:
    name = folder.rpartition("/")[2]
    return function is None or name == function or name.endswith("." + function)


def remove_results(store: AutoStore, prefix: str = "", function: str | None = None) -> list[str]:
    """Remove the memoized results below ``prefix`` (of ``function`` only: its ``module.qualname``
    or its name), their value files, and value files no metadata names (left by a killed call).
    Returns the removed results' keys (relative to ``prefix``, without .meta.json)."""
    backend, base, objects = _listing(store, prefix)
    metas: list[str] = []
    values: list[str] = []
    for m in objects:
        folder, _, name = m.key.rpartition("/")
        if not _matches(folder, function):
            continue
        if _META_RE.fullmatch(name):
            metas.append(m.key)
        elif _VALUE_RE.fullmatch(name):
            values.append(m.key)
    for group in (metas, values):  # metadata first: a result without it no longer exists
        if group:
            backend.delete_many(group)
            for key in group:
                store._after_delete(backend, key)
    return sorted(k[len(base) : -len(_META)] for k in metas)
