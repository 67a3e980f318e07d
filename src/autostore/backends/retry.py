"""Timeouts, retries and backoff of object-store requests: the obstore client and retry
settings every store gets, the backoff bounds shared with autostore's own retry loop,
:class:`NotRetried` (a transient failure obstore gave up on before ``max_retries``), and
:class:`AttemptingBackend`, the loop that sends a request one attempt at a time, retries it and
counts every attempt (``store.stats()``).

One job: turn ``Options.timeout`` / ``max_retries`` / ``retry_delay`` into obstore's settings and
into the attempts autostore makes itself, so both retry the same way.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from time import perf_counter
from typing import Any, TypeVar

from ..errors import AlreadyExists, AutoStoreError, BackendError, NotFound
from ..metrics import LIST
from ..options import Options
from .base import Backend
from .errormap import NotRetried, map_error

__all__ = [
    "AttemptingBackend",
    "backoff_bounds",
    "client_options",
    "retry_config",
    "transport_kwargs",
    "worst_case_seconds",
]

_REQUEST_CAP_SECONDS = 3600.0
# Keys per LIST page (the services' defaults; object_store asks for no other size).
_PAGE_SIZE = {"az": 5000}

log = logging.getLogger("autostore")

_T = TypeVar("_T")


def client_options(opts: Options, *, allow_http: bool) -> dict[str, Any]:
    """obstore ``client_options`` for ``opts``: stall, connect and overall timeouts."""
    # `timeout` is a stall timeout, as in requests/boto3: a request fails when no byte arrives for
    # that long (obstore's read_timeout), so big transfers are not cut off. The overall cap per
    # request attempt is an hour; connecting gets at most 10 s so a dead endpoint fails fast.
    return {
        "timeout": timedelta(seconds=max(opts.timeout, _REQUEST_CAP_SECONDS)),
        "read_timeout": timedelta(seconds=opts.timeout),
        "connect_timeout": timedelta(seconds=min(opts.timeout, 10.0)),
        **({"allow_http": True} if allow_http else {}),
    }


def backoff_bounds(opts: Options) -> tuple[float, float]:
    """(first, largest) delay in seconds between two attempts of one request."""
    delay = max(opts.retry_delay, 0.001)
    return delay, delay * 8


def worst_case_seconds(opts: Options) -> float:
    """How long a request can take before failing when the server stalls every attempt."""
    _, largest = backoff_bounds(opts)
    connect = min(opts.timeout, 10.0)
    return (opts.max_retries + 1) * (opts.timeout + connect) + opts.max_retries * largest


def retry_config(opts: Options) -> dict[str, Any]:
    """obstore ``retry_config`` for ``opts``: the same backoff autostore's own retries use."""
    # obstore silently ignores unknown keys here: only these four exist (see DESIGN.md).
    # Its backoff is "decorrelated jitter": the first retry waits init_backoff, each later one a
    # random time between init_backoff and base x the previous wait, capped at max_backoff.
    # retry_timeout must never be what stops retries early, so it gets the worst case plus room
    # for a long transfer that failed late.
    first, largest = backoff_bounds(opts)
    return {
        "max_retries": opts.max_retries,
        "retry_timeout": timedelta(seconds=worst_case_seconds(opts) + 600),
        "backoff": {
            "init_backoff": timedelta(seconds=first),
            "max_backoff": timedelta(seconds=largest),
            "base": 2.0,
        },
    }


def transport_kwargs(opts: Options, endpoint: str | None) -> dict[str, Any]:
    """Client and retry settings every obstore store gets; plain http only to an http:// endpoint."""
    return {
        "client_options": client_options(opts, allow_http=bool(endpoint and endpoint.startswith("http://"))),
        "retry_config": retry_config(opts),
    }


