"""Object versions against real servers: SeaweedFS with a versioned and an unversioned bucket,
local disk, memory:// and Azurite. Every call of autostore.versions, delete markers, as_of from
the server's own timestamps, the download cache serving version reads with zero requests,
restore, the CLI in a subprocess, and bad input with typed errors and nothing written."""

from __future__ import annotations

import json
import multiprocessing
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from autostore import (
    AmbiguousKey,
    AutoPath,
    AutoStore,
    AzureOptions,
    ConfigError,
    InvalidKey,
    NotFound,
    S3Options,
    UnsupportedOperation,
)
from autostore import s3versions as versions_module
from autostore.testing import S3Server
from counting_proxy import CountingProxy
from helpers import base_env, boto_client
from servers import Azurite
from workers import drain

ROOT = Path(__file__).resolve().parent.parent


# -- fixtures -------------------------------------------------------------------------------------
def _client(server: S3Server) -> Any:
    return boto_client(server)  # reads no AWS_* variable (the decoys)


@pytest.fixture(scope="module")
def boto(s3_server: S3Server) -> Iterator[Any]:
    client = _client(s3_server)
    yield client
    client.close()


@pytest.fixture(scope="module")
def versioned_bucket(s3_server: S3Server, boto: Any) -> str:
    name = "versioned-" + uuid.uuid4().hex[:10]
    boto.create_bucket(Bucket=name)
    boto.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    assert boto.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    return name


@pytest.fixture(scope="module")
def plain_bucket(s3_server: S3Server, boto: Any) -> str:
    name = "unversioned-" + uuid.uuid4().hex[:10]
    boto.create_bucket(Bucket=name)
    assert "Status" not in boto.get_bucket_versioning(Bucket=name)
    return name


@pytest.fixture
def prefix() -> str:
    return uuid.uuid4().hex[:10] + "/"


@pytest.fixture
def vstore(versioned_bucket: str, prefix: str, s3_options: S3Options) -> Iterator[AutoStore]:
    with AutoStore(f"s3://{versioned_bucket}/{prefix}", options=s3_options) as store:
        yield store


@pytest.fixture
def pstore(plain_bucket: str, prefix: str, s3_options: S3Options) -> Iterator[AutoStore]:
    with AutoStore(f"s3://{plain_bucket}/{prefix}", options=s3_options) as store:
        yield store


def _server_versions(boto: Any, bucket: str, key: str) -> list[tuple[str, bool]]:
    """(version id, is delete marker) of ``key`` straight from the server, newest first."""
    r = boto.list_object_versions(Bucket=bucket, Prefix=key)
    items = [(v, False) for v in r.get("Versions", []) if v["Key"] == key]
    items += [(m, True) for m in r.get("DeleteMarkers", []) if m["Key"] == key]
    items.sort(key=lambda item: item[0]["LastModified"], reverse=True)
    return [(item["VersionId"], marker) for item, marker in items]


def _next_server_second(when: datetime) -> None:
    """Wait until the clock is past the second ``when`` falls in (SeaweedFS keeps 1 s timestamps),
    so the next write gets a later server timestamp. At most ~1 s, bounded."""
    target = when.replace(microsecond=0) + timedelta(seconds=1, milliseconds=50)
    for _ in range(100):
        if datetime.now(UTC) >= target:
            return
        time.sleep(0.03)
    raise AssertionError(f"clock did not pass {target}")


def _three_versions(store: AutoStore) -> list[str]:
    ids = []
    for i in range(3):
        store["cfg"] = {"v": i}
        ids.append(store.versions("cfg")[0].version_id)
    return ids


