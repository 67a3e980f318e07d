"""Issue 13, point 8: one cache lock per entry, bounded waits, and no entry ever dropped or
replaced without its lock in a way that could leave it stale.

Until 0.2 the cache had 4096 lock files shared by unrelated keys (``locks/<first 3 hex>.lock``):
a read waited for another key's download, and a writer that gave up waiting dropped the entry
without the lock while a fill of old content was about to commit. The keys used here collide on
that old stripe (found by brute force), so each test fails on the old layout.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import autostore.cache as cache_module
from autostore import AutoStore, BackendError, NotFound, S3Options
from autostore.backends.base import ObjectMeta
from autostore.backends.prefixed import PrefixedBackend
from autostore.cache import DownloadCache, entry_name
from autostore.testing import S3Server
from faultproxy import FaultProxy, Request
from helpers import boto_client


def _colliding_key(identity: str, key: str, other_identity: str, other_prefix: str) -> str:
    """A key below ``other_prefix`` whose entry shares the old lock stripe with ``key``'s."""
    stripe = entry_name(identity, key)[:3]
    for i in range(200_000):  # 4096 stripes: about 4096 tries on average
        candidate = f"{other_prefix}k{i}.json"
        if entry_name(other_identity, candidate)[:3] == stripe:
            return candidate
    raise AssertionError("no colliding key found")  # pragma: no cover


@pytest.fixture
def boto(s3_server: S3Server) -> Iterator[Any]:
    client = boto_client(s3_server)  # reads no AWS_* variable (the decoys)
    yield client
    client.close()


def test_a_read_never_waits_for_another_keys_download(
    s3_server: S3Server, shared_bucket: str, tmp_path: Path, boto: Any
) -> None:
    with FaultProxy(s3_server.endpoint_url, stall_seconds=300) as fault_proxy:
        _read_beside_a_stalled_download(s3_server, shared_bucket, fault_proxy, tmp_path, boto)


def _read_beside_a_stalled_download(
    s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy, tmp_path: Path, boto: Any
) -> None:
    cache_dir = tmp_path / "cache"
    prefix = f"locks-{uuid.uuid4().hex[:8]}/"
    slow_kwargs: dict[str, Any] = dict(s3_server.options_kwargs(), endpoint_url=fault_proxy.endpoint_url)
    slow = AutoStore(
        f"s3://{shared_bucket}/{prefix}",
        options=S3Options(**slow_kwargs, cache_enabled=True, cache_dir=str(cache_dir), max_retries=0, timeout=120),
    )
    fast = AutoStore(
        f"s3://{shared_bucket}/",
        options=S3Options(**s3_server.options_kwargs(), cache_enabled=True, cache_dir=str(cache_dir)),
    )
    key1 = prefix + "stalled.json"
    key2 = _colliding_key(
        slow._primary.settled_identity(), key1, fast._primary.settled_identity(), prefix
    )
    assert entry_name(slow._primary.settled_identity(), key1) != entry_name(fast._primary.settled_identity(), key2)
    boto.put_object(Bucket=shared_bucket, Key=key1, Body=b'{"v": 1}')
    boto.put_object(Bucket=shared_bucket, Key=key2, Body=b'{"v": 2}')

    def stall_key1(req: Request) -> str | None:
        return "stall" if req.method == "GET" and req.path.split("?")[0].endswith("/stalled.json") else None

    fault_proxy.plan = stall_key1
    outcome: list[Any] = []

    def read_key1() -> None:
        try:
            outcome.append(slow["stalled.json"])
        except BaseException as exc:
            outcome.append(exc)

    reader1 = threading.Thread(target=read_key1, daemon=True)
    reader1.start()
    pause = threading.Event()  # never set: a bounded sleep
    for _ in range(600):  # the stalled GET reaches the proxy: key1's fill holds its lock now
        if any(entry[3] == "stall" for entry in fault_proxy.log):
            break
        pause.wait(0.05)
    assert any(entry[3] == "stall" for entry in fault_proxy.log)

    got: list[Any] = []
    reader2 = threading.Thread(target=lambda: got.append(fast[key2]), daemon=True)
    reader2.start()
    reader2.join(60)  # the old stripe lock made this wait up to 600 s
    assert not reader2.is_alive(), "the read of key2 waited for key1's download"
    assert got == [{"v": 2}]
    assert reader1.is_alive() and outcome == [], outcome  # key1's download was still in progress
    fault_proxy.stop()  # ends the stalled connection: key1's read fails (max_retries=0)
    reader1.join(60)
    assert not reader1.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], BackendError)
    slow.close()
    fast.close()


