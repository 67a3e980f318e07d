"""Issue 13, configuration point 1: what the caller passes is what runs, whatever the environment.

obstore (object_store), polars and botocore each read dozens of ``AWS_*``/``AZURE_*``/``GOOGLE_*``
variables on their own. Each test here sets ONE decoy variable (a closed loopback port, a bogus
key, another region, signing switched off, ...) and shows that a store with explicit options
still reaches the real server with the right credentials, through every transport: obstore,
the boto3 transport of forked children, polars' reader behind datasets, and the dicts
``storage_options()`` hands to other engines. The conftest fixture ``decoy_environment`` sets
all of them at once for the whole suite. Variables no explicit setting can switch off are refused
with a ConfigError naming them (last tests).
"""

from __future__ import annotations

import io
import json
import os
import uuid
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from autostore import AutoStore, ConfigError, S3Options
from autostore.backends.boto3_transport import Boto3Backend
from autostore.options import AzureOptions, GCSOptions
from autostore.testing import S3Server
from conftest import decoy_values
from helpers import in_child
from servers import Azurite, FakeGCS

AWS_DECOYS = sorted(name for name in decoy_values(1, Path("/nonexistent")) if name.startswith("AWS_"))
AZURE_DECOYS = sorted(name for name in decoy_values(1, Path("/nonexistent")) if name.startswith(("AZURE_", "AZURITE_")))
GCS_DECOYS = sorted(
    name for name in decoy_values(1, Path("/nonexistent")) if name.startswith(("GOOGLE_", "STORAGE_EMULATOR"))
)


@pytest.fixture
def only(decoy_environment: dict[str, str], request: pytest.FixtureRequest) -> dict[str, str]:
    """The cloud variables of a child process that sees exactly one decoy (the test's ``name``
    parameter); see :func:`helpers.in_child`."""
    name = request.node.callspec.params["name"]
    env = {"AUTOSTORE_CONFIG": "", name: decoy_environment[name]}
    if name == "AWS_PROFILE":  # a profile the (decoy) config file does not define
        env["AWS_CONFIG_FILE"] = decoy_environment["AWS_CONFIG_FILE"]
    return env


@pytest.fixture(scope="module")
def raw_client(s3_server: S3Server) -> Any:
    """A boto3 client straight to the server that reads no AWS_* variable (S3Server.client)."""
    return s3_server.client()


def _frame_folder(client: Any, bucket: str, prefix: str) -> pl.DataFrame:
    """Two parquet files below ``prefix`` written straight to the server (no autostore involved)."""
    df = pl.DataFrame({"k": [1, 2, 3], "v": ["a", "b", "c"]})
    for i, part in enumerate((df.head(2), df.tail(1))):
        buf = io.BytesIO()
        part.write_parquet(buf)
        client.put_object(Bucket=bucket, Key=f"{prefix}part-{i}.parquet", Body=buf.getvalue())
    return df


@pytest.mark.parametrize("name", AWS_DECOYS)
def test_point1_explicit_s3_options_beat_each_aws_variable(
    name: str, only: dict[str, str], s3_server: S3Server, shared_bucket: str, s3_options: S3Options
) -> None:
    in_child(only, _point1_body, s3_server, shared_bucket, s3_options)


def _point1_body(s3_server: S3Server, shared_bucket: str, s3_options: S3Options) -> None:
    prefix = f"decoy-{uuid.uuid4().hex[:8]}/"
    client = s3_server.client()

    # obstore
    with AutoStore(f"s3://{shared_bucket}/{prefix}", options=s3_options) as store:
        store["cfg"] = {"via": "obstore"}
        raw = client.get_object(Bucket=shared_bucket, Key=prefix + "cfg.json")["Body"].read()
        assert json.loads(raw) == {"via": "obstore"}  # on the real server, with the right keys
        assert store["cfg"] == {"via": "obstore"}
        assert store.options.region_name == "us-east-1" and store.options.endpoint_url == s3_server.endpoint_url

        # polars' own S3 reader behind datasets
        expected = _frame_folder(client, shared_bucket, prefix + "ds/")
        assert store["ds/"].collect().sort("k").equals(expected)

        # storage_options() for polars, scanned by polars directly
        opts = store.storage_options()
        direct = pl.scan_parquet(f"s3://{shared_bucket}/{prefix}ds/*.parquet", storage_options=opts)
        assert direct.collect().sort("k").equals(expected)

    # the boto3 transport of forked children
    backend = Boto3Backend("s3", shared_bucket, s3_options)
    backend.put_bytes(prefix + "boto3.bin", b"via boto3")
    assert client.get_object(Bucket=shared_bucket, Key=prefix + "boto3.bin")["Body"].read() == b"via boto3"
    assert backend.get_bytes(prefix + "boto3.bin") == b"via boto3"
    assert backend.identity == f"s3|{s3_server.endpoint_url}|{shared_bucket}"
    backend.close()