# -- listing --------------------------------------------------------------------------------------
def test_versions_lists_every_version_newest_first_with_all_fields(
    vstore: AutoStore, boto: Any, versioned_bucket: str, prefix: str
) -> None:
    ids = _three_versions(vstore)
    found = vstore.versions("cfg")
    assert [v.version_id for v in found] == ids[::-1]
    on_server = _server_versions(boto, versioned_bucket, prefix + "cfg.json")
    assert [v.version_id for v in found] == [vid for vid, _ in on_server]
    assert [v.is_latest for v in found] == [True, False, False]
    assert not any(v.is_delete_marker for v in found)
    assert {v.key for v in found} == {"cfg.json"}  # relative to the store, with its extension
    for v, i in zip(found, (2, 1, 0), strict=True):
        head = boto.head_object(Bucket=versioned_bucket, Key=prefix + "cfg.json", VersionId=v.version_id)
        assert v.size == head["ContentLength"] == len(json.dumps({"v": i}))
        assert v.etag == head["ETag"]
        assert v.modified_time is not None and v.modified_time.tzinfo is not None
    times = [v.modified_time for v in found]
    assert times == sorted(times, reverse=True)  # type: ignore[type-var]
    assert found[0].as_dict()["modified_time"] == found[0].modified_time.isoformat()  # type: ignore[union-attr]


def test_versions_resolve_extensionless_keys_as_reads_do(vstore: AutoStore) -> None:
    vstore["a/k"] = {"v": 1}
    vstore["a/k.json.bak.txt"] = "a sibling whose name starts with the key"
    vstore["a/kite"] = {"other": True}
    assert [v.key for v in vstore.versions("a/k")] == ["a/k.json"]
    assert [v.key for v in vstore.versions("a/k.json")] == ["a/k.json"]
    assert len(vstore.versions("a/kite")) == 1
    vstore["b/x.json"] = {"v": 1}
    vstore["b/x.txt"] = "text"
    with pytest.raises(AmbiguousKey, match=r"x\.txt"):
        vstore.versions("b/x")
    with pytest.raises(NotFound, match="never"):
        vstore.versions("nothing-here")


def test_delete_markers_are_listed_and_deleted_keys_stay_readable(vstore: AutoStore) -> None:
    ids = _three_versions(vstore)
    del vstore["cfg"]
    assert "cfg" not in vstore
    found = vstore.versions("cfg")  # the extensionless key still resolves, from its versions
    assert [v.is_delete_marker for v in found] == [True, False, False, False]
    marker = found[0]
    assert marker.is_latest and marker.size is None and marker.etag is None and marker.version_id
    assert [v.version_id for v in found[1:]] == ids[::-1]
    assert vstore.read("cfg", version=ids[0]) == {"v": 0}
    with pytest.raises(NotFound, match="unknown id, a delete marker"):
        vstore.read("cfg", version=marker.version_id)


def test_same_second_write_delete_write_keeps_the_servers_order(vstore: AutoStore) -> None:
    # Timestamps (1 s) cannot order these; the server's listing order can.
    vstore["fast.json"] = {"v": 1}
    del vstore["fast.json"]
    vstore["fast.json"] = {"v": 2}
    found = vstore.versions("fast.json")
    assert [v.is_delete_marker for v in found] == [False, True, False]
    assert vstore.read("fast.json", version=found[0].version_id) == {"v": 2}
    assert vstore.read("fast.json", version=found[2].version_id) == {"v": 1}