class _PausingBackend(PrefixedBackend):
    """The real S3 backend, but a download (a cache fill) pauses after the bytes arrived, as a
    slow fill of a big object would, until the test lets it commit."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner, "")
        self.downloaded = threading.Event()
        self.release = threading.Event()

    def download(self, key: str, dest: Path, **kwargs: Any) -> ObjectMeta | None:
        meta = self.inner.download(key, dest, **kwargs)
        self.downloaded.set()
        assert self.release.wait(60)
        return meta


def test_a_write_during_a_fill_of_old_content_never_leaves_a_stale_entry(
    s3_server: S3Server, shared_bucket: str, tmp_path: Path, boto: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A writer waits this long for the entry's lock before it gives up (short for the test).
    monkeypatch.setattr(cache_module, "_DROP_TIMEOUT", 0.2)
    store = AutoStore(f"s3://{shared_bucket}/", options=S3Options(**s3_server.options_kwargs()))
    backend = _PausingBackend(store._primary)
    cache = DownloadCache(tmp_path / "cache", expiry_hours=24, validation="expiry", max_bytes=None)
    cache.prepare()
    key = f"stale-{uuid.uuid4().hex[:8]}/k.json"
    boto.put_object(Bucket=shared_bucket, Key=key, Body=b"old")

    filled: list[Any] = []
    filler = threading.Thread(target=lambda: filled.append(cache.read_bytes(backend, key)), daemon=True)
    filler.start()
    assert backend.downloaded.wait(60)  # the fill holds the entry's lock with the old bytes
    put = boto.put_object(Bucket=shared_bucket, Key=key, Body=b"new")
    cache.stored(backend, key, b"new", put["ETag"])  # gives up on the lock after 0.2 s
    backend.release.set()  # the fill now commits what it downloaded before the write
    filler.join(60)
    assert not filler.is_alive()
    assert filled == [b"old"]  # that read began before the write: old is a correct answer
    assert cache.read_bytes(backend, key) == b"new"  # never the stale entry
    store.close()


def test_one_lock_file_per_entry_removed_with_the_entry(
    s3_server: S3Server, shared_bucket: str, tmp_path: Path, boto: Any
) -> None:
    cache_dir = tmp_path / "cache"
    prefix = f"lockfiles-{uuid.uuid4().hex[:8]}/"
    store = AutoStore(
        f"s3://{shared_bucket}/{prefix}",
        options=S3Options(**s3_server.options_kwargs(), cache_enabled=True, cache_dir=str(cache_dir)),
    )
    for i in range(5):
        store[f"k{i}.json"] = {"i": i}
        assert store[f"k{i}.json"] == {"i": i}
    ident = store._primary.settled_identity()
    names = {entry_name(ident, f"{prefix}k{i}.json") for i in range(5)}
    locks = {p.name.removesuffix(".lock") for p in (cache_dir / "locks").glob("*/*.lock")}
    assert locks == names  # one lock file per entry, named after it
    del store["k0.json"]
    locks = {p.name.removesuffix(".lock") for p in (cache_dir / "locks").glob("*/*.lock")}
    assert locks == names - {entry_name(ident, f"{prefix}k0.json")}
    with pytest.raises(NotFound):
        store["missing.json"]  # a fill that found nothing leaves no lock file either
    assert len(list((cache_dir / "locks").glob("*/*.lock"))) == 4
    # Leftovers: a stripe lock of the old layout, and the lock and generation files of an entry
    # that no longer exists; cleanup_cache() removes them.
    (cache_dir / "locks" / "abc.lock").touch()
    (cache_dir / "locks" / "ff").mkdir(exist_ok=True)
    (cache_dir / "locks" / "ff" / ("f" * 64 + ".lock")).touch()
    (cache_dir / "locks" / "ff" / ("f" * 64 + ".gen")).write_text("x")
    assert store.cleanup_cache() == 0
    left = sorted(p.name.removesuffix(".lock") for p in (cache_dir / "locks").rglob("*") if p.is_file())
    assert left == sorted(names - {entry_name(ident, f"{prefix}k0.json")})
    assert store.clear_cache() == 4
    assert [p for p in (cache_dir / "locks").rglob("*") if p.is_file()] == []  # the lock folder does not grow
    store.close()