@pytest.mark.parametrize(
    ("name", "failure"),
    [
        ("AWS_ENDPOINT_URL_S3", "Connection refused"),
        ("AWS_SESSION_TOKEN", "403"),
        ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "error"),
        ("AWS_SKIP_SIGNATURE", "403"),
        ("AWS_S3_EXPRESS", "Zone"),
    ],
)
def test_point1_the_decoys_do_mislead_a_plain_obstore_client(
    name: str, failure: str, only: dict[str, str], s3_server: S3Server, shared_bucket: str
) -> None:
    """Control: the same explicit arguments given to obstore the usual way lose to the variable
    (so the test above proves something)."""
    in_child(only, _plain_obstore_fails, failure, s3_server, shared_bucket)


def _plain_obstore_fails(failure: str, s3_server: S3Server, shared_bucket: str) -> None:
    import obstore
    from obstore.store import S3Store

    with pytest.raises(Exception) as info:
        plain = S3Store(
            shared_bucket,
            endpoint=s3_server.endpoint_url,
            access_key_id=s3_server.access_key_id,
            secret_access_key=s3_server.secret_access_key,
            region=s3_server.region,
            client_options={"allow_http": True},
            retry_config={"max_retries": 0},
        )
        obstore.put(plain, f"plain-{uuid.uuid4().hex[:8]}.bin", b"x")
    assert failure.lower() in str(info.value).lower()


@pytest.mark.parametrize("name", ["AWS_PROFILE", "AWS_ENDPOINT_URL_S3"])
def test_point1_a_plain_boto3_client_is_misled_too(
    name: str, only: dict[str, str], s3_server: S3Server, shared_bucket: str
) -> None:
    """Control for the boto3 side: a plain client fails on a missing AWS_PROFILE even with explicit
    keys; with AWS_ENDPOINT_URL_S3 it still works (botocore lets an explicit endpoint win), but a
    client without one would go to the decoy, which is why autostore never leaves it to botocore."""
    in_child(only, _plain_boto3_is_misled, name, only[name], s3_server)


def _plain_boto3_is_misled(name: str, value: str, s3_server: S3Server) -> None:
    import boto3

    if name == "AWS_PROFILE":
        from botocore.exceptions import ProfileNotFound

        with pytest.raises(ProfileNotFound):
            boto3.client("s3", **s3_server.options_kwargs())  # type: ignore[call-overload]
    else:
        client = boto3.client("s3", region_name="us-east-1")
        assert client.meta.endpoint_url == value


def test_point1_all_decoys_at_once_through_every_transport(
    s3_server: S3Server, shared_bucket: str, s3_options: S3Options, decoy_environment: dict[str, str], raw_client: Any
) -> None:
    assert len(decoy_environment) > 60  # the conftest fixture is active
    prefix = f"decoy-all-{uuid.uuid4().hex[:8]}/"
    expected = _frame_folder(raw_client, shared_bucket, prefix + "ds/")
    with AutoStore(f"s3://{shared_bucket}/{prefix}", options=s3_options) as store:
        store["x.txt"] = "hello"
        assert raw_client.get_object(Bucket=shared_bucket, Key=prefix + "x.txt")["Body"].read() == b"hello"
        assert store["ds/"].collect().sort("k").equals(expected)
        opts = store.storage_options()
        assert opts["aws_endpoint_url_s3"] == opts["aws_endpoint_url"] == s3_server.endpoint_url
        assert opts["aws_session_token"] == ""  # explicit keys without a token: the variable's is blanked
        assert opts["aws_skip_signature"] == "false" and opts["aws_virtual_hosted_style_request"] == "false"
        direct = pl.scan_parquet(f"s3://{shared_bucket}/{prefix}ds/*.parquet", storage_options=opts)
        assert direct.collect().sort("k").equals(expected)
    backend = Boto3Backend("s3", shared_bucket, s3_options)
    assert backend.get_bytes(prefix + "x.txt") == b"hello"


def test_point1_fsspec_options_win_except_the_profile_variable(s3_store: AutoStore) -> None:
    """s3fs/botocore take explicit endpoint, keys (no token), region, CA verification and retries
    from the dict; only AWS_PROFILE cannot be switched off from storage options (README)."""
    s3_store["f.txt"] = "fsspec"
    options = s3_store.storage_options(engine="fsspec")
    in_child({"AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": ""}, _fsspec_reads, options, s3_store.uri, clear=False)


def _fsspec_reads(options: dict[str, Any], uri: str) -> None:
    import s3fs

    del os.environ["AWS_PROFILE"], os.environ["AWS_DEFAULT_PROFILE"]  # every other decoy stays
    fs = s3fs.S3FileSystem(**options)
    assert fs.cat(uri.removeprefix("s3://") + "f.txt") == b"fsspec"