def test_listing_pages_through_many_versions(vstore: AutoStore, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        vstore["paged.json"] = {"v": i}
    del vstore["paged.json"]
    vstore["paged.json"] = {"v": 5}
    whole = vstore.versions("paged.json")
    monkeypatch.setattr(versions_module, "_PAGE", 2)  # the server pages after 2 entries
    paged = vstore.versions("paged.json")
    assert paged == whole and len(paged) == 7
    assert [v.is_delete_marker for v in paged] == [False, True, False, False, False, False, False]


# -- reading --------------------------------------------------------------------------------------
def test_read_by_version_id_returns_that_version(vstore: AutoStore) -> None:
    ids = _three_versions(vstore)
    assert [vstore.read("cfg", version=vid) for vid in ids] == [{"v": 0}, {"v": 1}, {"v": 2}]
    assert vstore["cfg"] == {"v": 2}
    path = AutoPath("cfg.json", store=vstore)
    assert path.load(version=ids[0]) == {"v": 0}
    assert path.read_bytes(version=ids[1]) == json.dumps({"v": 1}).encode()
    assert path.read_bytes() == json.dumps({"v": 2}).encode()
    assert [v.version_id for v in path.versions()] == ids[::-1]
    assert vstore.read("cfg", "json", version=ids[0]) == {"v": 0}  # format= as in plain reads


def test_as_of_between_two_writes_reads_the_version_current_then(vstore: AutoStore) -> None:
    vstore["cfg"] = {"v": 1}
    first = vstore.versions("cfg")[0]
    assert first.modified_time is not None
    _next_server_second(first.modified_time)
    vstore["cfg"] = {"v": 2}
    second = vstore.versions("cfg")[0]
    assert second.modified_time is not None and second.modified_time > first.modified_time
    between = first.modified_time + (second.modified_time - first.modified_time) / 2
    assert vstore.read("cfg", as_of=between) == {"v": 1}
    assert vstore.read("cfg", as_of=first.modified_time) == {"v": 1}
    assert vstore.read("cfg", as_of=second.modified_time) == {"v": 2}
    assert vstore.read("cfg", as_of=between.isoformat()) == {"v": 1}  # ISO text works too
    assert AutoPath("cfg.json", store=vstore).load(as_of=between) == {"v": 1}
    assert AutoPath("cfg.json", store=vstore).read_bytes(as_of=between) == b'{"v": 1}'
    before = first.modified_time - timedelta(seconds=5)
    with pytest.raises(NotFound, match="did not exist at " + before.isoformat().replace("+", r"\+")):
        vstore.read("cfg", as_of=before)

    _next_server_second(second.modified_time)
    del vstore["cfg"]
    deleted = vstore.versions("cfg")[0]
    assert deleted.is_delete_marker and deleted.modified_time is not None
    with pytest.raises(NotFound, match="had been deleted"):
        vstore.read("cfg", as_of=deleted.modified_time)
    assert vstore.read("cfg", as_of=deleted.modified_time - timedelta(microseconds=1)) == {"v": 2}


def test_as_of_naive_times_are_local_time(vstore: AutoStore) -> None:
    vstore["cfg"] = {"v": 1}
    stamp = vstore.versions("cfg")[0].modified_time
    assert stamp is not None
    naive_local = stamp.astimezone().replace(tzinfo=None)  # the same moment, as local wall-clock time
    assert vstore.read("cfg", as_of=naive_local) == {"v": 1}
    with pytest.raises(NotFound):
        vstore.read("cfg", as_of=naive_local - timedelta(seconds=2))


def test_versions_of_files_read_through_a_local_file(
    s3_server: S3Server, proxy: CountingProxy, vstore: AutoStore, tmp_path: Path
) -> None:
    """Parquet is decoded from a file: the version is streamed to a temporary file, or to the cache."""
    import polars as pl
    from polars.testing import assert_frame_equal

    frames = [pl.DataFrame({"i": list(range(n)), "s": [str(n)] * n}) for n in (3, 5)]
    ids = []
    for frame in frames:
        vstore["table.parquet"] = frame
        ids.append(vstore.versions("table")[0].version_id)
    for frame, vid in zip(frames, ids, strict=True):
        assert_frame_equal(vstore.read("table", version=vid), frame)
    cached = _cached_store(s3_server, proxy, vstore.uri, tmp_path / "cache")
    assert_frame_equal(cached.read("table.parquet", version=ids[0]), frames[0])
    proxy.reset()
    assert_frame_equal(cached.read("table.parquet", version=ids[0]), frames[0])
    assert proxy.exchanges == []
    cached.close()


# -- the download cache ---------------------------------------------------------------------------
def _cached_store(server: S3Server, proxy: CountingProxy, root: str, cache_dir: Path, **extra: Any) -> AutoStore:
    opts = S3Options(**server.options_kwargs()).replace(  # type: ignore[arg-type]
        endpoint_url=proxy.url, cache_enabled=True, cache_dir=str(cache_dir), **extra
    )
    return AutoStore(root, options=opts)


@pytest.mark.parametrize("extra", [{}, {"cache_validation": "always"}, {"cache_expiry_hours": 1e-6}])
def test_cached_version_reads_make_zero_requests(
    s3_server: S3Server, proxy: CountingProxy, vstore: AutoStore, tmp_path: Path, extra: dict[str, Any]
) -> None:
    ids = _three_versions(vstore)
    store = _cached_store(s3_server, proxy, vstore.uri, tmp_path / "cache", **extra)
    proxy.reset()
    assert store.read("cfg.json", version=ids[0]) == {"v": 0}
    assert [(e.method, e.status) for e in proxy.exchanges] == [("GET", 200)]
    assert f"versionId={ids[0]}" in proxy.exchanges[0].query
    time.sleep(0.01)  # past cache_expiry_hours=1e-6 (3.6 ms): an expired current entry would be revalidated
    proxy.reset()
    for _ in range(3):
        assert store.read("cfg.json", version=ids[0]) == {"v": 0}
    assert proxy.exchanges == []  # a version never changes: never asked about again
    # The version's entry is its own: reading the current object neither uses nor replaces it.
    assert store["cfg.json"] == {"v": 2}
    proxy.reset()
    assert store.read("cfg.json", version=ids[0]) == {"v": 0}
    assert AutoPath("cfg.json", store=store).read_bytes(version=ids[0]) == b'{"v": 0}'
    assert proxy.exchanges == []
    assert store.read("cfg.json", version=ids[0], ignore_cache=True) == {"v": 0}  # asked for: fetched anew
    assert [e.method for e in proxy.exchanges] == ["GET"]
    store.close()


def test_cached_version_entries_survive_a_new_current_version(
    s3_server: S3Server, proxy: CountingProxy, vstore: AutoStore, tmp_path: Path
) -> None:
    ids = _three_versions(vstore)
    store = _cached_store(s3_server, proxy, vstore.uri, tmp_path / "cache")
    assert store.read("cfg.json", version=ids[1]) == {"v": 1}
    vstore["cfg"] = {"v": 3}  # another writer: the current object changes, the version does not
    proxy.reset()
    assert store.read("cfg.json", version=ids[1]) == {"v": 1}
    assert proxy.exchanges == []
    assert store.cache_info().entries == 1
    store.close()


# -- restore ----------------------------------------------------------------------------------------
def test_restore_makes_an_old_version_current_and_keeps_the_ones_between(
    vstore: AutoStore, boto: Any, versioned_bucket: str, prefix: str
) -> None:
    ids = _three_versions(vstore)
    new_id = vstore.restore("cfg", ids[0])
    assert vstore["cfg"] == {"v": 0}
    body = boto.get_object(Bucket=versioned_bucket, Key=prefix + "cfg.json")
    assert json.loads(body["Body"].read()) == {"v": 0} and body["VersionId"] == new_id
    found = vstore.versions("cfg")
    assert [v.version_id for v in found] == [new_id, *ids[::-1]]  # nothing in between was lost
    assert [vstore.read("cfg", version=vid) for vid in ids] == [{"v": 0}, {"v": 1}, {"v": 2}]


def test_restore_brings_back_a_deleted_key_and_refreshes_the_cache(
    s3_server: S3Server, proxy: CountingProxy, vstore: AutoStore, tmp_path: Path
) -> None:
    ids = _three_versions(vstore)
    store = _cached_store(s3_server, proxy, vstore.uri, tmp_path / "cache", cache_expiry_hours=0)
    assert store["cfg"] == {"v": 2}  # cached, never revalidated (expiry 0)
    del store["cfg"]
    assert "cfg" not in store
    store.restore("cfg", ids[1])
    assert store["cfg"] == {"v": 1}  # the cache entry was dropped by the restore
    assert AutoPath("cfg.json", store=store).read_text() == '{"v": 1}'
    store.close()


# -- unversioned buckets --------------------------------------------------------------------------
def test_unversioned_bucket_lists_the_current_object_only(pstore: AutoStore) -> None:
    pstore["cfg"] = {"v": 1}
    pstore["cfg"] = {"v": 2}
    (only,) = pstore.versions("cfg")
    assert only.version_id is None and only.is_latest and not only.is_delete_marker
    assert only.size == len(b'{"v": 2}') and only.etag == pstore.get_metadata("cfg").etag
    assert only.modified_time is not None
    assert pstore.read("cfg", as_of=only.modified_time) == {"v": 2}
    assert pstore.read("cfg", as_of=datetime.now(UTC)) == {"v": 2}
    with pytest.raises(UnsupportedOperation, match=r"versioning of bucket .* is off") as info:
        pstore.read("cfg", as_of=only.modified_time - timedelta(seconds=5))
    assert "cfg.json" in str(info.value) and "put_bucket_versioning" in str(info.value)
    # SeaweedFS answers a version id on an unversioned bucket with the current object: refused.
    with pytest.raises(UnsupportedOperation, match="versioning is off"):
        pstore.read("cfg", version="no-such-version")


# -- backends without versions --------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["local", "memory"])
def test_local_disk_and_memory_refuse_version_calls_naming_the_backends_that_keep_them(
    kind: str, tmp_path: Path
) -> None:
    root = str(tmp_path / "data") if kind == "local" else f"memory://v{uuid.uuid4().hex[:8]}/"
    store = AutoStore(root)
    store["cfg"] = {"v": 1}
    before = sorted(store.list_files())
    calls = [
        lambda: store.versions("cfg"),
        lambda: store.read("cfg", version="abc"),
        lambda: store.read("cfg", as_of=datetime.now(UTC) - timedelta(minutes=1)),
        lambda: store.restore("cfg", "abc"),
        lambda: store.read("missing", version="abc"),
    ]
    for call in calls:
        with pytest.raises(UnsupportedOperation, match="keeps no versions") as info:
            call()
        assert "S3" in str(info.value) and "Delta" in str(info.value)
    assert sorted(store.list_files()) == before
    assert store["cfg"] == {"v": 1}
    if kind == "local":
        path = AutoPath(tmp_path / "data" / "cfg.json")
        with pytest.raises(UnsupportedOperation, match="local disk"):
            path.versions()
        with pytest.raises(UnsupportedOperation):
            path.read_bytes(version="abc")
        assert path.read_bytes() == b'{"v": 1}'


def test_azure_version_ids_are_read_through_obstore_and_checked(azurite: Azurite) -> None:
    container = "ver" + uuid.uuid4().hex[:8]
    azurite.create_container(container)
    store = AutoStore(f"az://{container}/", options=AzureOptions(**azurite.options_kwargs()))  # type: ignore[arg-type]
    store["cfg"] = {"v": 1}
    # Azurite keeps no blob versions and answers with the current blob: that is refused, not returned.
    with pytest.raises(UnsupportedOperation, match="versioning is off or not supported"):
        store.read("cfg", version="2026-01-01T00:00:00.0000000Z")
    with pytest.raises(UnsupportedOperation, match="S3-compatible services only"):
        store.versions("cfg")
    with pytest.raises(UnsupportedOperation, match="S3-compatible services only"):
        store.read("cfg", as_of=datetime.now(UTC))
    with pytest.raises(UnsupportedOperation, match="S3-compatible services only"):
        store.restore("cfg", "2026-01-01T00:00:00.0000000Z")
    assert store["cfg"] == {"v": 1}


# -- bad input ----------------------------------------------------------------------------------------
def test_bad_version_input_raises_typed_errors_and_writes_nothing(
    vstore: AutoStore, boto: Any, versioned_bucket: str, prefix: str
) -> None:
    ids = _three_versions(vstore)
    server_before = _server_versions(boto, versioned_bucket, prefix + "cfg.json")
    with pytest.raises(NotFound, match=r"No version 'no-such-id' of s3://.*cfg\.json"):
        vstore.read("cfg", version="no-such-id")
    with pytest.raises(NotFound, match="no-such-id"):
        vstore.restore("cfg", "no-such-id")
    future = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(ConfigError, match="in the future"):
        vstore.read("cfg", as_of=future)
    with pytest.raises(ConfigError, match="not a date"):
        vstore.read("cfg", as_of="yesterday")
    with pytest.raises(ConfigError, match="not both"):
        vstore.read("cfg", version=ids[0], as_of=datetime.now(UTC))
    with pytest.raises(ConfigError, match="ids"):
        vstore.read("cfg", version=3)
    with pytest.raises(ConfigError, match="datetime or ISO"):
        vstore.read("cfg", as_of=12345)  # type: ignore[arg-type]
    with pytest.raises(InvalidKey, match="folder"):
        vstore.versions("some/folder/")
    with pytest.raises(UnsupportedOperation, match="plain dataset keeps no versions"):
        vstore.read("some/folder/", version=1)
    with pytest.raises(UnsupportedOperation, match="old version and cannot be changed"):
        versions_module.VersionView(vstore._primary, ids[0]).put_bytes(prefix + "cfg.json", b"x")  # type: ignore[arg-type]
    assert _server_versions(boto, versioned_bucket, prefix + "cfg.json") == server_before
    assert vstore["cfg"] == {"v": 2}


# -- fork -------------------------------------------------------------------------------------------
def _forked_version_reader(store: AutoStore, key: str, version: str, results: Any) -> None:
    signal.alarm(60)
    try:
        results.put(
            {
                "value": store.read(key, version=version),
                "ids": [v.version_id for v in store.versions(key)],
                "obstore_unsafe": versions_module.forksafe.obstore_unsafe(),
            }
        )
    except BaseException as exc:
        results.put({"error": repr(exc)})
        raise


def test_version_reads_in_a_forked_child_go_through_boto3(vstore: AutoStore) -> None:
    ids = _three_versions(vstore)
    assert vstore.read("cfg", version=ids[0]) == {"v": 0}  # obstore has run in this process
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    proc = ctx.Process(target=_forked_version_reader, args=(vstore, "cfg", ids[1], results))
    proc.start()
    (got,) = drain(results, 1, timeout=90)
    proc.join(30)
    if proc.is_alive():
        proc.kill()
    assert got == {"value": {"v": 1}, "ids": ids[::-1], "obstore_unsafe": True}
    assert proc.exitcode == 0
    assert vstore.read("cfg", version=ids[2]) == {"v": 2}  # the parent is fine


# -- command line -------------------------------------------------------------------------------------
def _cli(server: S3Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = base_env(**server.env())
    return subprocess.run(
        [sys.executable, "-m", "autostore", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_versions_cat_and_restore(s3_server: S3Server, vstore: AutoStore, tmp_path: Path) -> None:
    ids = _three_versions(vstore)
    uri = vstore.uri + "cfg"
    listed = _cli(s3_server, "--json", "versions", uri)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["version_id"] for r in rows] == ids[::-1]
    assert rows[0]["is_latest"] and rows[0]["key"].endswith("cfg.json") and rows[0]["size"] == 8

    table = _cli(s3_server, "versions", uri)
    assert table.returncode == 0, table.stderr
    assert "current" in table.stdout and ids[0][:12] in table.stdout.replace("\n", "").replace(" ", "")

    shown = _cli(s3_server, "--json", "cat", uri, "--version", ids[0])
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {"v": 0}
    raw = _cli(s3_server, "cat", uri, "--version", ids[1], "--raw")
    assert raw.stdout == '{"v": 1}'

    stamp = vstore.versions("cfg")[0].modified_time
    assert stamp is not None
    as_of = _cli(s3_server, "--json", "cat", uri, "--as-of", stamp.isoformat())
    assert as_of.returncode == 0, as_of.stderr
    assert json.loads(as_of.stdout) == {"v": 2}

    restored = _cli(s3_server, "--json", "restore", uri, "--version", ids[0])
    assert restored.returncode == 0, restored.stderr
    report = json.loads(restored.stdout)
    assert report["restored"] == ids[0] and report["new_version"] == vstore.versions("cfg")[0].version_id
    assert vstore["cfg"] == {"v": 0}

    missing = _cli(s3_server, "cat", uri, "--version", "no-such-id")
    assert missing.returncode == 3 and "no-such-id" in missing.stderr
    old = _cli(s3_server, "cat", uri, "--as-of", "2001-01-01T00:00")
    assert old.returncode == 3 and "did not exist at 2001-01-01" in old.stderr
    future = _cli(s3_server, "cat", uri, "--as-of", "2999-01-01T00:00")
    assert future.returncode == 10 and "in the future" in future.stderr
    (tmp_path / "local.json").write_text("{}")
    local = _cli(s3_server, "versions", str(tmp_path / "local.json"))
    assert local.returncode == 13 and "keeps no versions" in local.stderr
    for command in ("versions", "restore"):
        helped = _cli(s3_server, command, "--help")
        assert helped.returncode == 0 and "version" in helped.stdout.lower()
