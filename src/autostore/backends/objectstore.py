"""Object-store backend on obstore (Rust object_store): S3 and S3-compatible services, memory,
GCS, Azure and (read-only) HTTP, through one class. A new cloud is a new entry in ``_BUILDERS``.

obstore is imported lazily, on the first request, so ``import autostore`` stays light.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import json
import logging
import os
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from time import perf_counter
from typing import IO, Any, TypeVar, cast

from ..errors import (
    AlreadyExists,
    AuthError,
    AutoStoreError,
    BackendError,
    BucketNotFound,
    ConfigError,
    MissingDependency,
    NotFound,
)
from ..metrics import COPY, DELETE, GET, HEAD, LIST, MP_COMPLETE, MP_PART, MP_START, PUT, RANGE
from ..options import AZURITE_ACCOUNT, AZURITE_KEY, AzureOptions, GCSOptions, Options, S3Options
from . import forksafe, ranged
from .base import Backend, ObjectMeta, ProgressCallback

__all__ = ["ObjectStoreBackend", "register_builder", "register_fork_transport"]

# Each part of a streamed upload in flight is a chunk in memory; cap their total so uploading a
# file or stream of any size keeps memory bounded (max_concurrency is lowered to fit).
_STREAM_MEMORY = 64 * 1024 * 1024
_REQUEST_CAP_SECONDS = 3600.0
_RETRIES_RE = re.compile(r"after (\d+) retries")
_STATUS_RE = re.compile(r"status code: (\d{3})")
# Keys per LIST page (the services' defaults; object_store asks for no other size).
_PAGE_SIZE = {"az": 5000}

log = logging.getLogger("autostore")

StoreBuilder = Callable[[str, Options], tuple[Any, str, list[str]]]
"""(bucket, options) -> (obstore store, identity text, secrets to scrub from messages)."""

_BUILDERS: dict[str, StoreBuilder] = {}
_READ_ONLY_KINDS = frozenset({"http"})
_CREDENTIAL_HINTS = {
    "s3": "aws_access_key_id / aws_secret_access_key / profile_name",
    "gs": "service_account_path / service_account_key / GOOGLE_APPLICATION_CREDENTIALS",
    "az": "account_name / account_key / sas_token / connection_string",
}
_MEMORY_STORES: dict[str, Any] = {}
_MEMORY_LOCK = threading.Lock()


_CLIENTS: OrderedDict[tuple[Any, ...], tuple[Any, str, list[str]]] = OrderedDict()
_CLIENTS_LOCK = threading.Lock()
_MAX_CLIENTS = 64


def _shared_client(kind: str, bucket: str, options: Options) -> tuple[Any, str, list[str]]:
    """One obstore client per (service, bucket, settings) in this process, shared by every store
    and AutoPath using them: their connection pools (and TLS sessions) are reused, so a new
    AutoStore costs no new connections. Settings include what the environment supplies."""
    settled = options.resolved() if isinstance(options, S3Options) else options
    ident = (kind, bucket, type(settled).__name__, dataclasses.astuple(settled))
    with _CLIENTS_LOCK:
        found = _CLIENTS.get(ident)
        if found is not None:
            _CLIENTS.move_to_end(ident)
            return found
    built = _BUILDERS[kind](bucket, options)
    with _CLIENTS_LOCK:
        _CLIENTS[ident] = built
        while len(_CLIENTS) > _MAX_CLIENTS:
            _CLIENTS.popitem(last=False)
    return built


def register_builder(kind: str, builder: StoreBuilder) -> None:
    """Teach the object-store backend a new backend kind."""
    _BUILDERS[kind] = builder


ForkTransport = Callable[[str, str, Options], Backend]
"""(scheme, bucket, options) -> a Backend that works without obstore (see forksafe)."""

# Kinds that do no network I/O keep obstore in a forked child (checked: MemoryStore works there).
_FORK_SAFE_KINDS = {"memory"}
_FORK_TRANSPORTS: dict[str, ForkTransport] = {}


def register_fork_transport(kind: str, factory: ForkTransport) -> None:
    """Say how ``kind`` is reached in a child forked after obstore was used."""
    _FORK_TRANSPORTS[kind] = factory


def _boto3_transport(scheme: str, bucket: str, options: Options) -> Backend:
    from .boto3_transport import Boto3Backend

    return Boto3Backend(scheme, bucket, options)


register_fork_transport("s3", _boto3_transport)

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")


def _fork_routed(method: _F) -> _F:
    """In a child forked after obstore was used, run ``method`` on the child's own transport."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: ObjectStoreBackend, *args: Any, **kwargs: Any) -> Any:
        if forksafe.obstore_unsafe() and self.kind not in _FORK_SAFE_KINDS:
            return getattr(self._fork_transport(), name)(*args, **kwargs)
        return method(self, *args, **kwargs)

    return cast(_F, wrapper)