@pytest.mark.parametrize("name", AZURE_DECOYS)
def test_point1_explicit_azure_options_beat_each_azure_variable(
    name: str, only: dict[str, str], azurite: Azurite
) -> None:
    in_child(only, _azure_body, name, azurite)


def _azure_body(name: str, azurite: Azurite) -> None:
    container = "c" + uuid.uuid4().hex[:12]
    azurite.create_container(container)
    for options in (
        AzureOptions(**azurite.options_kwargs()),  # type: ignore[arg-type]
        AzureOptions(connection_string=azurite.connection_string),
    ):
        with AutoStore(f"az://{container}/p/", options=options) as store:
            store["k.json"] = {"name": name}
            assert store["k.json"] == {"name": name}
            assert store.keys() == ["k"]


def test_point1_azure_all_decoys_at_once(azurite: Azurite, decoy_environment: dict[str, str]) -> None:
    container = "c" + uuid.uuid4().hex[:12]
    azurite.create_container(container)
    with AutoStore(f"az://{container}/", options=AzureOptions(**azurite.options_kwargs())) as store:  # type: ignore[arg-type]
        store["k.txt"] = "azure"
        assert store["k.txt"] == "azure"


@pytest.mark.parametrize("name", GCS_DECOYS)
def test_point1_explicit_gcs_options_beat_each_google_variable(
    name: str, only: dict[str, str], fake_gcs: FakeGCS
) -> None:
    in_child(only, _gcs_body, fake_gcs)


def _gcs_body(fake_gcs: FakeGCS) -> None:
    bucket = "g" + uuid.uuid4().hex[:12]
    fake_gcs.create_bucket(bucket)
    fake_gcs.upload(bucket, "d/x.json", b'{"gcs": 1}')
    with AutoStore(f"gs://{bucket}/d/", options=GCSOptions(endpoint_url=fake_gcs.url, anonymous=True)) as store:
        assert store["x.json"] == {"gcs": 1}


# -- what cannot be switched off is refused ---------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "AWS_SERVER_SIDE_ENCRYPTION",
        "AWS_SSE_KMS_KEY_ID",
        "AWS_SSE_BUCKET_KEY_ENABLED",
        "AWS_SSE_CUSTOMER_KEY_BASE64",
        "AWS_CHECKSUM_ALGORITHM",
    ],
)
def test_point1_unoverridable_aws_variables_are_refused(name: str, shared_bucket: str, s3_options: S3Options) -> None:
    value = "aws:kms" if name == "AWS_SERVER_SIDE_ENCRYPTION" else "decoy"
    in_child({name: value}, _aws_refused, name, shared_bucket, s3_options, clear=False)


def _aws_refused(name: str, shared_bucket: str, s3_options: S3Options) -> None:
    with AutoStore(f"s3://{shared_bucket}/refused/", options=s3_options) as store:
        with pytest.raises(ConfigError) as info:
            store["x.txt"] = "never sent"
        assert name in str(info.value) and "unset" in str(info.value)
        with pytest.raises(ConfigError, match=name):
            store.storage_options()
    del os.environ[name]
    with AutoStore(f"s3://{shared_bucket}/refused/", options=s3_options) as store:
        assert "x.txt" not in store  # nothing was written


def test_point1_unoverridable_azure_and_gcs_variables_are_refused(azurite: Azurite, fake_gcs: FakeGCS) -> None:
    in_child({}, _azure_and_gcs_refused, azurite, fake_gcs, clear=False)


def _azure_and_gcs_refused(azurite: Azurite, fake_gcs: FakeGCS) -> None:
    os.environ["AZURE_STORAGE_ENCRYPTION_KEY"] = "ZGVjb3k="
    with pytest.raises(ConfigError, match="AZURE_STORAGE_ENCRYPTION_KEY"):
        AutoStore("az://anything/", options=AzureOptions(**azurite.options_kwargs())).keys()  # type: ignore[arg-type]
    os.environ["GOOGLE_BEARER_TOKEN"] = "decoy-token"
    gcs = GCSOptions(endpoint_url=fake_gcs.url, anonymous=True)
    with pytest.raises(ConfigError, match="GOOGLE_BEARER_TOKEN"):
        AutoStore("gs://anything/", options=gcs).keys()
    del os.environ["GOOGLE_BEARER_TOKEN"]
    for name in ("GOOGLE_SERVICE_ACCOUNT", "GOOGLE_SERVICE_ACCOUNT_PATH", "SERVICE_ACCOUNT"):
        os.environ[name] = "/nonexistent/decoy-service-account.json"
        with pytest.raises(ConfigError, match=name):  # would clash with the explicit (anonymous) credentials
            AutoStore("gs://anything/", options=gcs).keys()
        del os.environ[name]
