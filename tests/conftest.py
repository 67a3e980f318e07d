"""Shared fixtures: every store test runs on a local folder and on a real S3 server
(SeaweedFS, started once per session by the autostore.testing plugin)."""

from __future__ import annotations

import base64
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from autostore import AutoPath, AutoStore, S3Options
from autostore.testing import S3Server
from counting_proxy import CountingProxy
from faultproxy import FaultProxy
from helpers import clear_cloud_env

# Azurite, fake-gcs-server and http.server fixtures for the other schemes (tests/servers.py).
pytest_plugins = ["servers"]


# -- decoy environment ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def closed_port() -> Iterator[int]:
    """A loopback port that refuses every connection for the whole session: bound (so no server
    can take it) but never listening."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def decoy_values(closed_port: int, tmp: Path) -> dict[str, str]:
    """Every cloud variable autostore, obstore (object_store), polars or boto3 could read, set to a
    wrong value. See :func:`decoy_environment` for what is left out and why."""
    url = f"http://127.0.0.1:{closed_port}"
    aws_config = tmp / "decoy-aws-config"
    aws_credentials = tmp / "decoy-aws-credentials"
    fake_key = base64.b64encode(b"decoy-account-key").decode()
    return {
        # where requests go
        "AWS_ENDPOINT_URL_S3": url,
        "AWS_ENDPOINT_URL": url,
        "AWS_ENDPOINT": url,
        "AWS_ENDPOINT_URL_STS": url,
        "AWS_METADATA_ENDPOINT": url,
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": url,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": url + "/credentials",
        "AWS_PROXY_URL": url,
        "AWS_BUCKET": "decoy-bucket",
        "AWS_BUCKET_NAME": "decoy-bucket",
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "true",
        "AWS_S3_EXPRESS": "true",
        "AWS_USE_FIPS_ENDPOINT": "true",
        "AWS_USE_DUALSTACK_ENDPOINT": "true",
        "AWS_REGION": "ap-southeast-2",
        "AWS_DEFAULT_REGION": "sa-east-1",
        # how requests are signed
        "AWS_ACCESS_KEY_ID": "AKIADECOYDECOYDECOY0",
        "AWS_SECRET_ACCESS_KEY": "decoy-secret-access-key",
        "AWS_SESSION_TOKEN": "decoy-session-token",
        "AWS_TOKEN": "decoy-session-token",
        "AWS_SKIP_SIGNATURE": "true",
        "AWS_UNSIGNED_PAYLOAD": "true",
        "AWS_REQUEST_PAYER": "true",
        "AWS_PROFILE": "autostore-decoy-profile-that-does-not-exist",
        "AWS_DEFAULT_PROFILE": "autostore-decoy-profile-that-does-not-exist",
        "AWS_CONFIG_FILE": str(aws_config),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws_credentials),
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(tmp / "no-token"),
        "AWS_ROLE_ARN": "arn:aws:iam::000000000000:role/decoy",
        # client behaviour
        "AWS_ALLOW_HTTP": "false",
        "AWS_TIMEOUT": "1ms",
        "AWS_CONNECT_TIMEOUT": "1ms",
        "AWS_CA_BUNDLE": str(tmp / "no-ca.pem"),
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "adaptive",
        "AWS_CONDITIONAL_PUT": "dynamo:decoy",
        "AWS_COPY_IF_NOT_EXISTS": "header:x-decoy:1",
        "AWS_DISABLE_TAGGING": "true",
        "AWS_DATA_PATH": str(tmp / "no-data"),
        # Azure
        "AZURE_STORAGE_ACCOUNT_NAME": "decoyaccount",
        "AZURE_STORAGE_ACCOUNT_KEY": fake_key,
        "AZURE_STORAGE_ACCESS_KEY": fake_key,
        "AZURE_STORAGE_SAS_TOKEN": "sv=2020-01-01&sig=decoy",
        "AZURE_STORAGE_TOKEN": "decoy-bearer-token",
        "AZURE_STORAGE_ENDPOINT": url,
        "AZURE_STORAGE_USE_EMULATOR": "true",
        "AZURE_STORAGE_CONNECTION_STRING": f"AccountName=decoyaccount;AccountKey={fake_key};BlobEndpoint={url}/x",
        "AZURITE_BLOB_STORAGE_URL": url,
        "AZURE_CLIENT_ID": "decoy-client",
        "AZURE_CLIENT_SECRET": "decoy-client-secret",
        "AZURE_TENANT_ID": "decoy-tenant",
        "AZURE_AUTHORITY_HOST": url,
        "AZURE_FEDERATED_TOKEN_FILE": str(tmp / "no-token"),
        "AZURE_MSI_ENDPOINT": url,
        "AZURE_USE_AZURE_CLI": "true",
        "AZURE_SKIP_SIGNATURE": "true",
        "AZURE_CREDENTIAL_TYPE": "bearer_token",
        "AZURE_USE_FABRIC_ENDPOINT": "true",
        "AZURE_CONTAINER_NAME": "decoy-container",
        "AZURE_PROXY_URL": url,
        "AZURE_TIMEOUT": "1ms",
        # Google
        "GOOGLE_BASE_URL": url,
        "GOOGLE_SKIP_SIGNATURE": "true",
        "GOOGLE_BUCKET": "decoy-bucket",
        "GOOGLE_APPLICATION_CREDENTIALS": str(tmp / "no-adc.json"),
        "GOOGLE_PROXY_URL": url,
        "STORAGE_EMULATOR_HOST": f"127.0.0.1:{closed_port}",
        # autostore's own settings: values every fixture store passes explicitly (at the defaults)
        "AUTOSTORE_MAX_RETRIES": "4",
        "AUTOSTORE_TIMEOUT": "31",
        "AUTOSTORE_RETRY_DELAY": "0.9",
        "AUTOSTORE_CACHE_EXPIRY_HOURS": "23",
        "AUTOSTORE_CONFIG": "",
    }


# The options every fixture store passes explicitly, equal to the defaults: the AUTOSTORE_*
# decoys above must lose to them (issue 13: explicit means passed, not "differs from the default").
EXPLICIT_DEFAULTS: dict[str, object] = {
    "max_retries": 3,
    "timeout": 30.0,
    "retry_delay": 1.0,
    "cache_expiry_hours": 24.0,
}


@pytest.fixture(scope="session", autouse=True)
def decoy_environment(closed_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Sets every ``AWS_*``, ``AZURE_*``, ``GOOGLE_*`` and ``STORAGE_EMULATOR_HOST`` variable that
    autostore, obstore, polars or boto3 could read to a wrong value, for every test (issue 13,
    "explicit always wins"): endpoints point at a loopback port that refuses connections, keys and
    tokens are bogus, regions are others, signing is switched off, a profile that does not exist
    is selected, and AWS config/credentials files hold a wrong [default]. Tests that pass explicit
    options must still reach the right server with the right credentials.

    Chosen with care:

    - Left out, because autostore *refuses* them with a ConfigError rather than let obstore apply
      them (no explicit value can switch them off): ``AWS_SERVER_SIDE_ENCRYPTION``,
      ``AWS_SSE_*``, ``AWS_CHECKSUM_ALGORITHM``, ``AZURE_STORAGE_ENCRYPTION_KEY``,
      ``GOOGLE_BEARER_TOKEN``, and the GCS service-account variables (``SERVICE_ACCOUNT``,
      ``GOOGLE_SERVICE_ACCOUNT*``) that would clash with explicit GCS credentials;
      tests/test_decoy_env.py proves each refusal.
    - ``AUTOSTORE_*``: only options every fixture store passes explicitly (EXPLICIT_DEFAULTS), at
      values close to the defaults, so an ad-hoc store that passes nothing still behaves; no user
      configuration file (``AUTOSTORE_CONFIG=""``).
    - Tests that exercise reading the environment on purpose (config, options, profiles, secrets,
      the docs examples) set or clear what they need with ``monkeypatch``; subprocesses the tests
      start (the CLI) inherit the decoys, which is intended.
    """
    tmp = tmp_path_factory.mktemp("decoy")
    values = decoy_values(closed_port, tmp)
    url = values["AWS_ENDPOINT_URL"]
    Path(values["AWS_CONFIG_FILE"]).write_text(
        f"[default]\nregion = eu-north-1\nendpoint_url = {url}\nca_bundle = {tmp / 'no-ca.pem'}\n"
        "retry_mode = adaptive\nmax_attempts = 1\ns3 =\n    addressing_style = virtual\n"
    )
    Path(values["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        "[default]\naws_access_key_id = AKIADECOYFROMFILE000\naws_secret_access_key = decoy\n"
    )
    # Set once per test process, not per test: setenv/unsetenv while native threads (obstore's
    # runtime, polars) call getenv can crash the process (glibc's environ is not thread-safe; seen
    # as a segfault in monkeypatch's teardown). Tests that change the environment on purpose use
    # monkeypatch, which restores this state after them.
    with pytest.MonkeyPatch.context() as patch:
        clear_cloud_env(patch)
        for name, value in values.items():
            patch.setenv(name, value)
        # Stores without cache_dir keep their memoize locks in the user cache folder: a temporary
        # one for the whole run (set here once, not around each test, for the reason above).
        patch.setenv("XDG_CACHE_HOME", str(tmp / "user-cache"))
        yield values


@pytest.fixture(scope="session")
def shared_bucket(s3_server: S3Server) -> str:
    name = "shared-" + uuid.uuid4().hex[:10]
    s3_server.create_bucket(name)
    return name


@pytest.fixture
def s3_options(s3_server: S3Server) -> S3Options:
    return S3Options(**s3_server.options_kwargs(), **EXPLICIT_DEFAULTS)  # type: ignore[arg-type]


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[CountingProxy]:
    """A request-counting proxy in front of the session's S3 server (tests/counting_proxy.py)."""
    with CountingProxy(s3_server.endpoint_url) as p:
        yield p


@pytest.fixture
def fault_proxy(s3_server: S3Server) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the session's S3 server (tests/faultproxy.py)."""
    with FaultProxy(s3_server.endpoint_url, stall_seconds=30) as proxy:
        yield proxy


@pytest.fixture
def s3_store(shared_bucket: str, s3_options: S3Options) -> Iterator[AutoStore]:
    with AutoStore(f"s3://{shared_bucket}/{uuid.uuid4().hex[:10]}/", options=s3_options) as store:
        assert {k: getattr(store.options, k) for k in EXPLICIT_DEFAULTS} == EXPLICIT_DEFAULTS
        yield store


@pytest.fixture
def local_store(tmp_path: Path) -> Iterator[AutoStore]:
    with AutoStore(tmp_path / "data", **EXPLICIT_DEFAULTS) as store:
        assert {k: getattr(store.options, k) for k in EXPLICIT_DEFAULTS} == EXPLICIT_DEFAULTS
        yield store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> AutoStore:
    """The same test body on a local folder and on S3."""
    name = "local_store" if request.param == "local" else "s3_store"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


class Raw:
    """Reads and writes the store's location directly (os for local, boto3 for S3), so tests
    assert on what is really on disk or on the server, not on what autostore reports."""

    def __init__(self, store: AutoStore, server: S3Server | None) -> None:
        self.store = store
        self.server = server
        self.prefix = store._prefix
        if server is not None:
            self.client = server.client()
            self.bucket = store.primary_backend.bucket
        else:
            self.root = Path(store.uri)

    def read(self, key: str) -> bytes:
        if self.server is None:
            return (self.root / key).read_bytes()
        return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()  # type: ignore[no-any-return]

    def write(self, key: str, data: bytes) -> None:
        if self.server is None:
            (self.root / key).parent.mkdir(parents=True, exist_ok=True)
            (self.root / key).write_bytes(data)
        else:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def keys(self) -> list[str]:
        if self.server is None:
            if not self.root.exists():
                return []
            return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        out: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            out.extend(obj["Key"][len(self.prefix) :] for obj in page.get("Contents", []))
        return sorted(out)


@pytest.fixture
def raw(store: AutoStore, request: pytest.FixtureRequest) -> Raw:
    server = request.getfixturevalue("s3_server") if store.uri.startswith("s3://") else None
    return Raw(store, server)


@pytest.fixture
def path_root(store: AutoStore) -> AutoPath:
    """An AutoPath at the root of the `store` fixture (a local folder, or an S3 prefix)."""
    return AutoPath(store.uri, store=store)
