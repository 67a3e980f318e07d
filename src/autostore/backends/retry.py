"""Timeouts, retries and backoff of object-store requests: the obstore client and retry
settings every store gets, the backoff bounds shared with autostore's own retry loop, and
:class:`NotRetried` (a transient failure obstore gave up on before ``max_retries``).

One job: turn ``Options.timeout`` / ``max_retries`` / ``retry_delay`` into obstore's settings and
into the delays autostore waits itself, so both retry the same way.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..errors import BackendError
from ..options import Options

__all__ = ["NotRetried", "backoff_bounds", "client_options", "retry_config", "transport_kwargs", "worst_case_seconds"]

_REQUEST_CAP_SECONDS = 3600.0


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


class NotRetried(BackendError):
    """A transport failure of an idempotent call that obstore gave up on before max_retries (it
    never retries a list response whose body broke off, nor the POST of a bulk delete, nor some
    broken responses); we retry those ourselves. ``attempts``: requests obstore already made."""

    attempts = 1


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
