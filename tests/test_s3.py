"""S3-specific behaviour against the real SeaweedFS server: credentials, buckets, multipart,
several S3 services in one store, cross-backend URIs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from autostore import AuthError, AutoStore, BucketNotFound, NotFound, S3Options
from autostore.testing import S3Server, s3_server_running
from helpers import boto_client, in_child


@pytest.fixture(scope="module")
def second_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server_running(str(tmp_path_factory.mktemp("second-s3"))) as server:
        yield server


def test_trailing_slash_optional(s3_server: S3Server, shared_bucket: str, s3_options: S3Options) -> None:
    prefix = uuid.uuid4().hex[:8]
    AutoStore(f"s3://{shared_bucket}/{prefix}", options=s3_options)["k"] = {"v": 1}
    assert AutoStore(f"s3://{shared_bucket}/{prefix}/", options=s3_options)["k"] == {"v": 1}
    body = boto_client(s3_server).get_object(Bucket=shared_bucket, Key=f"{prefix}/k.json")["Body"].read()
    assert json.loads(body) == {"v": 1}


@pytest.mark.parametrize("field", ["aws_secret_access_key", "aws_access_key_id"])
def test_wrong_credentials_are_auth_errors(s3_server: S3Server, shared_bucket: str, field: str) -> None:
    good = S3Options(**s3_server.options_kwargs())  # type: ignore[arg-type]
    bad = good.replace(**{field: "WRONG" + uuid.uuid4().hex})
    AutoStore(f"s3://{shared_bucket}/auth/", options=good)["exists"] = {"v": 1}
    store = AutoStore(f"s3://{shared_bucket}/auth/", options=bad)
    with pytest.raises(AuthError) as info:
        store["exists"]
    assert f"s3://{shared_bucket}/auth/exists" in str(info.value)
    assert "credentials" in str(info.value)
    assert s3_server.secret_access_key not in str(info.value)
    assert bad.aws_secret_access_key not in str(info.value)  # type: ignore[operator]
    with pytest.raises(AuthError):
        store["exists.json"] = {"v": 2}
    with pytest.raises(AuthError):
        store.keys()
    assert AutoStore(f"s3://{shared_bucket}/auth/", options=good)["exists"] == {"v": 1}


def test_missing_bucket_is_clear_on_read_and_write(s3_options: S3Options) -> None:
    store = AutoStore("s3://no-such-bucket-" + uuid.uuid4().hex[:8] + "/p/", options=s3_options)
    for action in (lambda: store["x"], lambda: store["x.json"], store.keys, lambda: store.write("x.json", {})):
        with pytest.raises(BucketNotFound) as info:
            action()
        assert "does not exist" in str(info.value) and "no-such-bucket" in str(info.value)
        assert not isinstance(info.value, KeyError)  # `in` must not hide a missing bucket
    with pytest.raises(BucketNotFound):
        "x" in store  # noqa: B015


def test_multipart_above_threshold(s3_server: S3Server, shared_bucket: str, s3_options: S3Options) -> None:
    mib = 1024 * 1024
    opts = s3_options.replace(multipart_threshold=5 * mib, multipart_chunksize=5 * mib, max_concurrency=2)
    store = AutoStore(f"s3://{shared_bucket}/mp/", options=opts)
    payload = "0123456789abcdef" * (20 * mib // 16)
    store["big.txt"] = payload
    store["small.txt"] = "tiny"
    client = boto_client(s3_server)
    big = client.head_object(Bucket=shared_bucket, Key="mp/big.txt")
    assert big["ETag"].strip('"').endswith("-4")  # 20 MiB in 5 MiB parts
    assert big["ContentLength"] == 20 * mib
    assert "-" not in client.head_object(Bucket=shared_bucket, Key="mp/small.txt")["ETag"]
    assert store["big"] == payload
    assert store.get_metadata("big").etag == big["ETag"]


def test_environment_credentials(s3_server: S3Server, shared_bucket: str) -> None:
    in_child(s3_server.env(), _environment_credentials, s3_server, shared_bucket)  # see helpers.in_child


def _environment_credentials(s3_server: S3Server, shared_bucket: str) -> None:
    store = AutoStore(f"s3://{shared_bucket}/env/")
    store["cfg"] = {"from": "env"}
    assert json.loads(boto_client(s3_server).get_object(Bucket=shared_bucket, Key="env/cfg.json")["Body"].read()) == {
        "from": "env"
    }


def test_profile_credentials_and_endpoint(s3_server: S3Server, shared_bucket: str, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        f"[profile testing]\nregion = us-east-1\nendpoint_url = {s3_server.endpoint_url}\n"
        "[profile broken]\nregion = us-east-1\n"
        f"endpoint_url = {s3_server.endpoint_url}\n"
    )
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[testing]\naws_access_key_id = {s3_server.access_key_id}\n"
        f"aws_secret_access_key = {s3_server.secret_access_key}\n"
        "[broken]\naws_access_key_id = nobody\naws_secret_access_key = wrong\n"
    )
    env = {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(creds)}
    in_child(env, _profile_credentials, s3_server, shared_bucket)  # a child: see helpers.in_child


def _profile_credentials(s3_server: S3Server, shared_bucket: str) -> None:
    store = AutoStore(f"s3://{shared_bucket}/profile/", profile_name="testing")
    store["experiment/results"] = {"accuracy": 0.95, "epochs": 100}
    assert store["experiment/results"] == {"accuracy": 0.95, "epochs": 100}
    raw = boto_client(s3_server).get_object(Bucket=shared_bucket, Key="profile/experiment/results.json")["Body"].read()
    assert json.loads(raw)["epochs"] == 100
    with pytest.raises(AuthError):
        AutoStore(f"s3://{shared_bucket}/profile/", profile_name="broken")["experiment/results"]
    with pytest.raises(AuthError) as info:
        AutoStore(f"s3://{shared_bucket}/profile/", profile_name="does-not-exist")["x"]
    assert "does-not-exist" in str(info.value)


def test_several_s3_services_each_use_their_options(
    s3_server: S3Server, second_server: S3Server, shared_bucket: str, tmp_path: Path
) -> None:
    only_second = "only-second-" + uuid.uuid4().hex[:8]
    second_server.create_bucket(only_second)
    AutoStore.register_scheme("minio", "autostore.s3")
    aws_options = S3Options(scheme="s3", **s3_server.options_kwargs())  # type: ignore[arg-type]
    minio_options = S3Options(scheme="minio", **second_server.options_kwargs())  # type: ignore[arg-type]
    store = AutoStore(str(tmp_path / "local-cache"), options=[aws_options, minio_options])
    store[f"s3://{shared_bucket}/data.json"] = {"source": "aws"}
    store[f"minio://{only_second}/data.json"] = {"source": "minio"}
    assert store[f"s3://{shared_bucket}/data.json"] == {"source": "aws"}
    assert store[f"minio://{only_second}/data.json"] == {"source": "minio"}
    # Each object landed on its own server.
    assert json.loads(boto_client(second_server).get_object(Bucket=only_second, Key="data.json")["Body"].read()) == {
        "source": "minio"
    }
    with pytest.raises(Exception):  # noqa: B017 - the bucket does not exist on the first server
        boto_client(s3_server).get_object(Bucket=only_second, Key="data.json")
    active = store.list_active_backends()
    assert active[0].startswith("primary: ")
    assert f"s3: s3://{shared_bucket}/" in active and f"minio: minio://{only_second}/" in active
    assert {"s3", "minio", "file"} <= set(store.get_supported_backends())


def test_cross_backend_reuses_store_options(s3_server: S3Server, shared_bucket: str, tmp_path: Path) -> None:
    store = AutoStore(str(tmp_path / "local"), options=[S3Options(**s3_server.options_kwargs())])  # type: ignore[arg-type]
    store["local_file"] = {"type": "local"}
    store[f"s3://{shared_bucket}/remote.json"] = {"type": "s3"}
    assert store["local_file"] == {"type": "local"}
    assert store[f"s3://{shared_bucket}/remote.json"] == {"type": "s3"}
    assert (tmp_path / "local" / "local_file.json").exists()
    # copies between the primary backend and a URI, both directions
    store.copy("local_file", f"s3://{shared_bucket}/copied/local_file")
    store.copy(f"s3://{shared_bucket}/remote.json", "from_s3")
    assert json.loads(
        boto_client(s3_server).get_object(Bucket=shared_bucket, Key="copied/local_file.json")["Body"].read()
    ) == {"type": "local"}
    assert json.loads((tmp_path / "local" / "from_s3.json").read_text()) == {"type": "s3"}
    store.move(f"s3://{shared_bucket}/copied/local_file", f"s3://{shared_bucket}/moved/lf")
    assert store[f"s3://{shared_bucket}/moved/lf"] == {"type": "local"}
    with pytest.raises(NotFound):
        store[f"s3://{shared_bucket}/copied/local_file"]


def test_kwargs_and_options_mixed(s3_server: S3Server, shared_bucket: str) -> None:
    base = S3Options(scheme="s3", **s3_server.options_kwargs())  # type: ignore[arg-type]
    store = AutoStore(f"s3://{shared_bucket}/mixed/", options=base, cache_enabled=True, cache_expiry_hours=6)
    assert store.options.cache_enabled is True and store.options.cache_expiry_hours == 6
    assert isinstance(store.options, S3Options) and store.options.endpoint_url == s3_server.endpoint_url
    store["x"] = {"ok": True}
    assert store["x"] == {"ok": True}


def test_stores_with_same_settings_share_one_client(shared_bucket: str, s3_options: S3Options) -> None:
    a = AutoStore(f"s3://{shared_bucket}/share-a/", options=s3_options)
    b = AutoStore(f"s3://{shared_bucket}/share-b/", options=s3_options)
    other = AutoStore(f"s3://{shared_bucket}/share-c/", options=s3_options.replace(timeout=7))
    a["x"] = {"v": 1}
    b["x"] = {"v": 2}
    other["x"] = {"v": 3}
    backend = a._backend("s3", shared_bucket)
    assert backend.store is b._backend("s3", shared_bucket).store  # type: ignore[attr-defined]
    assert backend.store is not other._backend("s3", shared_bucket).store  # type: ignore[attr-defined]
    assert (a["x"], b["x"], other["x"]) == ({"v": 1}, {"v": 2}, {"v": 3})
