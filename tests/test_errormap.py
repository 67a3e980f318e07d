"""The one error mapper (autostore.backends.errormap) over real exceptions: raised by obstore and
by boto3 against the SeaweedFS server (missing key, missing bucket, wrong credentials, a
precondition, 5xx answers injected by tests/faultproxy.py), and botocore's own credential errors.
Both transports' exceptions for the same failure map to the same error type."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import botocore.exceptions
import obstore
import pytest

from autostore.backends.builders import shared_client
from autostore.backends.errormap import NotRetried, PreconditionFailed, describe, is_credential_failure, map_error
from autostore.backends.s3conn import s3_client
from autostore.errors import AlreadyExists, AuthError, BackendError, BucketNotFound, ConfigError, NotFound
from autostore.options import S3Options
from autostore.testing import S3Server
from faultproxy import FaultProxy, first


def _raised(call: Callable[[], Any]) -> Exception:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("the request did not fail")


def _options(server: S3Server, **changes: Any) -> S3Options:
    kwargs: dict[str, Any] = {**server.options_kwargs(), "max_retries": 0, "retry_delay": 0.01, "timeout": 5}
    kwargs.update(changes)
    return S3Options(**kwargs)


def _obstore(opts: S3Options, bucket: str) -> Any:
    return shared_client("s3", bucket, opts)[0]


def _mapped(exc: Exception, opts: S3Options, client: str, *, idempotent: bool = False) -> Exception:
    return map_error(
        exc,
        uri="s3://b/k",
        bucket="b",
        kind="s3",
        action="read",
        options=opts,
        secrets=[opts.aws_secret_access_key or ""],
        client=client,
        idempotent=idempotent,
    )


@pytest.fixture
def key(s3_server: S3Server, shared_bucket: str) -> str:
    name = f"errormap/{uuid.uuid4().hex}"
    s3_server.client().put_object(Bucket=shared_bucket, Key=name, Body=b"x")
    return name


def test_missing_key_is_not_found_from_both_clients(s3_server: S3Server, shared_bucket: str) -> None:
    opts = _options(s3_server)
    ob = _raised(lambda: obstore.get(_obstore(opts, shared_bucket), "errormap/none"))
    assert describe(ob, "obstore").kind == "missing"
    assert describe(ob, "obstore").status == 404
    client = s3_client(opts.resolved())
    for exc in (ob, _raised(lambda: client.get_object(Bucket=shared_bucket, Key="errormap/none"))):
        err = _mapped(exc, opts, "obstore" if exc is ob else "boto3")
        assert type(err) is NotFound
        assert str(err) == "No object at s3://b/k."
    head = _raised(lambda: client.head_object(Bucket=shared_bucket, Key="errormap/none"))
    assert describe(head, "boto3").code == "404"
    assert type(_mapped(head, opts, "boto3")) is NotFound


def test_missing_bucket_is_bucket_not_found_from_both_clients(s3_server: S3Server) -> None:
    opts = _options(s3_server)
    bucket = "missing-" + uuid.uuid4().hex[:8]
    ob = _raised(lambda: obstore.get(_obstore(opts, bucket), "k"))
    bo = _raised(lambda: s3_client(opts.resolved()).get_object(Bucket=bucket, Key="k"))
    assert describe(ob, "obstore").code == describe(bo, "boto3").code == "NoSuchBucket"
    for exc, client in ((ob, "obstore"), (bo, "boto3")):
        err = _mapped(exc, opts, client)
        assert isinstance(err, BucketNotFound)
        assert "Bucket 'b' does not exist (read s3://b/k)" in str(err)
    listing = _raised(lambda: obstore.list(_obstore(opts, bucket)).collect())
    assert isinstance(_mapped(listing, opts, "obstore"), BucketNotFound)


def test_wrong_credentials_are_auth_errors_without_the_secret(
    s3_server: S3Server, shared_bucket: str, key: str
) -> None:
    opts = _options(s3_server, aws_secret_access_key="wrong-secret-" + uuid.uuid4().hex)
    ob = _raised(lambda: obstore.get(_obstore(opts, shared_bucket), key))
    bo = _raised(lambda: s3_client(opts.resolved()).get_object(Bucket=shared_bucket, Key=key))
    assert describe(ob, "obstore").code == describe(bo, "boto3").code == "SignatureDoesNotMatch"
    assert describe(ob, "obstore").status == describe(bo, "boto3").status == 403
    for exc, client in ((ob, "obstore"), (bo, "boto3")):
        err = _mapped(exc, opts, client)
        assert type(err) is AuthError
        assert str(err).startswith("Access denied to read s3://b/k: check the credentials (aws_access_key_id")
        assert opts.aws_secret_access_key not in str(err)


def test_failed_precondition(s3_server: S3Server, shared_bucket: str, key: str) -> None:
    opts = _options(s3_server)
    store = _obstore(opts, shared_bucket)
    changed = _raised(lambda: obstore.get(store, key, options={"if_match": '"not-the-etag"'}))
    assert describe(changed, "obstore").kind == "precondition"
    assert isinstance(_mapped(changed, opts, "obstore"), PreconditionFailed)
    exists = _raised(lambda: obstore.put(store, key, b"y", mode="create"))
    assert type(_mapped(exists, opts, "obstore")) is AlreadyExists
    bo = _raised(
        lambda: s3_client(opts.resolved()).put_object(Bucket=shared_bucket, Key=key, Body=b"y", IfNoneMatch="*")
    )
    assert describe(bo, "boto3").kind == "precondition"
    assert describe(bo, "boto3").status == 412


@pytest.mark.parametrize("fault", ["503", "500"])
def test_server_errors_are_transient(
    s3_server: S3Server, shared_bucket: str, key: str, fault_proxy: FaultProxy, fault: str
) -> None:
    opts = _options(s3_server, endpoint_url=fault_proxy.endpoint_url)
    fault_proxy.plan = first(2, fault)
    ob = _raised(lambda: obstore.get(_obstore(opts, shared_bucket), key))
    bo = _raised(
        lambda: s3_client(opts.resolved(), retries={"total_max_attempts": 1}).get_object(Bucket=shared_bucket, Key=key)
    )
    code = "SlowDown" if fault == "503" else "InternalError"
    for exc, client in ((ob, "obstore"), (bo, "boto3")):
        failure = describe(exc, client)
        assert (failure.status, failure.code, failure.transient, failure.retries) == (int(fault), code, True, 0)
        err = _mapped(exc, opts, client)
        assert type(err) is BackendError
        assert str(err).startswith("Could not read s3://b/k: ")
        assert "(timeout=5s, max_retries=0; check the endpoint and network)." in str(err)
    # With retries left and an idempotent request, obstore's early give-up is retried by autostore.
    retrying = _mapped(ob, _options(s3_server, max_retries=2), "obstore", idempotent=True)
    assert isinstance(retrying, NotRetried)
    assert retrying.attempts == 1


def test_dropped_connection_is_transient(
    s3_server: S3Server, shared_bucket: str, key: str, fault_proxy: FaultProxy
) -> None:
    opts = _options(s3_server, endpoint_url=fault_proxy.endpoint_url)
    fault_proxy.plan = first(1, "drop")
    ob = _raised(lambda: obstore.get(_obstore(opts, shared_bucket), key))
    failure = describe(ob, "obstore")
    assert (failure.status, failure.kind, failure.transient) == (None, "other", True)


def test_credential_errors_name_the_credential_source(s3_server: S3Server) -> None:
    opts = _options(s3_server)
    for exc, client in (
        (botocore.exceptions.NoCredentialsError(), "boto3"),
        (botocore.exceptions.ProfileNotFound(profile="nobody"), "boto3"),
        # inside obstore, boto3 only runs as a profile's credential provider
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "obstore"),
    ):
        assert is_credential_failure(exc, client)
        err = _mapped(exc, opts, client)
        assert type(err) is AuthError
        assert str(err).startswith("No usable credentials from the AWS credential chain to read s3://b/k (")
    connection = botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert not is_credential_failure(connection, "boto3")
    assert type(_mapped(connection, opts, "boto3")) is BackendError


def test_autostore_errors_pass_through(s3_server: S3Server) -> None:
    err = ConfigError("already ours")
    assert _mapped(err, _options(s3_server), "obstore") is err