class AttemptingBackend(Backend):
    """A backend whose requests go out one attempt at a time (an obstore client with
    ``max_retries=0``): :meth:`_call` retries transient failures with obstore's backoff and counts
    every attempt; errors are mapped by :mod:`.errormap` (``client`` names the library)."""

    kind: str
    bucket: str
    options: Options
    client = "obstore"
    _secrets: list[str]

    @contextlib.contextmanager
    def errors(self, key: str, action: str, *, idempotent: bool = False) -> Iterator[None]:
        """Map obstore's exceptions onto ours, naming the URI and never a secret. With
        ``idempotent``, transport failures obstore did not retry become ``NotRetried``."""
        try:
            yield
        except AutoStoreError:
            raise
        except Exception as exc:
            raise self._translate(exc, key, action, idempotent=idempotent) from None

    def _translate(self, exc: Exception, key: str, action: str, *, idempotent: bool = False) -> Exception:
        return map_error(
            exc,
            uri=self.uri(key),
            bucket=self.bucket,
            kind=self.kind,
            action=action,
            options=self.options,
            secrets=self._secrets,
            client=self.client,
            idempotent=idempotent,
        )

    def _before_retry(self, exc: NotRetried, used: int) -> int:
        """Count the attempts ``exc`` made and wait before the next one with obstore's backoff
        (decorrelated jitter); past max_retries, raise it as a plain BackendError."""
        used += exc.attempts
        if used > self.options.max_retries:
            raise BackendError(str(exc)) from None
        first, largest = backoff_bounds(self.options)
        delay = first if used == 1 else random.uniform(first, min(largest, first * 2**used))
        log.debug("retry %d of %d in %.3fs after: %s", used, self.options.max_retries, delay, exc)
        time.sleep(delay)
        self.stats.waited(delay)
        return used

    def _call(
        self,
        kind: int,
        key: str,
        action: str,
        call: Callable[[], _T],
        *,
        up: int = 0,
        down: Callable[[_T], int] | None = None,
        timed: bool = True,
    ) -> _T:
        """Send the idempotent request ``call`` (one attempt on :attr:`store`), retrying transient
        failures up to max_retries times with backoff; every attempt is counted as a request of
        ``kind`` (``up`` bytes sent, ``down(result)`` received, and unless ``timed`` is False -
        a part of a parallel transfer, whose caller counts its wall time - the time it took)."""
        used = 0
        stats = self.stats
        while True:
            start = perf_counter()
            try:
                result = call()
            except Exception as exc:
                seconds = perf_counter() - start if timed else 0.0
                err = exc if isinstance(exc, AutoStoreError) else self._translate(exc, key, action, idempotent=True)
                if isinstance(err, NotRetried) and used + err.attempts <= self.options.max_retries:
                    stats.failure(kind, seconds, retried=True)
                    used = self._before_retry(err, used)
                    continue
                if isinstance(err, (NotFound, AlreadyExists)):
                    stats.request(kind, seconds)  # an answer, not a failure
                else:
                    stats.failure(kind, seconds, retried=False)
                if isinstance(err, NotRetried):
                    raise BackendError(str(err)) from None
                raise err from None
            stats.request(kind, perf_counter() - start if timed else 0.0, down(result) if down is not None else 0, up)
            return result

    def _pages(self, items: int) -> int:
        """LIST requests it takes to receive ``items`` entries (at least one)."""
        size = _PAGE_SIZE.get(self.kind, 1000)
        return max(1, -(-items // size))

    def _listed(self, key: str, batches: Iterator[Any]) -> Iterator[Any]:
        """Pull ``batches`` of a listing, counting a LIST page whenever the entries received
        reach into a new page; failures are counted and mapped (transient ones: NotRetried)."""
        stats = self.stats
        items = pages = 0
        while True:
            start = perf_counter()
            try:
                batch = next(batches, None)
            except Exception as exc:
                seconds = perf_counter() - start
                err = exc if isinstance(exc, AutoStoreError) else self._translate(exc, key, "list", idempotent=True)
                stats.failure(LIST, seconds, retried=False)  # the caller counts the retry, if any
                raise err from None
            seconds = perf_counter() - start
            if batch is not None:
                items += len(batch)
            now = self._pages(items)
            if now > pages:
                for _ in range(now - pages - 1):
                    stats.request(LIST)
                stats.request(LIST, seconds)
                pages = now
            elif seconds:
                stats.waited(seconds)
            if batch is None:
                return
            yield batch
