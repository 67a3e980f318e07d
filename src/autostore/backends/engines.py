"""A backend's connection settings spelled for other engines, so they read the same objects
with the same credentials: ``"polars"`` (object_store keys: polars, and DuckDB/delta-rs style
readers), ``"fsspec"`` (s3fs keys: Dask, PyArrow via fsspec, pandas) and ``"delta"``
(deltalake / delta-rs: the keys a Delta table needs to commit safely, on S3 and Azure).

Values come from the store's options, resolved exactly as the object-store backend resolves
them (``S3Options.resolved()`` for the environment, the AWS profile for its endpoint/region).
"""

from __future__ import annotations

from typing import Any

from ..errors import AuthError, ConfigError
from ..options import Options, S3Options, read_env

__all__ = ["ENGINES", "engine_options"]

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
    s3 = opts if isinstance(opts, S3Options) else S3Options(scheme=opts.scheme).inherit(opts)
    assert isinstance(s3, S3Options)
    s3 = s3.resolved()
    endpoint, region = s3.endpoint_url, s3.region_name
    if s3.aws_access_key_id is None and s3.profile_name is not None:
        from .objectstore import _profile_credentials

        _, profile_endpoint, profile_region = _profile_credentials(s3.profile_name)
        endpoint = endpoint or profile_endpoint
        region = region or profile_region
    region = region or "us-east-1"
    if engine == "polars":
        return _polars(s3, endpoint, region)
    if engine == "delta":
        return _delta_s3(s3, endpoint, region)
    return _fsspec(s3, endpoint, region)


def _polars(s3: S3Options, endpoint: str | None, region: str) -> dict[str, Any]:
    # polars wants strings for object_store keys and ints for its own retry keys; with a profile
    # it must see "aws_profile" and no other credential key, and "allow_http" (not aws_allow_http).
    out: dict[str, Any] = {"aws_region": region}
    if s3.aws_access_key_id is not None:
        out["aws_access_key_id"] = s3.aws_access_key_id
        out["aws_secret_access_key"] = s3.aws_secret_access_key or ""
        if s3.aws_session_token:
            out["aws_session_token"] = s3.aws_session_token
    elif s3.profile_name is not None:
        out["aws_profile"] = s3.profile_name
    if endpoint:
        out["aws_endpoint_url"] = endpoint
        if endpoint.startswith("http://"):
            out["allow_http"] = "true"
    delay_ms = max(int(s3.retry_delay * 1000), 1)
    out["timeout"] = f"{int(s3.timeout * 1000)}ms"
    out["connect_timeout"] = f"{int(min(s3.timeout, 10.0) * 1000)}ms"
    out["max_retries"] = s3.max_retries
    out["retry_timeout_ms"] = int(max(s3.timeout * (s3.max_retries + 1), 1.0) * 1000)
    out["retry_init_backoff_ms"] = delay_ms
    out["retry_max_backoff_ms"] = delay_ms * 8
    return out


def _fsspec(s3: S3Options, endpoint: str | None, region: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if s3.aws_access_key_id is not None:
        out["key"] = s3.aws_access_key_id
        out["secret"] = s3.aws_secret_access_key
        if s3.aws_session_token:
            out["token"] = s3.aws_session_token
    elif s3.profile_name is not None:
        out["profile"] = s3.profile_name
    config: dict[str, Any] = {
        "connect_timeout": min(s3.timeout, 10.0),
        "read_timeout": s3.timeout,
        "retries": {"max_attempts": s3.max_retries + 1, "mode": "standard"},
    }
    if endpoint:
        out["endpoint_url"] = endpoint
        # object_store (our transport) uses path-style requests; keep s3fs on the same URLs.
        config["s3"] = {"addressing_style": "path"}
    out["client_kwargs"] = {"region_name": region}
    out["config_kwargs"] = config
    return out


def _delta_s3(s3: S3Options, endpoint: str | None, region: str) -> dict[str, Any]:
    # delta-rs commits a version by creating its log file only if absent: on S3 that is a
    # conditional PUT (If-None-Match), so concurrent writers need no lock service.
    out: dict[str, Any] = {"aws_region": region, "aws_conditional_put": "etag"}
    if s3.aws_access_key_id is not None:
        out["aws_access_key_id"] = s3.aws_access_key_id
        out["aws_secret_access_key"] = s3.aws_secret_access_key or ""
        token = s3.aws_session_token
    elif s3.profile_name is not None:
        # delta-rs does not read AWS config profiles the way boto3 does: hand it the profile's
        # current credentials (temporary ones expire with the profile's session).
        key, secret, token = _profile_keys(s3.profile_name)
        out["aws_access_key_id"], out["aws_secret_access_key"] = key, secret
    else:
        token = None
    if token:
        out["aws_session_token"] = token
    elif "aws_access_key_id" in out and read_env("AWS_SESSION_TOKEN"):
        out["aws_session_token"] = ""  # else delta-rs pairs our keys with the environment's token
    if endpoint:
        # The _s3 spelling too: delta-rs (like obstore) lets AWS_ENDPOINT_URL_S3 in the environment
        # beat "aws_endpoint_url", but not "aws_endpoint_url_s3".
        out["aws_endpoint_url"] = out["aws_endpoint_url_s3"] = endpoint
        if endpoint.startswith("http://"):
            out["aws_allow_http"] = "true"
    out["timeout"] = f"{int(s3.timeout * 1000)}ms"
    out["connect_timeout"] = f"{int(min(s3.timeout, 10.0) * 1000)}ms"
    return out


def _profile_keys(profile: str) -> tuple[str, str, str | None]:
    """(key id, secret, session token) the AWS profile gives now (boto3 reads the profile)."""
    from .objectstore import profile_session

    session = profile_session(profile)
    try:
        creds = session.get_credentials()
        frozen = creds.get_frozen_credentials() if creds is not None else None
    except Exception as exc:  # an SSO token expired, a credential process failed, ...
        raise AuthError(
            f"AWS profile {profile!r} gives no usable credentials ({type(exc).__name__}); check ~/.aws/config "
            "or pass aws_access_key_id/aws_secret_access_key."
        ) from None
    if frozen is None or not frozen.access_key:
        raise AuthError(
            f"AWS profile {profile!r} has no credentials; check ~/.aws/credentials or log in (aws sso login)."
        )
    return frozen.access_key, frozen.secret_key, frozen.token


def _delta_azure(opts: Options, bucket: str) -> dict[str, Any]:
    from .objectstore import azure_config

    _container, config, _secrets, endpoint = azure_config(bucket, opts)
    out = {k: ("true" if v is True else str(v)) for k, v in config.items()}
    if endpoint and endpoint.startswith("http://"):
        out["allow_http"] = "true"
    out["timeout"] = f"{int(opts.timeout * 1000)}ms"
    out["connect_timeout"] = f"{int(min(opts.timeout, 10.0) * 1000)}ms"
    return out
