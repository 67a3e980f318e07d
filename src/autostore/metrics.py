"""Request metrics: what a store asked of its object store, as counted by autostore itself.

``store.stats()`` gives one store's numbers (shared by every AutoPath on that store),
``autostore.stats()`` the whole process's. Backends call a :class:`Recorder` once per request
they send (a few integer additions under one lock, well under a microsecond); nothing is
sampled or estimated except where noted in :data:`KINDS`.

When ``opentelemetry-api`` is imported and a tracer provider is configured, each store operation
(:func:`traced`) is also a span carrying the same numbers for that operation; otherwise tracing
costs one dictionary lookup per operation and opentelemetry is never imported by autostore.
"""

from __future__ import annotations

import contextvars
import functools
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

__all__ = ["KINDS", "Recorder", "StoreStats", "process_stats", "traced"]

#: Request kinds, in display order. Every request a backend sends is one of them:
#: "GET" a whole object, "ranged GET" part of one, "PUT" a whole object in one request,
#: "multipart start" / "multipart part" / "multipart complete" the requests of a multipart
#: upload, "HEAD" metadata, "LIST page" one page of a listing, "DELETE" one delete request
#: (a bulk delete of up to 1000 keys is one), "COPY" a server-side copy.
KINDS: tuple[str, ...] = (
    "GET",
    "ranged GET",
    "PUT",
    "multipart start",
    "multipart part",
    "multipart complete",
    "HEAD",
    "LIST page",
    "DELETE",
    "COPY",
)
GET, RANGE, PUT, MP_START, MP_PART, MP_COMPLETE, HEAD, LIST, DELETE, COPY = range(len(KINDS))
# Slots after the request kinds in a counter list.
_DOWN, _UP, _RETRIES, _FAILED, _HITS, _MISSES, _REVALIDATED, _SECONDS = range(len(KINDS), len(KINDS) + 8)
_SIZE = len(KINDS) + 8

_LOCK = threading.Lock()  # one lock for every recorder: a request costs far more than waiting here


def _new_lock_in_child() -> None:
    # A thread of the parent may have held the lock when it forked: the child starts afresh.
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)
# Per-operation counters of the span being recorded in this context (None: no span).
_SPAN: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("autostore_span", default=None)


@dataclass(frozen=True)
class StoreStats:
    """Counts since the store was made (or last reset): requests by kind, bytes moved, retries,
    failed requests, download-cache activity and the time callers waited on the backend."""

    requests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    bytes_down: int = 0
    bytes_up: int = 0
    retries: int = 0
    failed: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    cache_revalidations: int = 0
    backend_seconds: float = 0.0

    @property
    def total_requests(self) -> int:
        """Every request sent, retries included."""
        return sum(self.requests.values())

    def as_dict(self) -> dict[str, Any]:
        """Plain values (for JSON, logs, metrics systems)."""
        return {
            "requests": dict(self.requests),
            "total_requests": self.total_requests,
            "bytes_down": self.bytes_down,
            "bytes_up": self.bytes_up,
            "retries": self.retries,
            "failed": self.failed,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "cache_revalidations": self.cache_revalidations,
            "backend_seconds": round(self.backend_seconds, 6),
        }

    def __str__(self) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in self.requests.items() if n) or "none"
        return (
            f"requests: {self.total_requests} ({kinds})\n"
            f"bytes: {_size(self.bytes_down)} down, {_size(self.bytes_up)} up\n"
            f"retries: {self.retries}, failed requests: {self.failed}\n"
            f"cache: {self.cache_hits} hits, {self.cache_misses} misses, "
            f"{self.cache_revalidations} revalidated (304)\n"
            f"waiting on the backend: {self.backend_seconds:.3f} s"
        )


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _snapshot(counts: list[float]) -> StoreStats:
    return StoreStats(
        requests={k: int(counts[i]) for i, k in enumerate(KINDS)},
        bytes_down=int(counts[_DOWN]),
        bytes_up=int(counts[_UP]),
        retries=int(counts[_RETRIES]),
        failed=int(counts[_FAILED]),
        cache_hits=int(counts[_HITS]),
        cache_misses=int(counts[_MISSES]),
        cache_revalidations=int(counts[_REVALIDATED]),
        backend_seconds=counts[_SECONDS],
    )