def _obstore() -> Any:
    try:
        import obstore
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependency('Object stores need obstore: pip install "autostore[s3]".') from exc
    return obstore


def _client_options(opts: Options, *, allow_http: bool) -> dict[str, Any]:
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


class _NotRetried(BackendError):
    """A transport failure of an idempotent call that obstore gave up on before max_retries (it
    never retries a list response whose body broke off, nor the POST of a bulk delete, nor some
    broken responses); we retry those ourselves. ``attempts``: requests obstore already made."""

    attempts = 1


def _retry_config(opts: Options) -> dict[str, Any]:
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


def _transport_kwargs(opts: Options, endpoint: str | None) -> dict[str, Any]:
    """Client and retry settings every obstore store gets; plain http only to an http:// endpoint."""
    return {
        "client_options": _client_options(opts, allow_http=bool(endpoint and endpoint.startswith("http://"))),
        "retry_config": _retry_config(opts),
    }


def _s3_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import S3Store

    s3 = opts if isinstance(opts, S3Options) else S3Options(scheme=opts.scheme).inherit(opts)
    assert isinstance(s3, S3Options)
    s3 = s3.resolved()
    kwargs: dict[str, Any] = {}
    secrets: list[str] = []
    endpoint = s3.endpoint_url
    region = s3.region_name
    if s3.aws_access_key_id is not None:
        kwargs["access_key_id"] = s3.aws_access_key_id
        kwargs["secret_access_key"] = s3.aws_secret_access_key
        secrets.append(s3.aws_secret_access_key or "")
        if s3.aws_session_token:
            kwargs["token"] = s3.aws_session_token
            secrets.append(s3.aws_session_token)
    elif s3.profile_name is not None:
        provider, profile_endpoint, profile_region = _profile_credentials(s3.profile_name)
        kwargs["credential_provider"] = provider
        endpoint = endpoint or profile_endpoint
        region = region or profile_region
    if endpoint:
        kwargs["endpoint"] = endpoint
    kwargs["region"] = region or "us-east-1"
    kwargs.update(_transport_kwargs(s3, endpoint))
    store = S3Store(bucket, **kwargs)
    identity = f"s3|{endpoint or 'aws'}|{bucket}"
    return store, identity, [s for s in secrets if s]


def _profile_credentials(profile: str) -> tuple[Any, str | None, str | None]:
    """Credentials, endpoint and region of an AWS config profile (boto3 is used only here)."""
    try:
        import boto3
        from obstore.auth.boto3 import Boto3CredentialProvider
    except ImportError as exc:
        raise MissingDependency(
            f'profile_name={profile!r} needs boto3 to read AWS profiles: pip install "autostore[s3]".'
        ) from exc
    try:
        session = boto3.Session(profile_name=profile)
    except Exception as exc:  # botocore.exceptions.ProfileNotFound and friends
        raise AuthError(
            f"AWS profile {profile!r} cannot be loaded ({type(exc).__name__}); check ~/.aws/config "
            "or pass aws_access_key_id/aws_secret_access_key."
        ) from None
    scoped = session._session.get_scoped_config()  # the profile's own settings
    endpoint = scoped.get("endpoint_url") or (scoped.get("s3") or {}).get("endpoint_url")
    return Boto3CredentialProvider(session), endpoint, session.region_name


def _memory_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import MemoryStore

    with _MEMORY_LOCK:
        store = _MEMORY_STORES.get(bucket)
        if store is None:
            store = _MEMORY_STORES[bucket] = MemoryStore()
    return store, f"memory|{os.getpid()}|{bucket}", []


_GCS_DEFAULT_URL = "https://storage.googleapis.com"


def _gcs_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import GCSStore

    g = opts if isinstance(opts, GCSOptions) else GCSOptions(scheme=opts.scheme).inherit(opts)
    assert isinstance(g, GCSOptions)
    g = g.resolved()
    config: dict[str, Any] = {}
    secrets: list[str] = []
    endpoint = g.endpoint_url
    if g.anonymous:
        # An OAuth-less service account: never asks a metadata server for a token (skip_signature
        # still does before writes), so public buckets and emulators need no credentials.
        fake = {"gcs_base_url": endpoint or _GCS_DEFAULT_URL, "disable_oauth": True}
        fake.update(client_email="", private_key="", private_key_id="")
        config["service_account_key"] = json.dumps(fake)
    else:
        if g.service_account_path:
            config["service_account"] = g.service_account_path
        elif g.service_account_key:
            config["service_account_key"] = g.service_account_key
            secrets.append(g.service_account_key)
        elif g.application_credentials:
            config["application_credentials"] = g.application_credentials
        if endpoint:
            config["base_url"] = endpoint.rstrip("/")
    store = GCSStore(bucket, config=cast(Any, config), **_transport_kwargs(g, endpoint))
    return store, f"gs|{endpoint or 'gcs'}|{bucket}", secrets


