"""A backend's connection settings spelled for other engines, so they read the same objects
with the same credentials: ``"polars"`` (object_store keys: polars, and DuckDB/delta-rs style
readers), ``"fsspec"`` (s3fs keys: Dask, PyArrow via fsspec, pandas) and ``"delta"``
(deltalake / delta-rs: the keys a Delta table needs to commit safely, on S3 and Azure).

S3 values come from the one :class:`~autostore.backends.s3conn.S3Connection` the object-store
backend and the boto3 transport use too (:func:`~autostore.backends.s3conn.resolve_s3`: options,
environment, AWS profile), so every engine reaches the same service the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import AuthError, ConfigError
from ..options import Options, env_is_set
from .builders import azure_config, refuse_unoverridable_env
from .s3conn import S3Connection, resolve_s3

__all__ = ["ENGINES", "engine_options", "polars_scan"]

ENGINES = ("polars", "fsspec", "delta")


def engine_options(opts: Options, kind: str, engine: str, bucket: str = "") -> dict[str, Any]:
    """``storage_options`` for ``engine`` to read a backend of ``kind`` configured by ``opts``
    (``bucket``: the backend's bucket or container, for settings named by it)."""
    if engine not in ENGINES:
        raise ConfigError(f"engine={engine!r} is not supported; use one of {', '.join(ENGINES)}.")
    if engine == "delta" and kind == "az":
        return _delta_azure(opts, bucket)
    if kind != "s3":
        if engine == "delta":
            raise ConfigError(
                f"No delta storage options for {opts.scheme}:// ({kind} backend): Delta tables are supported on "
                "local paths, S3-compatible stores and Azure."
            )
        raise ConfigError(
            f"No {engine} storage options for {opts.scheme}:// ({kind} backend): only local paths and "
            "S3-compatible stores can be handed to other engines."
        )
    conn = resolve_s3(opts)
    if engine == "polars":
        refuse_unoverridable_env("s3", f"polars reads of {opts.scheme}:// URIs")
        return _polars(conn)
    if engine == "delta":
        refuse_unoverridable_env("s3", f"Delta tables on {opts.scheme}:// URIs")
        return _delta_s3(conn)
    return _fsspec(conn)


def polars_scan(opts: Options) -> tuple[dict[str, Any], Any]:
    """(storage_options, credential_provider) for polars to scan this S3 service inside autostore.

    Explicit keys and a profile's credentials go through a credential provider: it outranks every
    credential polars' object_store would read from the environment (a stray
    ``AWS_SESSION_TOKEN`` included) without an empty token header, and the storage options can
    then carry every setting that switches the ``AWS_*`` variables off (polars refuses most of
    them next to ``aws_profile``). Without credentials polars resolves them itself.
    """
    conn = resolve_s3(opts)
    refuse_unoverridable_env("s3", f"polars reads of {opts.scheme}:// URIs")
    if conn.key_id is not None:
        fixed = (conn.key_id, conn.secret or "", conn.token, None)
        provider: Any = _PolarsCredentials(lambda: fixed)
    elif conn.profile is not None:
        session, profile = conn.boto3_session(), conn.profile
        provider = _PolarsCredentials(lambda: _session_credentials(session, profile))
    else:
        return _polars(conn), None
    return _polars(conn, credentials=False), provider


def _session_credentials(session: Any, profile: str) -> tuple[str, str, str | None, int | None]:
    creds = session.get_credentials()
    if creds is None:
        raise AuthError(f"AWS profile {profile!r} gives no credentials; check ~/.aws/credentials (or its SSO login).")
    frozen = creds.get_frozen_credentials()
    expiry = getattr(creds, "_expiry_time", None)  # refreshable (SSO, assumed role) credentials
    return frozen.access_key, frozen.secret_key, frozen.token, int(expiry.timestamp()) if expiry else None


class _PolarsCredentials:
    """A polars credential provider function: () -> (credentials, expiry or None)."""

    def __init__(self, fetch: Callable[[], tuple[str, str, str | None, int | None]]) -> None:
        self._fetch = fetch

    def __call__(self) -> tuple[dict[str, str | None], int | None]:
        key_id, secret, token, expiry = self._fetch()
        creds = {"aws_access_key_id": key_id, "aws_secret_access_key": secret, "aws_session_token": token}
        return creds, expiry

    def __repr__(self) -> str:
        return "_PolarsCredentials(***)"


# object_store settings polars would otherwise take from AWS_* variables (polars builds its S3
# client from `AmazonS3Builder::from_env()` too), spelled as polars accepts them.
_POLARS_NAMES = {"endpoint": "aws_endpoint_url", "aws_endpoint_url_s3": "aws_endpoint_url_s3", "region": "aws_region"}
_WITH_PROFILE = frozenset({"aws_endpoint_url", "aws_endpoint_url_s3", "aws_region", "aws_virtual_hosted_style_request"})


def _polars(conn: S3Connection, *, credentials: bool = True) -> dict[str, Any]:
    # polars wants strings for object_store keys and ints for its own retry keys, and "allow_http"
    # (not aws_allow_http). The endpoint goes in twice: "aws_endpoint_url_s3" beats both
    # "aws_endpoint_url" and the AWS_ENDPOINT_URL_S3 variable. With a profile polars accepts only
    # region, endpoint and addressing next to "aws_profile" (it resolves the profile with boto3).
    out: dict[str, Any] = {
        _POLARS_NAMES.get(name, "aws_" + name): str(value).lower() if isinstance(value, bool) else value
        for name, value in conn.object_store_settings().items()
    }
    if credentials and conn.key_id is not None:
        out["aws_access_key_id"] = conn.key_id
        out["aws_secret_access_key"] = conn.secret or ""
        if conn.token:
            out["aws_session_token"] = conn.token
        elif env_is_set("AWS_SESSION_TOKEN", "AWS_TOKEN"):
            # Keys without a token: an empty one replaces the variable's (object_store has no way
            # to unset it; the reader inside autostore uses polars_scan() instead).
            out["aws_session_token"] = ""
    elif credentials and conn.profile is not None:
        out = {k: v for k, v in out.items() if k in _WITH_PROFILE}
        out["aws_profile"] = conn.profile
    if conn.allow_http:
        out["allow_http"] = "true"
    delay_ms = max(int(conn.retry_delay * 1000), 1)
    out["timeout"] = f"{int(conn.timeout * 1000)}ms"
    out["connect_timeout"] = f"{int(conn.connect_timeout * 1000)}ms"
    out["max_retries"] = conn.max_retries
    out["retry_timeout_ms"] = int(max(conn.timeout * (conn.max_retries + 1), 1.0) * 1000)
    out["retry_init_backoff_ms"] = delay_ms
    out["retry_max_backoff_ms"] = delay_ms * 8
    return out


def _fsspec(conn: S3Connection) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if conn.key_id is not None:
        out["key"] = conn.key_id
        out["secret"] = conn.secret
        if conn.token:
            out["token"] = conn.token
    elif conn.profile is not None:
        out["profile"] = conn.profile
    if conn.endpoint:
        out["endpoint_url"] = conn.endpoint
    # verify=True explicitly: botocore would otherwise take AWS_CA_BUNDLE from the environment.
    out["client_kwargs"] = {"region_name": conn.region, "verify": True}
    # The botocore settings of autostore's own boto3 clients: timeouts, retries, path-style
    # addressing (object_store's, so s3fs requests the same URLs).
    out["config_kwargs"] = conn.botocore_settings()
    return out


# polars' own retry keys: deltalake (object_store) takes timeouts but not these.
_POLARS_ONLY = frozenset({"max_retries", "retry_timeout_ms", "retry_init_backoff_ms", "retry_max_backoff_ms"})


def _no_env_proxy(url: str) -> dict[str, str]:
    """delta-rs reads its client settings key by key, so a stray AWS_PROXY_URL / AZURE_PROXY_URL
    would route every commit through that proxy (obstore inside autostore replaces all client
    options at once and is immune). Excluding the service's host from that proxy switches it off
    (checked: a "*" exclusion does not); a proxy set the standard way (HTTPS_PROXY) is unaffected."""
    from urllib.parse import urlparse

    host = urlparse(url).hostname
    return {"proxy_excludes": host} if host else {}


def _delta_s3(conn: S3Connection) -> dict[str, Any]:
    # The same explicit settings as polars gets (so no AWS_* variable can redirect or re-sign a
    # commit), and "etag" conditional puts: delta-rs commits a version by creating its log file only
    # if absent, so concurrent writers need no lock service.
    out = {k: v for k, v in _polars(conn, credentials=False).items() if k not in _POLARS_ONLY}
    out["aws_conditional_put"] = "etag"
    if out.get("allow_http") == "true":
        out["aws_allow_http"] = "true"  # deltalake's documented spelling
    out.update(_no_env_proxy(out["aws_endpoint_url"]))
    token: str | None = None
    if conn.key_id is not None:
        out["aws_access_key_id"] = conn.key_id
        out["aws_secret_access_key"] = conn.secret or ""
        token = conn.token
    elif conn.profile is not None:
        # delta-rs does not read AWS config profiles the way boto3 does: hand it the profile's
        # current credentials (temporary ones expire with the profile's session).
        key, secret, token, _expiry = _session_credentials(conn.boto3_session(), conn.profile)
        out["aws_access_key_id"], out["aws_secret_access_key"] = key, secret
    if token:
        out["aws_session_token"] = token
    elif "aws_access_key_id" in out and env_is_set("AWS_SESSION_TOKEN", "AWS_TOKEN"):
        out["aws_session_token"] = ""  # else delta-rs pairs our keys with the environment's token
    return out


def _delta_azure(opts: Options, bucket: str) -> dict[str, Any]:

    _container, config, _secrets, endpoint = azure_config(bucket, opts)
    out = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in config.items()}
    if endpoint and endpoint.startswith("http://"):
        out["allow_http"] = "true"
    out["timeout"] = f"{int(opts.timeout * 1000)}ms"
    out["connect_timeout"] = f"{int(min(opts.timeout, 10.0) * 1000)}ms"
    out.update(_no_env_proxy(out.get("endpoint", "")))
    return out
