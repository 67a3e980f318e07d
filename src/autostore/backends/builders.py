"""obstore client builders, one per service (S3, memory, GCS, Azure, HTTP), and the registry
and cache that turn (kind, bucket, options) into a shared obstore client.

One job: configure obstore clients. Every setting that decides where requests go and how they
are signed is given explicitly, so the environment cannot change it behind the options; the
variables no explicit setting can switch off are refused (:func:`refuse_unoverridable_env`).
A new cloud is a new :func:`register_builder` entry. obstore is imported lazily.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar, cast

from ..errors import ConfigError, MissingDependency
from ..options import AZURITE_ACCOUNT, AZURITE_KEY, AzureOptions, GCSOptions, Options, S3Options, env_is_set
from .retry import client_options, retry_config, transport_kwargs
from .s3conn import resolve_s3

__all__ = [
    "StoreBuilder",
    "as_options",
    "azure_config",
    "has_builder",
    "obstore_module",
    "refuse_unoverridable_env",
    "register_builder",
    "shared_client",
]

_O = TypeVar("_O", bound=Options)

StoreBuilder = Callable[[str, Options], tuple[Any, str, list[str]]]
"""(bucket, options) -> (obstore store, identity text, secrets to scrub from messages)."""

_BUILDERS: dict[str, StoreBuilder] = {}
_MEMORY_STORES: dict[str, Any] = {}
_MEMORY_LOCK = threading.Lock()


_CLIENTS: OrderedDict[tuple[Any, ...], tuple[Any, str, list[str]]] = OrderedDict()
_CLIENTS_LOCK = threading.Lock()
_MAX_CLIENTS = 64


def shared_client(kind: str, bucket: str, options: Options) -> tuple[Any, str, list[str]]:
    """One obstore client per (service, bucket, settings) in this process, shared by every store
    and AutoPath using them: their connection pools (and TLS sessions) are reused, so a new
    AutoStore costs no new connections. Settings include what the environment supplies."""
    # Before the cache: the environment may have changed since an equal client was built.
    refuse_unoverridable_env(kind, f"{options.scheme}://{bucket}/")
    settled = options.resolved() if isinstance(options, S3Options) else options
    if kind == "gs":
        _refuse_gcs_clashes(bucket, as_options(GCSOptions, options).resolved())
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


def obstore_module() -> Any:
    """The obstore module (MissingDependency without the extra)."""
    try:
        import obstore
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependency('Object stores need obstore: pip install "autostore[s3]".') from exc
    return obstore


# obstore builds every S3Store from object_store's `AmazonS3Builder::from_env()` (all `AWS_*`
# variables, checked with obstore 0.12.1: `AWS_ENDPOINT_URL_S3` even beats `endpoint=`) and then
# applies what it is given; it cannot be told to skip the environment. So every setting that
# decides where requests go and how they are signed is given explicitly (below), credentials come
# through a credential provider (it outranks keys, `AWS_SESSION_TOKEN`, web identity ... from the
# environment), and the client/retry options replace the `AWS_<client option>` ones wholesale.
# The variables left are refused (_UNOVERRIDABLE): no explicit value switches them off.
_UNOVERRIDABLE = {
    "s3": (
        "AWS_SERVER_SIDE_ENCRYPTION",
        "AWS_SSE_KMS_KEY_ID",
        "AWS_SSE_BUCKET_KEY_ENABLED",
        "AWS_SSE_CUSTOMER_KEY_BASE64",
        "AWS_CHECKSUM_ALGORITHM",
    ),
    "az": ("AZURE_STORAGE_ENCRYPTION_KEY",),
    "gs": ("GOOGLE_BEARER_TOKEN",),
}


def refuse_unoverridable_env(kind: str, where: str) -> None:
    """ConfigError when the environment sets a variable obstore (or polars) would apply behind
    the options and that no explicit setting can switch off."""
    found = env_is_set(*_UNOVERRIDABLE.get(kind, ()))
    if found:
        raise ConfigError(
            f"{', '.join(found)} {'is' if len(found) == 1 else 'are'} set in the environment: the object-store "
            f"library would apply {'it' if len(found) == 1 else 'them'} to {where} behind autostore's options, "
            "and autostore does not support that setting; unset it (e.g. `env -u NAME`) for this process."
        )


def _s3_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import S3Store

    conn = resolve_s3(opts)
    kwargs: dict[str, Any] = {"config": conn.object_store_settings(), **transport_kwargs(conn.options, conn.endpoint)}
    provider = conn.credential_provider()
    if provider is not None:
        kwargs["credential_provider"] = provider
    store = S3Store(bucket, **kwargs)
    return store, f"s3|{conn.endpoint or 'aws'}|{bucket}", conn.secrets


def _memory_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import MemoryStore

    with _MEMORY_LOCK:
        store = _MEMORY_STORES.get(bucket)
        if store is None:
            store = _MEMORY_STORES[bucket] = MemoryStore()
    return store, f"memory|{os.getpid()}|{bucket}", []


_GCS_DEFAULT_URL = "https://storage.googleapis.com"


# object_store's GCS builder reads every GOOGLE_* variable (and SERVICE_ACCOUNT) first. base_url
# and skip_signature are given explicitly; a credential slot we fill replaces the variable of the
# same slot, but a service-account path and key cannot both be set, and a service account beats
# application-default credentials: such combinations are refused instead of silently mixed.
_GCS_SLOTS = {
    "path": ("SERVICE_ACCOUNT", "GOOGLE_SERVICE_ACCOUNT", "GOOGLE_SERVICE_ACCOUNT_PATH"),
    "key": ("GOOGLE_SERVICE_ACCOUNT_KEY",),
    "adc": ("GOOGLE_APPLICATION_CREDENTIALS",),
}


def _gcs_slot(g: GCSOptions) -> str | None:
    """The builder slot resolved GCS options fill with their credentials."""
    if g.anonymous:
        return "key"  # an OAuth-less service-account key (see _gcs_builder)
    if g.service_account_path:
        return "path"
    if g.service_account_key:
        return "key"
    return "adc" if g.application_credentials else None


def _refuse_gcs_clashes(bucket: str, g: GCSOptions) -> None:
    """ConfigError when variables would give obstore credentials next to (or instead of) ours:
    other slots than ours (ADC is ignored once a service account is set)."""
    slot = _gcs_slot(g)
    clashing = [v for name, names in _GCS_SLOTS.items() if name != slot for v in env_is_set(*names)]
    if slot in ("path", "key"):
        clashing = [v for v in clashing if v not in _GCS_SLOTS["adc"]]
    if clashing:
        raise ConfigError(
            f"{', '.join(clashing)} set in the environment would give obstore other credentials than the "
            f"options for gs://{bucket}/ ({'anonymous' if g.anonymous else slot or 'none'}); unset "
            f"{'it' if len(clashing) == 1 else 'them'} or pass those credentials in GCSOptions."
        )


def as_options(cls: type[_O], opts: Options) -> _O:
    """``opts`` as ``cls`` (plain Options pass their shared fields on)."""
    return opts if isinstance(opts, cls) else cls(scheme=opts.scheme).inherit(opts)


def _gcs_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import GCSStore

    g = as_options(GCSOptions, opts).resolved()
    endpoint = g.endpoint_url
    base_url = (endpoint or _GCS_DEFAULT_URL).rstrip("/")
    config: dict[str, Any] = {"base_url": base_url, "skip_signature": False}
    secrets: list[str] = []
    if g.anonymous:
        # An OAuth-less service account: never asks a metadata server for a token (skip_signature
        # still does before writes), so public buckets and emulators need no credentials.
        fake = {"gcs_base_url": base_url, "disable_oauth": True}
        fake.update(client_email="", private_key="", private_key_id="")
        config["service_account_key"] = json.dumps(fake)
    elif g.service_account_path:
        config["service_account"] = g.service_account_path
    elif g.service_account_key:
        config["service_account_key"] = g.service_account_key
        secrets.append(g.service_account_key)
    elif g.application_credentials:
        config["application_credentials"] = g.application_credentials
    store = GCSStore(bucket, config=cast(Any, config), **transport_kwargs(g, endpoint))
    return store, f"gs|{endpoint or 'gcs'}|{bucket}", secrets


_AZURE_LOGIN = "https://login.microsoftonline.com"


def azure_config(bucket: str, opts: Options) -> tuple[str, dict[str, Any], list[str], str | None]:
    """(container, object_store Azure config, secrets, endpoint) for ``bucket`` (``container`` or
    ``container@account.dfs.core.windows.net``). The config keys are object_store's, which
    deltalake and polars accept too (``storage_options(engine="delta")``)."""
    a = as_options(AzureOptions, opts).resolved()
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
    # object_store's Azure builder reads every AZURE_* variable first: what decides the account,
    # the URL, emulator mode and the credential type is given explicitly, so none of them applies.
    config: dict[str, Any] = {"use_emulator": False, "use_fabric_endpoint": False, "disable_tagging": False}
    secrets: list[str] = []
    if account:
        config["account_name"] = account
    config["skip_signature"] = a.anonymous
    if a.anonymous:
        config.update(credential_type="bearer_token", token="")  # never sent: requests are unsigned
    elif key:
        config.update(credential_type="access_key", account_key=key)
        secrets.append(key)
    elif a.sas_token:
        config.update(credential_type="sas_token", sas_key=a.sas_token.lstrip("?"))
        secrets.append(a.sas_token)
    elif a.client_id and a.client_secret and a.tenant_id:
        config.update(
            credential_type="client_secret",
            client_id=a.client_id,
            client_secret=a.client_secret,
            tenant_id=a.tenant_id,
            authority_host=_AZURE_LOGIN,
        )
        secrets.append(a.client_secret)
    elif a.use_azure_cli:
        config["credential_type"] = "azure_cli"
    if endpoint or account:
        config["endpoint"] = (endpoint or f"https://{account}.blob.core.windows.net").rstrip("/")
    return container, config, secrets, endpoint


def _azure_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import AzureStore

    container, config, secrets, endpoint = azure_config(bucket, opts)
    store = AzureStore(container, config=cast(Any, config), **transport_kwargs(opts, endpoint))
    account = config.get("account_name")
    return store, f"az|{endpoint or account or 'azure'}|{container}", secrets


def _http_builder(bucket: str, opts: Options) -> tuple[Any, str, list[str]]:
    from obstore.store import HTTPStore

    scheme = "https" if opts.scheme == "https" else "http"
    url = f"{scheme}://{bucket}/"
    kwargs: dict[str, Any] = {
        "client_options": client_options(opts, allow_http=scheme == "http"),
        "retry_config": retry_config(opts),
    }
    store = HTTPStore(url, **kwargs)
    return store, f"http|{url}", []


register_builder("s3", _s3_builder)
register_builder("memory", _memory_builder)
register_builder("gs", _gcs_builder)
register_builder("az", _azure_builder)
register_builder("http", _http_builder)


def has_builder(kind: str) -> bool:
    """Whether obstore clients of ``kind`` can be built (see :func:`register_builder`)."""
    return kind in _BUILDERS