def _azure_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import AzureStore

    a = opts if isinstance(opts, AzureOptions) else AzureOptions(scheme=opts.scheme).inherit(opts)
    assert isinstance(a, AzureOptions)
    a = a.resolved()
    container, _, host = bucket.partition("@")  # abfs://container@account.dfs.core.windows.net/
    account = a.account_name
    if host:
        from_uri = host.split(".", 1)[0]
        if account and account != from_uri:
            raise ConfigError(
                f"The URI names storage account {from_uri!r} but the options say account_name={account!r}; "
                "drop one of them."
            )
        account = from_uri
    endpoint, key = a.endpoint_url, a.account_key
    if a.use_emulator:
        account = account or AZURITE_ACCOUNT
        key = key or (AZURITE_KEY if account == AZURITE_ACCOUNT else None)
        endpoint = endpoint or f"http://127.0.0.1:10000/{account}"
    config: dict[str, Any] = {}
    secrets: list[str] = []
    if account:
        config["account_name"] = account
    if a.anonymous:
        config["skip_signature"] = True
    elif key:
        config["account_key"] = key
        secrets.append(key)
    elif a.sas_token:
        config["sas_key"] = a.sas_token.lstrip("?")
        secrets.append(a.sas_token)
    elif a.client_id and a.client_secret and a.tenant_id:
        config.update(client_id=a.client_id, client_secret=a.client_secret, tenant_id=a.tenant_id)
        secrets.append(a.client_secret)
    elif a.use_azure_cli:
        config["use_azure_cli"] = True
    if endpoint:
        config["endpoint"] = endpoint.rstrip("/")
    store = AzureStore(container, config=cast(Any, config), **_transport_kwargs(a, endpoint))
    return store, f"az|{endpoint or account or 'azure'}|{container}", secrets


def _http_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import HTTPStore

    scheme = "https" if opts.scheme == "https" else "http"
    url = f"{scheme}://{bucket}/"
    kwargs: dict[str, Any] = {
        "client_options": _client_options(opts, allow_http=scheme == "http"),
        "retry_config": _retry_config(opts),
    }
    store = HTTPStore(url, **kwargs)
    return store, f"http|{url}", []


register_builder("s3", _s3_builder)
register_builder("memory", _memory_builder)
register_builder("gs", _gcs_builder)
register_builder("az", _azure_builder)
register_builder("http", _http_builder)


