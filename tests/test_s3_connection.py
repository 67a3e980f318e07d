"""One S3 connection resolver (autostore.backends.s3conn.resolve_s3): the obstore client, the boto3
transport (fork children, object versions, folder markers) and the storage options handed to
polars, fsspec and deltalake all talk to the endpoint, region, addressing style and credentials of
the one resolved value, with its timeouts and retries. Read from the real client objects (no
request is sent)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from autostore.backends.boto3_transport import Boto3Backend
from autostore.backends.builders import shared_client
from autostore.backends.engines import engine_options
from autostore.backends.s3conn import S3Connection, resolve_s3
from autostore.options import S3Options
from helpers import env_test

_SERVICE_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)


def _no_service_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's decoys would fill what the options leave unset. The tests run in a spawned
    child (helpers.env_test): the test process's environment never changes."""
    for name in _SERVICE_ENV:
        monkeypatch.delenv(name, raising=False)


def _profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An AWS profile naming an endpoint and region, and asking for virtual-hosted addressing and
    other retries (which autostore does not take from files: the options decide)."""
    config, creds = tmp_path / "config", tmp_path / "credentials"
    config.write_text(
        "[profile conn]\nregion = ap-south-1\nendpoint_url = https://s3.profile.example\n"
        "max_attempts = 9\ns3 =\n    addressing_style = virtual\n"
    )
    creds.write_text("[conn]\naws_access_key_id = AKPROFILE\naws_secret_access_key = profile-secret\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    return "conn"


CASES: dict[str, dict[str, Any]] = {
    "explicit http endpoint": dict(
        endpoint_url="http://127.0.0.1:9",
        region_name="eu-west-1",
        aws_access_key_id="AKEXPLICIT",
        aws_secret_access_key="explicit-secret",
        timeout=12.0,
        max_retries=2,
    ),
    "https endpoint with a session token": dict(
        endpoint_url="https://storage.example",
        region_name="eu-central-2",
        aws_access_key_id="AKTOKEN",
        aws_secret_access_key="token-secret",
        aws_session_token="the-token",
        timeout=45.0,
        max_retries=0,
    ),
    "AWS itself, region only": dict(
        region_name="us-west-2",
        aws_access_key_id="AKAWS",
        aws_secret_access_key="aws-secret",
        max_retries=5,
    ),
    "profile (its endpoint, region; virtual-hosted style asked for)": dict(profile_name="conn", timeout=7.0),
}


def _options(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3Options:
    kwargs = CASES[case]
    if "profile_name" in kwargs:
        _profile(tmp_path, monkeypatch)
    return S3Options(retry_delay=0.05, **kwargs)


def _keys(conn: S3Connection) -> tuple[str | None, str | None, str | None]:
    if conn.key_id is not None:
        return conn.key_id, conn.secret, conn.token
    frozen = conn.boto3_session().get_credentials().get_frozen_credentials()
    return frozen.access_key, frozen.secret_key, frozen.token


@pytest.mark.parametrize("case", list(CASES))
@env_test(_no_service_env)
def test_every_s3_client_follows_the_resolved_connection(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opts = _options(case, tmp_path, monkeypatch)
    conn = resolve_s3(opts)
    given = CASES[case]
    # the resolver's value itself
    if "profile_name" in given:
        assert (conn.endpoint, conn.region, conn.profile, conn.key_id) == (
            "https://s3.profile.example",
            "ap-south-1",
            "conn",
            None,
        )
        assert _keys(conn) == ("AKPROFILE", "profile-secret", None)
    else:
        assert (conn.endpoint, conn.region) == (given.get("endpoint_url"), given["region_name"])
        assert (conn.key_id, conn.secret, conn.token) == (
            given["aws_access_key_id"],
            given["aws_secret_access_key"],
            given.get("aws_session_token"),
        )
    assert conn.url == (conn.endpoint or f"https://s3.{conn.region}.amazonaws.com")
    assert conn.addressing_style == "path"
    assert conn.allow_http == conn.url.startswith("http://")
    assert (conn.timeout, conn.max_retries) == (opts.timeout, opts.max_retries)
    assert "secret" not in repr(conn) and "the-token" not in repr(conn)
    keys = _keys(conn)
    bucket = "conn-" + uuid.uuid4().hex[:8]

    # obstore
    store, identity, secrets = shared_client("s3", bucket, opts)
    assert store.config["endpoint"] == store.config["endpoint_url_s3"] == conn.url
    assert store.config["region"] == conn.region
    assert store.config["virtual_hosted_style_request"] == "false"  # path style
    assert store.client_options.get("allow_http") == ("true" if conn.allow_http else None)
    assert store.client_options["read_timeout"] == f"{int(conn.timeout)}s"
    assert store.retry_config["max_retries"] == conn.max_retries
    if conn.key_id is not None:
        assert store.credential_provider() == {
            "access_key_id": keys[0],
            "secret_access_key": keys[1],
            "token": keys[2],
            "expires_at": None,
        }
    else:
        assert type(store.credential_provider).__name__ == "Boto3CredentialProvider"
    assert identity == f"s3|{conn.endpoint or 'aws'}|{bucket}"
    assert set(secrets) == set(conn.secrets)

    # the boto3 transport (also what object versions and folder-marker deletes use)
    transport = Boto3Backend("s3", bucket, opts)
    client = transport.client
    assert client.meta.endpoint_url == conn.url
    assert client.meta.region_name == conn.region
    assert client.meta.config.s3 == {"addressing_style": conn.addressing_style}
    assert client.meta.config.retries == {"total_max_attempts": conn.max_retries + 1, "mode": "standard"}
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (
        conn.connect_timeout,
        conn.timeout,
    )
    frozen = client._request_signer._credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == keys
    assert transport.identity == identity
    transport.close()

    # polars (object_store keys)
    polars = engine_options(opts, "s3", "polars", bucket)
    assert polars["aws_endpoint_url"] == polars["aws_endpoint_url_s3"] == conn.url
    assert polars["aws_region"] == conn.region
    assert polars.get("aws_virtual_hosted_style_request", "false") == "false"
    assert polars.get("allow_http") == ("true" if conn.allow_http else None)
    assert polars["timeout"] == f"{int(conn.timeout * 1000)}ms" and polars["max_retries"] == conn.max_retries
    if conn.profile is not None:
        assert polars["aws_profile"] == conn.profile and "aws_access_key_id" not in polars
    else:
        assert (polars["aws_access_key_id"], polars["aws_secret_access_key"]) == keys[:2]
        # no token: an empty one switches off the environment's (the suite sets a decoy one)
        assert (polars.get("aws_session_token") or None) == keys[2]

    # fsspec (s3fs keys)
    fs = engine_options(opts, "s3", "fsspec", bucket)
    assert fs.get("endpoint_url") == conn.endpoint
    assert fs["client_kwargs"]["region_name"] == conn.region
    assert fs["config_kwargs"] == conn.botocore_settings()
    assert fs["config_kwargs"]["s3"] == {"addressing_style": conn.addressing_style}
    if conn.profile is not None:
        assert fs["profile"] == conn.profile and "key" not in fs
    else:
        assert (fs["key"], fs["secret"], fs.get("token")) == keys

    # deltalake (object_store keys, credentials handed over)
    delta = engine_options(opts, "s3", "delta", bucket)
    assert delta["aws_endpoint_url"] == delta["aws_endpoint_url_s3"] == conn.url
    assert delta["aws_region"] == conn.region
    assert delta["aws_virtual_hosted_style_request"] == "false"
    assert (delta["aws_access_key_id"], delta["aws_secret_access_key"], delta.get("aws_session_token") or None) == keys
    assert delta.get("aws_allow_http") == ("true" if conn.allow_http else None)


@env_test(_no_service_env)
def test_resolving_twice_gives_equal_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for case in CASES:
        opts = _options(case, tmp_path, monkeypatch)
        assert resolve_s3(opts) == resolve_s3(opts)
