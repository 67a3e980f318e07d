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

The work is shared by five modules: ``memokey`` (a function's folder and the key of a call),
``memometa`` (metadata and value files: commit, load, remove), ``memolock`` (the per-machine
lock), ``memolist`` (listing and removing results) and this one (the decorator and the wrappers).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import logging
import time
import types
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from .memolist import MemoInfo, list_results, remove_results
from .memolock import MachineLock, lock_dir
from .memometa import META_SUFFIX, MemoResults

if TYPE_CHECKING:
    from .store import AutoStore

__all__ = ["AsyncMemoized", "MemoInfo", "Memoized", "list_results", "memoize", "remove_results"]

log = logging.getLogger("autostore")

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class _Memo(MemoResults[P, R]):
    """What the sync and async wrappers share: keys, lookups, commits, removal."""

    def __repr__(self) -> str:
        return f"<memoized {self.function} in {self._uri('')}>"

    def __reduce__(self) -> str:
        # Pickled by reference, like the function it replaced (multiprocessing, spawn).
        return str(self.__qualname__)  # type: ignore[attr-defined]

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        return self if obj is None else types.MethodType(self, obj)  # type: ignore[arg-type]

    def _machine_lock(self, digest_: str) -> MachineLock:
        backend, full = self._target(digest_ + META_SUFFIX)
        getattr(backend, "store", None)  # an object-store backend settles its identity (endpoint) here
        root = lock_dir(self.store, backend)
        if root is None:
            return MachineLock(None, self.lock_timeout, "")
        h = hashlib.sha256(f"{backend.identity}\x00{full}".encode()).hexdigest()[:32]
        folder = root / h[:2]
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("memoize: no lock folder %s (%s); computing without the machine lock", folder, exc)
            return MachineLock(None, self.lock_timeout, "")
        return MachineLock(folder / f"{h}.lock", self.lock_timeout, backend.uri(full))

    # -- the rest of the API --------------------------------------------------------------------
    def is_cached(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """True when a result for these arguments is stored (no computation; through the cache)."""
        return self._read_meta(self._digest(args, kwargs)[0], fresh=False) is not None

    def forget(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Remove the stored result for these arguments; False when there was none."""
        return self._forget(self._digest(args, kwargs)[0])

    def clear(self) -> int:
        """Remove every stored result of this function (any arguments, any code version);
        returns how many."""
        with self._known_lock:
            self._known.clear()
        return len(remove_results(self.store, self.folder + "/"))


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
    def _locked(self, digest_: str) -> Iterator[MachineLock]:
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