class ObjectStoreBackend(Backend):
    """One bucket of an object store, spoken to through obstore."""

    def __init__(self, scheme: str, kind: str, bucket: str, options: Options) -> None:
        if kind not in _BUILDERS:
            raise ConfigError(f"No object-store support for {scheme}:// (backend kind {kind!r}).")
        if options.scheme != scheme:  # builders read the scheme (http vs https) from the options
            options = dataclasses.replace(options, scheme=scheme)
        self.scheme = scheme
        self.kind = kind
        self.bucket = bucket
        self.options = options
        # Requests go through a client that makes one attempt per call: autostore retries them
        # itself (same backoff), so that every attempt is counted (store.stats()). Multipart
        # uploads keep obstore's own retries per part (see _retrying_store).
        self._single_options = dataclasses.replace(options, max_retries=0)
        self._store: Any = None
        self._multipart_store: Any = None
        self._secrets: list[str] = []
        self._lock = threading.Lock()
        self.identity = f"{kind}|{bucket}"
        self._threshold = getattr(options, "multipart_threshold", 64 * 1024 * 1024)
        self._chunk = getattr(options, "multipart_chunksize", 16 * 1024 * 1024)
        self._concurrency = getattr(options, "max_concurrency", 10)
        self._child: tuple[int, Backend] | None = None  # (pid, transport) in a forked child

    @property
    def _stream_concurrency(self) -> int:
        return max(1, min(self._concurrency, _STREAM_MEMORY // self._chunk))

    # -- client ---------------------------------------------------------------------------
    @property
    def store(self) -> Any:
        """The obstore store for single requests, built on first use (one per backend, shared by
        threads). It makes one attempt per call; :meth:`_call` retries."""
        store = self._store
        if store is None or forksafe.obstore_unsafe():
            store = self._store = self._client(self._single_options)
        return store

    @property
    def _retrying_store(self) -> Any:
        """The obstore store for multipart uploads, whose parts obstore retries itself."""
        store = self._multipart_store
        if store is None or forksafe.obstore_unsafe():
            store = self._multipart_store = self._client(self.options)
        return store

    def _client(self, options: Options) -> Any:
        if forksafe.obstore_unsafe() and self.kind not in _FORK_SAFE_KINDS:
            raise BackendError(
                f"{self.uri('')} cannot use obstore in this process: it was forked after obstore was used, "
                "and obstore would hang. Use the store's methods (they switch transport), or start workers "
                "with multiprocessing's 'spawn' or 'forkserver' method."
            )
        with self._lock:
            _obstore()
            try:
                store, identity, secrets = _shared_client(self.kind, self.bucket, options)
            except AutoStoreError:
                raise
            except Exception as exc:  # obstore rejects the configuration (bad key file, ...)
                if _credential_failure(exc):
                    raise self._translate(exc, "", "connect to") from None
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ConfigError(
                    f"Cannot configure {self.scheme}://{self.bucket}/: {first[:300]}; check the options "
                    f"({type(self.options).__name__}) and the environment."
                ) from None
            self.identity, self._secrets = identity, secrets
        return store

    def _fork_transport(self) -> Backend:
        """This process's replacement transport (built here; a grandchild builds its own)."""
        pid = os.getpid()
        child = self._child
        if child is None or child[0] != pid:
            factory = _FORK_TRANSPORTS.get(self.kind)
            if factory is None:
                raise BackendError(
                    f"{self.uri('')} cannot be used in a process forked after obstore was used ({self.kind} has "
                    "no fork-safe transport); start workers with multiprocessing's 'spawn' or 'forkserver' method."
                )
            transport = factory(self.scheme, self.bucket, self.options)
            transport.stats = self.stats  # the child's requests count on the same store
            # No lock: one inherited from the parent may be held by a thread that does not exist here.
            child = self._child = (pid, transport)
            self.identity = transport.identity
        return child[1]

    @contextlib.contextmanager
    def _errors(self, key: str, action: str, *, idempotent: bool = False) -> Iterator[None]:
        """Map obstore's exceptions onto ours, naming the URI and never a secret. With
        ``idempotent``, transport failures obstore did not retry become ``_NotRetried``."""
        try:
            yield
        except AutoStoreError:
            raise
        except Exception as exc:
            raise self._translate(exc, key, action, idempotent=idempotent) from None

    def _translate(self, exc: Exception, key: str, action: str, *, idempotent: bool = False) -> Exception:
        from obstore import exceptions as oe

        uri = self.uri(key)
        text = self._scrub(str(exc))
        if _credential_failure(exc):
            # raised by the profile's credential provider (boto3) before any request was sent
            settled = self.options.resolved() if isinstance(self.options, S3Options) else self.options
            profile = getattr(settled, "profile_name", None)
            source = f"AWS profile {profile!r}" if profile else "the AWS credential chain"
            reason = text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__
            return AuthError(
                f"No usable credentials from {source} to {action} {uri} ({reason}); fix the profile in "
                "~/.aws/config and ~/.aws/credentials, or pass aws_access_key_id/aws_secret_access_key."
            )
        missing = ("NoSuchBucket", "ContainerNotFound")
        if any(code in text for code in missing) or "bucket does not exist" in text.lower():
            what = "Container" if self.kind == "az" else "Bucket"
            return BucketNotFound(
                f"{what} {self.bucket!r} does not exist ({action} {uri}); create it or fix the URI/endpoint."
            )
        if isinstance(exc, (FileNotFoundError, oe.NotFoundError)):
            return NotFound(f"No object at {uri}.")
        if isinstance(exc, (oe.PermissionDeniedError, oe.UnauthenticatedError)) or any(
            code in text for code in ("SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "403 Forbidden")
        ):
            hint = _CREDENTIAL_HINTS.get(self.kind, "credentials")
            return AuthError(
                f"Access denied to {action} {uri}: check the credentials ({hint}) and their "
                f"permissions{self._credential_hint()}."
            )
        if isinstance(exc, oe.AlreadyExistsError):
            return AlreadyExists(f"{uri} already exists.")
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        if self.kind == "http" and action == "list":
            return BackendError(
                f"Cannot list {uri}: plain HTTP servers have no listing (only WebDAV servers do); "
                f"name the file with its extension. ({first[:200]})"
            )
        # obstore's messages tell how it failed: "Error performing GET ... [after N retries] - HTTP
        # error" (no answer), "... - Server returned non-2xx status code: 503" (a server error),
        # "Error getting list response body: HTTP error" or a bare "HTTP error" (a body broke off).
        # Transient ones of an idempotent request are retried. (Checked by tests/test_faults.py.)
        found = _RETRIES_RE.search(first)
        done = int(found.group(1)) if found else 0
        status = _STATUS_RE.search(first)
        transient = "HTTP error" in first or (
            status is not None and (status.group(1).startswith("5") or status.group(1) == "429")
        )
        early = idempotent and transient and done < self.options.max_retries
        message = (
            f"Could not {action} {uri}: {first[:300]} (timeout={self.options.timeout}s, "
            f"max_retries={self.options.max_retries}; check the endpoint and network)."
        )
        if not early:
            return BackendError(message)
        err = _NotRetried(message)
        err.attempts = done + 1
        return err

    def _credential_hint(self) -> str:
        if not isinstance(self.options, S3Options):
            return ""
        s3 = self.options.resolved()
        if s3.aws_access_key_id is None and s3.profile_name is None:
            return (
                "; none were configured (no aws_access_key_id/profile_name, AWS_ACCESS_KEY_ID or AWS_PROFILE), "
                "so only instance/container credentials were tried"
            )
        return f" (profile {s3.profile_name!r})" if s3.aws_access_key_id is None else ""

    def _before_retry(self, exc: _NotRetried, used: int) -> int:
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
                if isinstance(err, _NotRetried) and used + err.attempts <= self.options.max_retries:
                    stats.failure(kind, seconds, retried=True)
                    used = self._before_retry(err, used)
                    continue
                if isinstance(err, (NotFound, AlreadyExists)):
                    stats.request(kind, seconds)  # an answer, not a failure
                else:
                    stats.failure(kind, seconds, retried=False)
                if isinstance(err, _NotRetried):
                    raise BackendError(str(err)) from None
                raise err from None
            stats.request(kind, perf_counter() - start if timed else 0.0, down(result) if down is not None else 0, up)
            return result

    def _writable(self, key: str) -> None:
        if self.kind in _READ_ONLY_KINDS:
            raise BackendError(
                f"{self.uri(key)} is read-only: autostore reads {self.scheme}:// URLs but cannot write or "
                "delete them; write to a local path or an object store (s3://, gs://, az://) instead."
            )

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- reads ----------------------------------------------------------------------------
    @_fork_routed
    def head(self, key: str) -> ObjectMeta:
        ob = _obstore()
        store = self.store
        return _meta(self._call(HEAD, key, "read", lambda: ob.head(store, key)))

    @_fork_routed
    def get_bytes(self, key: str) -> bytes:
        ob = _obstore()
        store = self.store
        return self._call(GET, key, "read", lambda: bytes(ob.get(store, key).bytes()), down=len)

    @_fork_routed
    def get_with_meta(self, key: str) -> tuple[bytes, ObjectMeta]:
        """The object and its metadata from one request."""
        ob = _obstore()
        store = self.store

        def call() -> tuple[bytes, ObjectMeta]:
            result = ob.get(store, key)
            return bytes(result.bytes()), _meta(result.meta)

        return self._call(GET, key, "read", call, down=lambda r: len(r[0]))

    @_fork_routed
    def get_range(self, key: str, start: int, end: int) -> bytes:
        ob = _obstore()
        if end <= start:
            return b""
        store = self.store
        return self._call(RANGE, key, "read", lambda: bytes(ob.get_range(store, key, start=start, end=end)), down=len)

    def _first_part(self, key: str, action: str, if_none_match: str | None) -> tuple[ObjectMeta, Any] | None:
        """The object's metadata and its bytes from one GET: all of them for an object up to
        :data:`ranged.PART`, else the first part (the rest of that response is not read; ranged
        GETs fetch it in parallel). None when its ETag is ``if_none_match`` (304)."""
        ob = _obstore()
        from obstore.exceptions import NotModifiedError

        store = self.store
        options: dict[str, Any] | None = {"if_none_match": if_none_match} if if_none_match else None

        def call() -> tuple[ObjectMeta, Any] | None:
            try:
                result = ob.get(store, key, options=options)
            except NotModifiedError:
                return None
            meta = _meta(result.meta)
            if meta.size <= ranged.PART:
                return meta, result.bytes()
            return meta, next(iter(result.stream(min_chunk_size=ranged.PART)))

        return self._call(GET, key, action, call, down=lambda r: 0 if r is None else len(r[1]))

    def _range_fetcher(self, key: str, etag: str | None, *, timed: bool = True) -> ranged.Fetch:
        """Fetch bytes [start, end) of ``key``, pinned to ``etag`` so that an object replaced
        meanwhile fails (412) instead of mixing two versions in one file."""
        ob = _obstore()
        store = self.store
        pinned: dict[str, Any] = {"if_match": etag} if etag else {}

        def fetch(start: int, end: int) -> Any:
            def call() -> Any:
                return ob.get(store, key, options={**pinned, "range": (start, end)}).bytes()

            try:
                return self._call(RANGE, key, "read", call, down=len, timed=timed)
            except BackendError as exc:
                if "412" in str(exc) or "Precondition" in str(exc):
                    raise BackendError(
                        f"{self.uri(key)} changed while it was being read (its ETag is no longer {etag}); "
                        "read it again."
                    ) from None
                raise

        return fetch

    @property
    def _download_concurrency(self) -> int:
        # Each part in flight is held in memory once: bounded like uploads (_STREAM_MEMORY).
        return max(1, min(self._concurrency, _STREAM_MEMORY // ranged.PART // 2))

    @_fork_routed
    def download(
        self,
        key: str,
        dest: Path,
        *,
        if_none_match: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectMeta | None:
        first = self._first_part(key, "download", if_none_match)
        if first is None:
            return None
        meta, head = first
        fetch = self._range_fetcher(key, meta.etag, timed=False)
        workers = self._download_concurrency
        ranged.download_into(dest, meta.size, head, fetch, workers, self.stats, progress, self.uri(key))
        return meta

    @_fork_routed
    def fetch(self, key: str, dest: Path, *, limit: int) -> bytes | None:
        first = self._first_part(key, "read", None)
        assert first is not None
        meta, head = first
        fetch = self._range_fetcher(key, meta.etag, timed=False)
        workers, uri = self._download_concurrency, self.uri(key)
        if meta.size <= limit:
            return ranged.fetch_bytes(meta.size, head, fetch, workers, self.stats, uri)
        ranged.download_into(dest, meta.size, head, fetch, workers, self.stats, None, uri)
        return None

    # -- writes ---------------------------------------------------------------------------
    def _multipart(self, key: str, action: str, size: int, chunk: int, call: Callable[[Any], Any]) -> Any:
        """Run a multipart upload (obstore retries its parts) and count its requests: start,
        ceil(size / chunk) parts, complete. A failed one counts as one failed part (which of its
        requests obstore sent is not known)."""
        store = self._retrying_store
        stats = self.stats
        start = perf_counter()
        try:
            with self._errors(key, action):
                result = call(store)
        except BaseException:
            stats.failure(MP_PART, perf_counter() - start, retried=False)
            raise
        stats.requests(MP_START, 1)
        stats.requests(MP_PART, max(1, -(-size // chunk)), up=size)
        stats.requests(MP_COMPLETE, 1)
        stats.waited(perf_counter() - start)
        return result

    @_fork_routed
    def put_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        self._writable(key)
        ob = _obstore()
        size = len(data)
        if size > self._threshold:
            chunk, concurrency = self._chunk, self._concurrency
            result = self._multipart(
                key,
                "write",
                size,
                chunk,
                lambda store: ob.put(
                    store, key, data, use_multipart=True, chunk_size=chunk, max_concurrency=concurrency
                ),
            )
        else:
            store = self.store
            result = self._call(PUT, key, "write", lambda: ob.put(store, key, data, use_multipart=False), up=size)
        return ObjectMeta(key=key, size=size, etag=result.get("e_tag"))

    @_fork_routed
    def upload(self, key: str, src: Path, *, progress: ProgressCallback | None = None) -> ObjectMeta:
        self._writable(key)
        ob = _obstore()
        size = os.path.getsize(src)
        if size <= self._threshold:
            with open(src, "rb") as f:
                data = f.read()
            store = self.store
            result = self._call(PUT, key, "upload", lambda: ob.put(store, key, data, use_multipart=False), up=size)
        else:
            chunk, concurrency = self._chunk, self._stream_concurrency
            # obstore reads the file itself (no Python copy of each part); with a progress
            # callback, through a reader that reports the bytes obstore takes.
            source: Any = Path(src) if progress is None else _progress_reader(src, size, progress)
            try:
                result = self._multipart(
                    key,
                    "upload",
                    size,
                    chunk,
                    lambda store: ob.put(
                        store, key, source, use_multipart=True, chunk_size=chunk, max_concurrency=concurrency
                    ),
                )
            finally:
                if progress is not None:
                    source.close()
        if progress is not None:
            progress(size, size)
        return ObjectMeta(key=key, size=size, etag=result.get("e_tag"))

    @_fork_routed
    def delete(self, key: str) -> None:
        self._writable(key)
        ob = _obstore()
        self.head(key)  # S3 deletes of missing keys succeed silently; pathlib raises.
        store = self.store
        self._call(DELETE, key, "delete", lambda: ob.delete(store, key))

    @_fork_routed
    def delete_many(self, keys: list[str]) -> None:
        self._writable(keys[0] if keys else "")
        ob = _obstore()
        store = self.store
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            self._call(DELETE, batch[0] if batch else "", "delete", functools.partial(ob.delete, store, batch))

    @_fork_routed
    def copy(self, src: str, dst: str) -> None:
        self._writable(src)
        ob = _obstore()
        store = self.store
        self._call(COPY, src, "copy", lambda: ob.copy(store, src, dst))

    # -- listing --------------------------------------------------------------------------
    def _pages(self, items: int) -> int:
        """LIST requests it takes to receive ``items`` entries (at least one)."""
        size = _PAGE_SIZE.get(self.kind, 1000)
        return max(1, -(-items // size))

    def _listed(self, key: str, batches: Iterator[Any]) -> Iterator[Any]:
        """Pull ``batches`` of a listing, counting a LIST page whenever the entries received
        reach into a new page; failures are counted and mapped (transient ones: _NotRetried)."""
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

    @_fork_routed
    def list_objects(self, prefix: str = "") -> Iterator[ObjectMeta]:
        ob = _obstore()
        p = prefix.rstrip("/") or None
        last: str | None = None  # a broken-off listing resumes after the last key it gave
        used = 0
        while True:
            try:
                stream = iter(ob.list(self.store, prefix=p, offset=last, chunk_size=1000))
                for batch in self._listed(prefix, stream):
                    for m in batch:
                        meta = _meta(m)
                        if last is not None and meta.key <= last:
                            continue  # a server that ignores the list offset
                        last = meta.key
                        yield meta
                return
            except _NotRetried as exc:
                used = self._before_retry(exc, used)
                self.stats.retried()

    @_fork_routed
    def list_dir(self, prefix: str = "") -> tuple[list[ObjectMeta], list[str]]:
        ob = _obstore()
        p = prefix.rstrip("/") or None
        store = self.store
        result = self._call(LIST, prefix, "list", lambda: ob.list_with_delimiter(store, prefix=p))
        files = [_meta(m) for m in result["objects"]]
        dirs = [d.rstrip("/") + "/" for d in result["common_prefixes"]]
        for _ in range(self._pages(len(files) + len(dirs)) - 1):
            self.stats.request(LIST)  # the further pages object_store fetched inside the call
        return files, dirs

    @_fork_routed
    def list_stem(self, stem: str) -> list[str]:
        ob = _obstore()
        folder = stem.rpartition("/")[0]
        want = stem + "."
        used = 0
        while True:
            found: list[str] = []
            try:
                stream = iter(ob.list(self.store, prefix=folder or None, offset=want, chunk_size=100))
                for batch in self._listed(stem, stream):
                    for m in batch:
                        path = m["path"]
                        if path < want:  # a server that ignores the list offset (fake-gcs-server)
                            continue
                        if not path.startswith(want):
                            return found
                        if "/" not in path[len(want) :]:
                            found.append(path)
                return found
            except _NotRetried as exc:
                used = self._before_retry(exc, used)
                self.stats.retried()

    def is_dir(self, prefix: str) -> bool:
        if self.kind == "http":  # no listing over plain HTTP: a URL is a file or nothing
            return False
        return super().is_dir(prefix)

    # -- streams --------------------------------------------------------------------------
    @_fork_routed
    def open_read(self, key: str) -> IO[bytes]:
        meta = self.head(key)
        reader: Any = ranged.RangeReader(self._range_fetcher(key, meta.etag), meta.size, self.uri(key))
        return reader  # type: ignore[no-any-return]

    @_fork_routed
    def open_write(self, key: str) -> IO[bytes]:
        self._writable(key)
        ob = _obstore()
        with self._errors(key, "open"):
            writer: Any = ob.open_writer(
                self._retrying_store, key, buffer_size=self._chunk, max_concurrency=self._stream_concurrency
            )
        counting: Any = _CountingWriter(writer, self, self._chunk)
        return counting  # type: ignore[no-any-return]

    def storage_options(self, engine: str = "polars") -> dict[str, Any]:
        from .engines import engine_options

        return engine_options(self.options, self.kind, engine)

    # -- folders --------------------------------------------------------------------------
    @_fork_routed
    def remove_dir(self, prefix: str, *, recursive: bool = False) -> None:
        """Remove an empty folder (its ``name/`` marker object, if another tool made one), or
        with ``recursive`` every object below it."""
        name = prefix.rstrip("/")
        if recursive:
            # Reverse order puts children before the markers of their folders.
            keys = sorted((m.key for m in self.list_objects(name + "/")), reverse=True)
            if keys:
                self.delete_many(keys)
        if name:
            self._delete_folder_entry(name)
        left = [m.key for m in self.list_objects(name + "/")]
        markers = left if recursive else [k for k in left if k == name]
        if markers:
            self._delete_markers([k + "/" for k in markers])

    def _delete_folder_entry(self, name: str) -> None:
        # obstore strips the "/" of "name/", so a marker can only be addressed as "name". Filer-based
        # servers (SeaweedFS) then drop the folder entry and its marker; on AWS it deletes a missing
        # key, a no-op. Skipped when a file "name" exists: that would delete the file.
        ob = _obstore()
        try:
            self.head(name)
            return
        except NotFound:
            pass
        store = self.store
        self._call(DELETE, name, "delete", lambda: ob.delete(store, name))

    def _delete_markers(self, keys: list[str]) -> None:
        """Delete keys ending with "/" (folder markers made by consoles and other tools), which
        obstore cannot address; boto3 (part of autostore[s3]) sends the request."""
        if self.kind != "s3":
            raise BackendError(
                f"Cannot delete folder marker(s) {', '.join(self.uri(k) for k in keys[:5])}: only S3 "
                "services support it here; delete them with the service's own tools."
            )
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise MissingDependency(
                f'Deleting folder marker {self.uri(keys[0])} needs boto3: pip install "autostore[s3]".'
            ) from exc
        opts = self.options
        s3 = opts if isinstance(opts, S3Options) else S3Options(scheme=self.scheme).inherit(opts)
        assert isinstance(s3, S3Options)
        s3 = s3.resolved()
        use_profile = s3.aws_access_key_id is None and s3.profile_name is not None
        session = boto3.Session(profile_name=s3.profile_name) if use_profile else boto3.Session()
        client = session.client(
            "s3",
            endpoint_url=s3.endpoint_url,
            aws_access_key_id=s3.aws_access_key_id,
            aws_secret_access_key=s3.aws_secret_access_key,
            aws_session_token=s3.aws_session_token,
            region_name=s3.region_name or "us-east-1",
            config=Config(
                connect_timeout=min(s3.timeout, 10.0),
                read_timeout=s3.timeout,
                retries={"max_attempts": s3.max_retries + 1},
                s3={"addressing_style": "path"} if s3.endpoint_url else {},
            ),
        )
        try:
            with self._errors(keys[0], "delete"):
                for start in range(0, len(keys), 1000):
                    batch = [{"Key": k} for k in keys[start : start + 1000]]
                    began = perf_counter()
                    result = client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
                    self.stats.request(DELETE, perf_counter() - began)
                    if result.get("Errors"):
                        err = result["Errors"][0]
                        raise BackendError(
                            f"Could not delete {self.uri(err.get('Key', ''))}: {err.get('Code')} {err.get('Message')}."
                        )
        finally:
            client.close()

    @_fork_routed
    def close(self) -> None:
        self._store = None
        self._multipart_store = None


def _credential_failure(exc: Exception) -> bool:
    """Raised by a profile's credential provider (boto3), before any request was sent."""
    return type(exc).__module__.startswith("botocore") or "get_credentials" in str(exc)


def _meta(m: Any) -> ObjectMeta:
    return ObjectMeta(key=m["path"], size=int(m["size"]), etag=m.get("e_tag"), modified_time=m.get("last_modified"))


class _ProgressFile(io.RawIOBase):
    """A local file read by obstore, reporting ``(done, total)`` as it goes."""

    def __init__(self, path: Path, total: int, progress: ProgressCallback) -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed with this reader
        self._total, self._progress, self._done = total, progress, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._file.readinto(buffer) or 0
        self._done += n
        if n:
            self._progress(min(self._done, self._total), self._total)
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def _progress_reader(path: Path, total: int, progress: ProgressCallback) -> IO[bytes]:
    return io.BufferedReader(_ProgressFile(path, total, progress), buffer_size=1 << 20)


class _CountingWriter:
    """obstore's WritableFile, counting the requests it sends: one PUT when less than
    ``buffer_size`` bytes were written, else a multipart upload of ``buffer_size`` parts."""

    def __init__(self, inner: Any, backend: ObjectStoreBackend, buffer_size: int) -> None:
        self._inner = inner
        self._backend = backend
        self._buffer = buffer_size
        self._size = 0
        self._seconds = 0.0

    def write(self, data: Any) -> int:
        start = perf_counter()
        try:
            n = self._inner.write(data)
        finally:
            self._seconds += perf_counter() - start
        self._size += len(data)
        return int(n) if n is not None else len(data)

    def close(self) -> None:
        stats = self._backend.stats
        start = perf_counter()
        try:
            self._inner.close()
        except BaseException:
            stats.failure(MP_PART if self._size >= self._buffer else PUT, perf_counter() - start, retried=False)
            raise
        seconds = self._seconds + perf_counter() - start
        if self._size < self._buffer:
            stats.request(PUT, seconds, up=self._size)
        else:
            stats.requests(MP_START, 1)
            stats.requests(MP_PART, -(-self._size // self._buffer), up=self._size)
            stats.requests(MP_COMPLETE, 1)
            stats.waited(seconds)

    def __enter__(self) -> _CountingWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def abort(self) -> None:
        """Discard the upload (obstore aborts it when its ``with`` block fails)."""
        from ..streams import _Aborted

        parts = self._size // self._buffer
        self._inner.__exit__(_Aborted, _Aborted(), None)
        if parts:  # the parts already sent, then the request that aborts the upload
            stats = self._backend.stats
            stats.requests(MP_START, 1)
            stats.requests(MP_PART, parts, up=parts * self._buffer)
            stats.requests(DELETE, 1)