class Recorder:
    """The counters of one store (every backend the store uses records here). Each record
    also goes to the process totals. Thread-safe."""

    __slots__ = ("__weakref__", "_counts", "_targets")

    def __init__(self, parent: Recorder | None = None) -> None:
        self._counts: list[float] = [0] * _SIZE
        # Lists every record adds to: this recorder's, then its parent's (the process totals).
        self._targets: tuple[list[float], ...] = (self._counts,) if parent is None else (self._counts, parent._counts)

    # -- recording (called by backends and the cache) ------------------------------------------
    def request(self, kind: int, seconds: float = 0.0, down: int = 0, up: int = 0) -> None:
        """One request of ``kind`` that got an answer; ``seconds`` the caller waited for it."""
        span = _SPAN.get()
        with _LOCK:
            for c in self._targets if span is None else (*self._targets, span):
                c[kind] += 1
                c[_DOWN] += down
                c[_UP] += up
                c[_SECONDS] += seconds

    def failure(self, kind: int, seconds: float = 0.0, *, retried: bool) -> None:
        """One request of ``kind`` that failed (no answer, or a server error); ``retried``
        when another attempt follows."""
        self._add(((kind, 1), (_FAILED, 1), (_RETRIES, 1 if retried else 0), (_SECONDS, seconds)))

    def retried(self) -> None:
        """A request that is sent again after a failure (counted as a request of its own)."""
        self._add(((_RETRIES, 1),))

    def requests(self, kind: int, n: int, down: int = 0, up: int = 0) -> None:
        """``n`` requests of ``kind`` made inside one call (the parts of a multipart upload)."""
        self._add(((kind, n), (_DOWN, down), (_UP, up)))

    def multipart(self, parts: int, up: int, seconds: float) -> None:
        """A completed multipart upload of ``parts`` parts and ``up`` bytes: its start, parts and
        completion, and the ``seconds`` the caller waited for all of them."""
        self._add(((MP_START, 1), (MP_PART, parts), (MP_COMPLETE, 1), (_UP, up), (_SECONDS, seconds)))

    def waited(self, seconds: float) -> None:
        """Time a caller waited on the backend outside :meth:`request` (a parallel transfer's
        wall time, a backoff before a retry)."""
        self._add(((_SECONDS, seconds),))

    def cache(self, *, hit: bool = False, miss: bool = False, revalidated: bool = False) -> None:
        """One read served from the download cache (``hit``), fetched into it (``miss``), or
        confirmed unchanged by the server (``revalidated``, a 304 answer)."""
        self._add(((_HITS, 1 if hit else 0), (_MISSES, 1 if miss else 0), (_REVALIDATED, 1 if revalidated else 0)))

    def _add(self, pairs: tuple[tuple[int, float], ...]) -> None:
        span = _SPAN.get()
        with _LOCK:
            for counts in self._targets if span is None else (*self._targets, span):
                for index, value in pairs:
                    counts[index] += value

    # -- reading -------------------------------------------------------------------------------
    def snapshot(self, *, reset: bool = False) -> StoreStats:
        """The counts (and, with ``reset``, start again from zero; the process totals keep them)."""
        with _LOCK:
            counts = list(self._counts)
            if reset:
                self._counts[:] = [0] * _SIZE
        return _snapshot(counts)


#: Totals of every store in this process (and of backends used without a store).
PROCESS = Recorder()


def new_recorder() -> Recorder:
    """Counters for one store, adding up into the process totals."""
    return Recorder(PROCESS)


def process_stats(reset: bool = False) -> StoreStats:
    """Counts of every store in this process since it started (or the last ``reset``).
    ``reset`` zeroes the process totals only; each store keeps its own counts."""
    return PROCESS.snapshot(reset=reset)


# -- OpenTelemetry spans -----------------------------------------------------------------------
_F = TypeVar("_F", bound=Callable[..., Any])
_TRACERS: dict[int, Any] = {}


def _tracer() -> Any:
    """A tracer when opentelemetry is imported and a real tracer provider is set, else None."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None
    found = _TRACERS.get(id(provider))
    if found is None or found[0] is not provider:
        from . import __version__

        found = _TRACERS[id(provider)] = (provider, provider.get_tracer("autostore", __version__))
    return found[1]


def traced(operation: str) -> Callable[[_F], _F]:
    """Make a store/path method a span named ``autostore.<operation>`` when tracing is on."""

    def decorate(method: _F) -> _F:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if "opentelemetry.trace" not in sys.modules:
                return method(self, *args, **kwargs)
            tracer = _tracer()
            if tracer is None:
                return method(self, *args, **kwargs)
            return _in_span(tracer, operation, method, self, args, kwargs)

        return cast(_F, wrapper)

    return decorate


def _in_span(tracer: Any, operation: str, method: Callable[..., Any], obj: Any, args: Any, kwargs: Any) -> Any:
    counts: list[float] = [0] * _SIZE
    token = _SPAN.set(counts)
    with tracer.start_as_current_span(f"autostore.{operation}") as span:
        try:
            return method(obj, *args, **kwargs)
        finally:
            _SPAN.reset(token)
            span.set_attributes(_span_attributes(operation, obj, args, counts))


def _span_attributes(operation: str, obj: Any, args: Any, counts: list[float]) -> dict[str, Any]:
    stats = _snapshot(counts)
    attributes: dict[str, Any] = {"autostore.operation": operation}
    target = str(obj) if type(obj).__name__ == "AutoPath" else getattr(obj, "uri", None)
    if target is not None:
        attributes["autostore.uri"] = str(target)
    if args and isinstance(args[0], str):
        attributes["autostore.key"] = args[0]
    attributes["autostore.requests"] = stats.total_requests
    for kind, n in stats.requests.items():
        if n:
            attributes[f"autostore.requests.{kind.replace(' ', '_')}"] = n
    for name, value in stats.as_dict().items():
        if name not in ("requests", "total_requests"):
            attributes[f"autostore.{name}"] = value
    return attributes
