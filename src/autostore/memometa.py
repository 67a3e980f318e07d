"""Memoize results in the store: the metadata object beside a result (the commit point; what it
records, how it is checked), the value file(s) of a result (the format chosen for it, tuples as one
file per element, raw bytes), committing with create-if-absent, loading and removing them."""

from __future__ import annotations

import contextlib
import json
import platform
import re
import reprlib
import secrets
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from .backends.base import Backend, ObjectMeta
from .errors import (
    AlreadyExists,
    AuthError,
    BackendError,
    CorruptData,
    FormatError,
    MissingDependency,
    NotFound,
    UnsupportedFormat,
)
from .formats.base import DataHandler
from .memokey import MemoKeys
from .memolock import MachineLock

__all__ = ["META_SUFFIX", "MemoResults", "valid_meta"]

P = ParamSpec("P")
R = TypeVar("R")

_FORMAT = 1
META_SUFFIX = ".meta.json"
_SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|api_?key|access_?key|credential|auth|private", re.I)
_URL_CREDENTIALS = re.compile(r"(\w+://)[^/@\s:]+:[^/@\s]+@")
_KNOWN_MAX = 4096  # results a wrapper remembers in memory (their metadata, not their values)

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


class MemoResults(MemoKeys[P, R]):
    """Reading, writing and removing the stored results of one memoized function."""

    def _read_meta(self, digest_: str, *, fresh: bool, strict: bool = True) -> dict[str, Any] | None:
        """The metadata of a stored result, None when there is none; CorruptData for an object
        there that is not ours (with ``strict``; else it counts as none)."""
        key = self._key(digest_) + META_SUFFIX
        try:
            meta = self.store.read(key, ignore_cache=fresh)
        except NotFound:
            return None
        except CorruptData:
            meta = None
        if not valid_meta(meta):
            if not strict:
                return None
            raise CorruptData(
                f"{self._uri(digest_ + META_SUFFIX)} is not a memoize metadata object; remove it "
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
            return self.store.core.read_bytes(backend, full, False)
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

    # -- writing ------------------------------------------------------------------------------
    def _choose(self, value: Any) -> tuple[DataHandler | None, str]:
        """The handler and extension ``store[key] = value`` would use, unless that format would
        give back something else (a tuple as a list, int dict keys as str, ...): then pickle. Where only
        pickle would take the value, numbers go to JSON and bytes to a raw ``.bin`` file (None)."""
        registry = self.store.core.handlers
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
        allowed = self.store.options_for(self.store.core.primary.scheme).pickle_allowed
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
                self._put_value(name, self.store.core.handlers.for_extension(".pkl"), ".pkl", value)
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
        cache = store.core.cache_for(backend)
        if cache is None:
            store.core.encode(backend, full, handler, ext, value)
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
            tmp = store.core.temp_path(full)
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
        cache = self.store.core.cache_for(backend)
        if cache is not None:
            cache.stored(backend, full, data, meta.etag, path=path, confirmed=True)

    def _remove(self, names: Iterable[str]) -> None:
        for name in names:
            backend, full = self._target(name)
            with contextlib.suppress(NotFound):
                backend.delete(full)
            self.store.core.after_delete(backend, full)

    def _commit(
        self,
        digest_: str,
        value: Any,
        seconds: float,
        arguments: dict[str, Any],
        lock: MachineLock,
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
        backend, full = self._target(digest_ + META_SUFFIX)
        if replace:
            meta = backend.put_bytes(full, payload)
            self.store.core.after_write(backend, full, meta, payload)  # not confirmed: others may replace it too
        else:
            meta = backend.create_bytes(full, payload)
            self._cache_own(backend, full, meta, data=payload)

    def _forget(self, digest_: str) -> bool:
        self._forget_known(digest_)
        meta = self._read_meta(digest_, fresh=True, strict=False)
        backend, full = self._target(digest_ + META_SUFFIX)
        try:
            backend.delete(full)  # first: without its metadata the result is gone for everyone
        except NotFound:
            return False
        finally:
            self.store.core.after_delete(backend, full)
        if meta is not None:
            self._remove(item["file"] for item in meta["value"]["items"] if "file" in item)
        return True

    def _refreshed(self, digest_: str, value: Any, seconds: float, arguments: dict[str, Any], lock: MachineLock) -> Any:
        old = self._read_meta(digest_, fresh=True)
        result = self._commit(digest_, value, seconds, arguments, lock, replace=True)
        if old is not None:
            self._remove(item["file"] for item in old["value"]["items"] if "file" in item)
        return result


def valid_meta(meta: Any) -> bool:
    if not isinstance(meta, dict) or meta.get("autostore_memo") != _FORMAT:
        return False
    value = meta.get("value")
    if not isinstance(value, dict) or not isinstance(value.get("items"), list) or not value["items"]:
        return False
    return all(isinstance(i, dict) and (i.get("none") or isinstance(i.get("file"), str)) for i in value["items"])
