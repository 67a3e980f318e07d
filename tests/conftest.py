"""Shared fixtures: every store test runs on a local folder and on a real S3 server
(SeaweedFS, started once per session by the autostore.testing plugin)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from autostore import AutoPath, AutoStore, S3Options
from autostore.testing import S3Server
from faultproxy import FaultProxy

# Azurite, fake-gcs-server and http.server fixtures for the other schemes (tests/servers.py).
pytest_plugins = ["servers"]


@pytest.fixture(scope="session")
def shared_bucket(s3_server: S3Server) -> str:
    name = "shared-" + uuid.uuid4().hex[:10]
    s3_server.create_bucket(name)
    return name


@pytest.fixture
def s3_options(s3_server: S3Server) -> S3Options:
    return S3Options(**s3_server.options_kwargs())  # type: ignore[arg-type]


@pytest.fixture
def fault_proxy(s3_server: S3Server) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the session's S3 server (tests/faultproxy.py)."""
    with FaultProxy(s3_server.endpoint_url, stall_seconds=30) as proxy:
        yield proxy


@pytest.fixture
def s3_store(shared_bucket: str, s3_options: S3Options) -> Iterator[AutoStore]:
    with AutoStore(f"s3://{shared_bucket}/{uuid.uuid4().hex[:10]}/", options=s3_options) as store:
        yield store


@pytest.fixture
def local_store(tmp_path: Path) -> Iterator[AutoStore]:
    with AutoStore(tmp_path / "data") as store:
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
            import boto3
            from botocore.config import Config

            self.client = boto3.client(
                "s3",
                endpoint_url=server.endpoint_url,
                aws_access_key_id=server.access_key_id,
                aws_secret_access_key=server.secret_access_key,
                region_name=server.region,
                config=Config(s3={"addressing_style": "path"}),
            )
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
