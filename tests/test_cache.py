"""The download cache against the real S3 server (SeaweedFS). Requests are counted on the way to
the server by tests/counting_proxy.py; external writers use plain boto3 straight to the server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import autostore
from autostore import AutoStore, DataHandler, NotFound, S3Options
from autostore.cache import VERIFY_MAX, default_cache_dir
from autostore.testing import S3Server
from counting_proxy import CountingProxy

SRC = str(Path(autostore.__file__).resolve().parents[1])


# -- fixtures and helpers ----------------------------------------------------------------------
@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def root(shared_bucket: str) -> str:
    """A fresh prefix; ``bucket`` and ``prefix`` are used for request paths and boto3."""
    return f"s3://{shared_bucket}/{uuid.uuid4().hex[:10]}/"


def options(server: S3Server, endpoint: str, cache_dir: Path | None, **kw: Any) -> S3Options:
    kwargs: dict[str, Any] = dict(server.options_kwargs(), endpoint_url=endpoint)
    if cache_dir is not None:
        kwargs.update(cache_enabled=True, cache_dir=str(cache_dir))
    kwargs.update(kw)
    return S3Options(**kwargs)


@pytest.fixture
def make(s3_server: S3Server, proxy: CountingProxy, cache_dir: Path, root: str) -> Callable[..., AutoStore]:
    """``make(**options)``: a caching store on ``root`` that talks to the server through the proxy."""
    stores: list[AutoStore] = []

    def factory(uri: str = root, **kw: Any) -> AutoStore:
        store = AutoStore(uri, options=options(s3_server, proxy.url, cache_dir, **kw))
        stores.append(store)
        return store

    yield factory  # type: ignore[misc]
    for store in stores:
        store.close()


@pytest.fixture
def writer(s3_server: S3Server, root: str) -> Iterator[AutoStore]:
    """A store without a cache, straight to the server: another machine writing the bucket."""
    with AutoStore(root, options=options(s3_server, s3_server.endpoint_url, None)) as store:
        store.register_handler(ProbeHandler())
        yield store


@pytest.fixture
def boto(s3_server: S3Server) -> Any:
    """A plain boto3 client straight to the server: an external writer the cache knows nothing of."""
    client = s3_server.client()
    yield client
    client.close()


def split(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix


def path_of(uri: str, key: str) -> str:
    """The request path of ``key`` below the store root ``uri`` (path-style S3)."""
    bucket, prefix = split(uri)
    return f"/{bucket}/{prefix}{key}"


def metas(cache_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((cache_dir / "objects").glob("*/*.meta.json"))]


def content_files(cache_dir: Path) -> list[Path]:
    return [p for p in (cache_dir / "objects").glob("*/*") if not p.name.endswith(".meta.json")]


def entry_file(cache_dir: Path, key_suffix: str) -> tuple[Path, dict[str, Any]]:
    (meta_path,) = [
        p
        for p in (cache_dir / "objects").glob("*/*.meta.json")
        if json.loads(p.read_text())["key"].endswith(key_suffix)
    ]
    meta = json.loads(meta_path.read_text())
    return meta_path.parent / meta["file"], meta


def age_entries(cache_dir: Path, seconds: float) -> None:
    """Pretend every entry was fetched ``seconds`` earlier (edits fetched_at in its metadata)."""
    for p in (cache_dir / "objects").glob("*/*.meta.json"):
        meta = json.loads(p.read_text())
        meta["fetched_at"] -= seconds
        p.write_text(json.dumps(meta))


def python(code: str, *args: str, wait: bool = True, timeout: float = 120) -> Any:
    """Run ``code`` in a fresh interpreter (never forked: obstore is not fork-safe)."""
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-c", code, *args]
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


# Child processes build a store from JSON arguments: [options kwargs, root uri].
CHILD_PRELUDE = """
import json, sys
from autostore import AutoStore, S3Options
kw, root = json.loads(sys.argv[1]), sys.argv[2]
store = AutoStore(root, options=S3Options(**kw))
"""


def child_args(server: S3Server, endpoint: str, cache_dir: Path, root: str) -> list[str]:
    kw = dict(server.options_kwargs(), endpoint_url=endpoint, cache_enabled=True, cache_dir=str(cache_dir))
    return [json.dumps(kw), root]


# -- 1. entries are named by (backend identity, full key) ------------------------------------------
def test_keys_and_stores_never_share_an_entry(make: Callable[..., AutoStore], root: str, cache_dir: Path) -> None:
    store = make()
    long_a = ("k" * 99 + "/") * 3 + "a.json"  # 306 characters (segments are limited to 255 bytes)
    long_b = ("k" * 99 + "/") * 3 + "b.json"
    values = {"a.b.json": {"v": "dot"}, "a_b.json": {"v": "underscore"}, long_a: {"v": "A"}, long_b: {"v": "B"}}
    for key, value in values.items():
        store[key] = value
    for _ in range(2):  # second round is served from the cache
        for key, value in values.items():
            assert store[key] == value
    # Same relative key under two prefixes sharing one cache_dir.
    other = make(root + "other/")
    store["same.json"] = {"store": "first"}
    other["same.json"] = {"store": "second"}
    for _ in range(2):
        assert store["same.json"] == {"store": "first"}
        assert other["same.json"] == {"store": "second"}
    found = metas(cache_dir)
    assert len(found) == 6
    assert len({m["file"] for m in found}) == 6
    _, prefix = split(root)
    assert {m["key"] for m in found} >= {prefix + k for k in values}
    assert store.cache_info().entries == 6


def test_same_key_on_two_endpoints_has_two_entries(
    s3_server: S3Server, proxy: CountingProxy, cache_dir: Path, root: str, boto: Any
) -> None:
    # The proxy and the server are two endpoints (as two S3 services would be) with one bucket.
    bucket, prefix = split(root)
    boto.put_object(Bucket=bucket, Key=prefix + "k.json", Body=b'{"v": 1}')
    via_proxy = AutoStore(root, options=options(s3_server, proxy.url, cache_dir))
    direct = AutoStore(root, options=options(s3_server, s3_server.endpoint_url, cache_dir))
    assert via_proxy["k.json"] == direct["k.json"] == {"v": 1}
    assert len({m["identity"] for m in metas(cache_dir)}) == 2


# -- 2. expiry, revalidation, "always" ------------------------------------------------------------
def test_a_hit_makes_zero_requests(
    make: Callable[..., AutoStore], root: str, proxy: CountingProxy, writer: AutoStore
) -> None:
    df = pl.DataFrame({"a": list(range(1000))})
    writer["cfg.json"] = {"v": 1}
    writer["df.parquet"] = df
    store = make()
    assert store["cfg.json"] == {"v": 1}
    assert store["df.parquet"].equals(df)
    assert proxy.count("GET", path_of(root, "cfg.json")) == 1
    proxy.reset()
    for _ in range(5):
        assert store["cfg.json"] == {"v": 1}
        assert store["df.parquet"].equals(df)
    fresh = make()  # another store on the same cache: hits too
    assert fresh["cfg.json"] == {"v": 1}
    assert fresh["df.parquet"].equals(df)
    assert proxy.exchanges == []
    info = store.cache_info()
    assert (info.hits, info.misses) == (10, 2)


def test_external_overwrite_seen_after_expiry_not_before(
    make: Callable[..., AutoStore], root: str, proxy: CountingProxy, boto: Any, cache_dir: Path
) -> None:
    bucket, prefix = split(root)
    key = prefix + "shared.json"
    boto.put_object(Bucket=bucket, Key=key, Body=b'{"v": 1}')
    store = make(cache_expiry_hours=1)
    assert store["shared.json"] == {"v": 1}
    boto.put_object(Bucket=bucket, Key=key, Body=b'{"v": 2}')
    # The documented trade-off: within cache_expiry_hours an external write is not seen.
    assert store["shared.json"] == {"v": 1}
    age_entries(cache_dir, 3601)
    proxy.reset()
    assert store["shared.json"] == {"v": 2}
    (get,) = proxy.exchanges
    assert (get.method, get.conditional, get.status, get.body_bytes) == ("GET", True, 200, 8)
    # Expired but unchanged: revalidated with no body transferred, then fresh again.
    age_entries(cache_dir, 3601)
    proxy.reset()
    assert store["shared.json"] == {"v": 2}
    (get,) = proxy.exchanges
    assert (get.conditional, get.status, get.body_bytes) == (True, 304, 0)
    proxy.reset()
    assert store["shared.json"] == {"v": 2}
    assert proxy.exchanges == []


def test_tiny_expiry_sees_external_overwrite(make: Callable[..., AutoStore], root: str, boto: Any) -> None:
    bucket, prefix = split(root)
    boto.put_object(Bucket=bucket, Key=prefix + "t.json", Body=b'{"v": 1}')
    store = make(cache_expiry_hours=0.0001)  # 0.36 s
    assert store["t.json"] == {"v": 1}
    boto.put_object(Bucket=bucket, Key=prefix + "t.json", Body=b'{"v": 2}')
    deadline = time.monotonic() + 10
    while store["t.json"] != {"v": 2}:
        assert time.monotonic() < deadline, "expired entry was never revalidated"
        time.sleep(0.1)


def test_always_revalidates_every_read(
    make: Callable[..., AutoStore], root: str, proxy: CountingProxy, boto: Any
) -> None:
    bucket, prefix = split(root)
    boto.put_object(Bucket=bucket, Key=prefix + "a.json", Body=b'{"v": 1}')
    store = make(cache_validation="always", cache_expiry_hours=0)
    assert store["a.json"] == {"v": 1}
    boto.put_object(Bucket=bucket, Key=prefix + "a.json", Body=b'{"v": 2}')
    assert store["a.json"] == {"v": 2}
    proxy.reset()
    for _ in range(3):
        assert store["a.json"] == {"v": 2}
    assert [(e.conditional, e.status, e.body_bytes) for e in proxy.exchanges] == [(True, 304, 0)] * 3
    boto.delete_object(Bucket=bucket, Key=prefix + "a.json")
    with pytest.raises(NotFound):
        store["a.json"]
    assert metas(Path(store.options.cache_dir or "")) == []  # the entry went with the object


def test_zero_expiry_never_expires(
    make: Callable[..., AutoStore], root: str, proxy: CountingProxy, cache_dir: Path
) -> None:
    store = make(cache_expiry_hours=0)
    store["n.json"] = [1, 2]
    assert store["n.json"] == [1, 2]  # confirms the written entry (one conditional GET)
    age_entries(cache_dir, 10 * 365 * 24 * 3600)
    proxy.reset()
    assert store["n.json"] == [1, 2]
    assert proxy.exchanges == []


def test_ignore_cache_fetches_fresh_and_refreshes_the_entry(
    make: Callable[..., AutoStore], root: str, proxy: CountingProxy, boto: Any
) -> None:
    bucket, prefix = split(root)
    boto.put_object(Bucket=bucket, Key=prefix + "i.json", Body=b'{"v": 1}')
    store = make(cache_expiry_hours=0)
    assert store["i.json"] == {"v": 1}
    boto.put_object(Bucket=bucket, Key=prefix + "i.json", Body=b'{"v": 2}')
    assert store["i.json"] == {"v": 1}
    proxy.reset()
    assert store.read("i.json", ignore_cache=True) == {"v": 2}
    (get,) = proxy.exchanges
    assert (get.conditional, get.status) == (False, 200)  # a full fetch, not trusting the entry
    proxy.reset()
    assert store["i.json"] == {"v": 2}
    assert proxy.exchanges == []


# -- 3. own writes are never stale ------------------------------------------------------------------
def test_own_writes_are_never_stale(make: Callable[..., AutoStore], root: str, proxy: CountingProxy) -> None:
    first, second = make(cache_expiry_hours=0), make(cache_expiry_hours=0)
    first["w.json"] = {"v": 1}
    assert first["w.json"] == second["w.json"] == {"v": 1}
    first["w.json"] = {"v": 2}
    assert first["w.json"] == {"v": 2}
    assert second["w.json"] == {"v": 2}
    second["w.json"] = {"v": 3}
    assert first["w.json"] == {"v": 3}
    # The written bytes are kept: the first read after a write is one conditional GET, no body.
    proxy.reset()
    first["w.json"] = {"v": 4}
    assert first["w.json"] == {"v": 4}
    assert [(e.method, e.status) for e in proxy.exchanges] == [("PUT", 200), ("GET", 304)]
    # Parquet (written from a file): the entry is dropped and read anew.
    first["df.parquet"] = pl.DataFrame({"a": [1]})
    assert second["df.parquet"].to_dict(as_series=False) == {"a": [1]}
    first["df.parquet"] = pl.DataFrame({"a": [2]})
    assert second["df.parquet"].to_dict(as_series=False) == {"a": [2]}
    # copy / move / delete
    first["src.json"] = {"v": "src"}
    second["dst.json"] = {"v": "old"}
    assert first["dst.json"] == {"v": "old"}
    first.copy("src.json", "dst.json")
    assert second["dst.json"] == {"v": "src"}
    second["src.json"] = {"v": "moved"}
    assert first["src.json"] == {"v": "moved"}
    first.move("src.json", "dst.json")
    assert second["dst.json"] == {"v": "moved"}
    with pytest.raises(NotFound):
        second["src.json"]
    del second["dst.json"]
    with pytest.raises(NotFound):
        first["dst.json"]


def test_own_write_in_another_process_is_seen(
    s3_server: S3Server, proxy: CountingProxy, cache_dir: Path, root: str, make: Callable[..., AutoStore]
) -> None:
    store = make(cache_expiry_hours=0)
    store["p.json"] = {"v": "parent"}
    assert store["p.json"] == {"v": "parent"}
    args = child_args(s3_server, proxy.url, cache_dir, root)
    python(CHILD_PRELUDE + "store['p.json'] = {'v': 'child'}", *args)
    assert store["p.json"] == {"v": "child"}
    python(CHILD_PRELUDE + "del store['p.json']", *args)
    with pytest.raises(NotFound):
        store["p.json"]


# -- 4. atomic, locked fills; broken entries are never served ---------------------------------------
def test_eight_processes_download_a_cold_key_once(
    s3_server: S3Server, writer: AutoStore, cache_dir: Path, root: str, tmp_path: Path
) -> None:
    df = pl.DataFrame({"a": list(range(400_000)), "b": [float(i) * 0.5 for i in range(400_000)]})
    writer["big.parquet"] = df
    expected = f"{df.height} {df['a'].sum()} {df['b'].sum()}"
    go = tmp_path / "go"
    code = (
        CHILD_PRELUDE
        + f"""
import os, time, polars
store.primary_backend.store  # build the client before the start line
open(os.path.join({str(tmp_path)!r}, "ready-" + str(os.getpid())), "w").close()
deadline = time.monotonic() + 120
while not os.path.exists({str(go)!r}) and time.monotonic() < deadline:
    time.sleep(0.002)
df = store["big.parquet"]
info = store.cache_info()
print(df.height, df["a"].sum(), df["b"].sum(), info.hits, info.misses)
"""
    )
    # Throttled so the download overlaps every reader's start.
    with CountingProxy(s3_server.endpoint_url, throttle=20_000_000) as proxy:
        procs = [python(code, *child_args(s3_server, proxy.url, cache_dir, root), wait=False) for _ in range(8)]
        try:
            wait_for(lambda: len(list(tmp_path.glob("ready-*"))) == 8, 120, "8 readers to start")
            go.touch()
            outputs = [p.communicate(timeout=120) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        counts = []
        for p, (out, err) in zip(procs, outputs, strict=True):
            assert p.returncode == 0, err[-3000:]
            *value, hits, misses = out.split()
            assert " ".join(value) == expected
            counts.append((int(hits), int(misses)))
        assert sorted(counts) == [(0, 1)] + [(1, 0)] * 7  # one filled, seven waited and hit
        gets = [e for e in proxy.exchanges if e.method == "GET"]
        assert [(e.path, e.status, e.conditional) for e in gets] == [(path_of(root, "big.parquet"), 200, False)]
    assert len(metas(cache_dir)) == 1
    assert list((cache_dir / "tmp").glob("*.part")) == []


def test_sigkill_mid_fill_leaves_no_servable_entry(
    s3_server: S3Server,
    writer: AutoStore,
    cache_dir: Path,
    root: str,
    make: Callable[..., AutoStore],
    proxy: CountingProxy,
) -> None:
    payload = os.urandom(2 * 1024 * 1024).hex()  # 4 MiB of text: 4 s through the throttled proxy
    writer["slow.txt"] = payload
    proxy.throttle = 1_000_000  # bytes/s: the child is killed while downloading
    child = python(
        CHILD_PRELUDE + "store['slow.txt']\nprint('finished')",
        *child_args(s3_server, proxy.url, cache_dir, root),
        wait=False,
    )
    try:

        def partial() -> bool:  # the fill has begun and a quarter of the body is on its way
            return proxy.response_bytes > 1024 * 1024 and any((cache_dir / "tmp").glob("*.part"))

        wait_for(partial, 60, "the child's download to start")
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL and "finished" not in out
    proxy.throttle = None
    proxy.reset()
    # The partial download is there, but nothing vouches for it.
    assert list((cache_dir / "tmp").glob("*.part"))
    assert metas(cache_dir) == []
    # A new reader neither waits for the dead process's lock nor serves its half file.
    store = make()
    assert store.cache_info().entries == 0
    assert store["slow.txt"] == payload
    assert proxy.count("GET", path_of(root, "slow.txt"), status=200) == 1
    assert list((cache_dir / "tmp").glob("*.part")) == []  # debris of the killed fill removed
    assert store.cache_info().entries == 1


@pytest.mark.parametrize("damage", ["truncate", "same size", "same size and mtime"])
def test_damaged_entry_is_downloaded_again(
    make: Callable[..., AutoStore], root: str, proxy: CountingProxy, cache_dir: Path, damage: str
) -> None:
    store = make(cache_expiry_hours=0)
    store["d.json"] = {"payload": "x" * 1000}
    assert store["d.json"] == {"payload": "x" * 1000}  # confirmed entry
    path, meta = entry_file(cache_dir, "d.json")
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[:10])
    else:
        path.write_bytes(data.replace(b"x", b"y"))
        if damage == "same size and mtime":  # only the checksum can tell
            os.utime(path, ns=(meta["mtime_ns"], meta["mtime_ns"]))
    proxy.reset()
    assert store["d.json"] == {"payload": "x" * 1000}
    assert [(e.method, e.status, e.conditional) for e in proxy.exchanges] == [("GET", 200, False)]
    proxy.reset()
    assert store["d.json"] == {"payload": "x" * 1000}
    assert proxy.exchanges == []


def test_cleanup_verify_finds_silent_damage_in_large_entries(
    make: Callable[..., AutoStore], root: str, cache_dir: Path
) -> None:
    store = make(cache_expiry_hours=0)
    text = "z" * (VERIFY_MAX + 10)
    store["big.txt"] = text
    assert store["big.txt"] == text
    path, meta = entry_file(cache_dir, "big.txt")
    path.write_bytes(path.read_bytes().replace(b"z", b"q", 1))
    os.utime(path, ns=(meta["mtime_ns"], meta["mtime_ns"]))
    assert store.cleanup_cache() == 0  # size and mtime match: only a re-hash can tell
    assert store.cleanup_cache(verify=True) == 1
    assert store["big.txt"] == text


# -- 5. size budget, cleanup, unusable directory ----------------------------------------------------
def test_lru_eviction_keeps_the_cache_under_budget(
    writer: AutoStore, make: Callable[..., AutoStore], root: str, proxy: CountingProxy, cache_dir: Path
) -> None:
    for i in range(5):
        writer[f"k{i}.txt"] = str(i) * 100_000
    store = make(cache_max_size=350_000, cache_expiry_hours=0)

    def read(i: int) -> None:
        assert store[f"k{i}.txt"] == str(i) * 100_000
        assert sum(p.stat().st_size for p in content_files(cache_dir)) <= 350_000
        time.sleep(0.02)  # distinct access times even on coarse clocks

    for i in (0, 1, 2, 0, 3):  # k0 used again before k3 arrives: k1 is the least recently used
        read(i)
    assert {m["key"].rpartition("/")[2] for m in metas(cache_dir)} == {"k0.txt", "k2.txt", "k3.txt"}
    proxy.reset()
    read(0)
    assert proxy.exchanges == []
    read(1)
    assert proxy.count("GET", path_of(root, "k1.txt"), status=200) == 1
    read(4)
    info = store.cache_info()
    assert info.entries == 3 and info.bytes <= 350_000 and info.max_bytes == 350_000
    # Writes through the store respect the budget too.
    for i in range(5, 9):
        store[f"k{i}.txt"] = str(i) * 100_000
        assert store.cache_info().bytes <= 350_000


def test_object_larger_than_the_budget_is_served_not_cached(
    writer: AutoStore, make: Callable[..., AutoStore], root: str, cache_dir: Path
) -> None:
    df = pl.DataFrame({"a": list(range(50_000))})
    writer["huge.parquet"] = df
    writer["huge.txt"] = "h" * 20_000
    store = make(cache_max_size="10kB")
    assert store["huge.parquet"].equals(df)
    assert store["huge.txt"] == "h" * 20_000
    assert metas(cache_dir) == [] and content_files(cache_dir) == []
    assert list((cache_dir / "tmp").iterdir()) == []


def test_cleanup_removes_expired_entries_and_leftovers(
    make: Callable[..., AutoStore], root: str, cache_dir: Path
) -> None:
    store = make(cache_expiry_hours=1)
    for i in range(3):
        store[f"e{i}.json"] = {"i": i}
        assert store[f"e{i}.json"] == {"i": i}
    age_entries(cache_dir, 1800)
    assert store.cleanup_cache() == 0
    (cache_dir / "tmp" / f"{'0' * 64}.dead.part").write_bytes(b"partial")  # a killed fill's debris
    age_entries(cache_dir, 1801)
    assert store.cleanup_cache() == 3
    assert metas(cache_dir) == [] and content_files(cache_dir) == []
    assert list((cache_dir / "tmp").iterdir()) == []
    assert store["e1.json"] == {"i": 1}
    assert store.clear_cache() == 1
    assert store.cache_info().entries == 0


def test_unwritable_cache_dir_warns_once_and_reads_correctly(
    s3_server: S3Server, proxy: CountingProxy, root: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should go")
    bad = blocker / "cache"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            store = AutoStore(root, options=options(s3_server, proxy.url, bad))
            store["u.json"] = {"v": 1}
            assert store["u.json"] == {"v": 1}
            store["u.json"] = {"v": 2}
            assert store["u.json"] == {"v": 2}
            assert store.cleanup_cache() == 0
            assert store.cache_info().directory is None
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1, messages
    assert str(bad) in messages[0] and "cache_dir" in messages[0]
    assert blocker.read_text() == "a file where the cache folder should go"


# -- 6. path formats read the entry file itself -------------------------------------------------------
class ProbeHandler(DataHandler):
    """A path-based format that records which file it was handed."""

    seen: list[tuple[Path, int]]

    def __init__(self, before_read: Callable[[], None] | None = None) -> None:
        self.seen = []
        self.before_read = before_read

    @property
    def extensions(self) -> list[str]:
        return [".probe"]

    def can_handle_extension(self, extension: str) -> bool:
        return extension == ".probe"

    def can_handle_data(self, data: Any) -> bool:
        return isinstance(data, bytes)

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        self.seen.append((file_path, os.stat(file_path).st_ino))
        if self.before_read is not None:
            self.before_read()
        return file_path.read_bytes()

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        file_path.write_bytes(data)


def test_path_formats_read_the_entry_file_without_a_copy(
    writer: AutoStore, make: Callable[..., AutoStore], root: str, cache_dir: Path
) -> None:
    writer["x.probe"] = b"probe data"
    store = make()
    probe = ProbeHandler()
    store.register_handler(probe)
    assert store["x.probe"] == b"probe data"
    assert store["x.probe"] == b"probe data"
    entry, _ = entry_file(cache_dir, "x.probe")
    for path, inode in probe.seen:
        assert inode == entry.stat().st_ino  # the entry's own data, not a copy
        assert path.suffix == ".probe" and cache_dir in path.parents
    (revalidated, _), (hit, _) = probe.seen
    assert revalidated.parent == cache_dir / "tmp" and not revalidated.exists()  # a hard link, gone afterwards
    assert hit == entry  # a hit read by store[key] opens the entry's own file
    df = pl.DataFrame({"a": [1.5, 2.5]})
    writer["f.parquet"] = df
    assert store["f.parquet"].equals(df) and store["f.parquet"].equals(df)


@pytest.mark.parametrize("hard_links", [True, False], ids=["hard links", "no hard links"])
def test_damaged_entry_read_through_a_path_is_downloaded_again(
    make: Callable[..., AutoStore],
    root: str,
    proxy: CountingProxy,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    hard_links: bool,
) -> None:
    # A format that reads a file gets a checked file: the hard link it is handed, or the entry
    # itself where the cache folder cannot link (a damaged one is fetched again either way).
    if not hard_links:

        def no_link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            raise PermissionError(1, "Operation not permitted", str(src))

        monkeypatch.setattr(os, "link", no_link)
    store = make(cache_expiry_hours=0)
    probe = ProbeHandler()
    store.register_handler(probe)
    store["d.probe"] = b"x" * 1000
    assert store["d.probe"] == b"x" * 1000  # confirmed entry
    path, meta = entry_file(cache_dir, "d.probe")
    path.write_bytes(b"y" * 1000)
    os.utime(path, ns=(meta["mtime_ns"], meta["mtime_ns"]))  # only the checksum can tell
    proxy.reset()
    assert store["d.probe"] == b"x" * 1000
    assert [(e.method, e.status, e.conditional) for e in proxy.exchanges] == [("GET", 200, False)]
    proxy.reset()
    assert store["d.probe"] == b"x" * 1000
    assert proxy.exchanges == []
    entry, _ = entry_file(cache_dir, "d.probe")
    fill, hit = (p for p, _ in probe.seen[-2:])
    if hard_links:
        assert fill.parent == cache_dir / "tmp" and not fill.exists()  # a hard link, gone afterwards
    else:
        assert fill == entry  # the entry itself, as no link could be made
    assert hit == entry  # a hit read by store[key] opens the entry's own file, checked as a link would be
    assert entry.read_bytes() == b"x" * 1000


def test_entry_replaced_while_a_reader_holds_it(
    writer: AutoStore, make: Callable[..., AutoStore], root: str, cache_dir: Path
) -> None:
    writer["r.probe"] = b"old" * 1000
    other = make()
    other.register_handler(ProbeHandler())

    def replace_and_clear() -> None:  # another store overwrites, then wipes the whole cache
        other["r.probe"] = b"new" * 1000
        other.clear_cache()
        other.cleanup_cache()

    store = make()
    store.register_handler(ProbeHandler(before_read=replace_and_clear))
    assert store["r.probe"] == b"old" * 1000  # the reader keeps the version it was handed
    assert store.read("r.probe") == b"new" * 1000


# -- 7. cache_info, defaults, stores that do not cache --------------------------------------------------
def test_cache_info(make: Callable[..., AutoStore], cache_dir: Path) -> None:
    store = make()
    empty = store.cache_info()
    assert (empty.directory, empty.entries, empty.bytes, empty.hits, empty.misses) == (cache_dir, 0, 0, 0, 0)
    assert empty.enabled
    store["i.txt"] = "12345"  # write-through: an entry, no hit or miss yet
    store["j.txt"] = "abc"
    info = store.cache_info()
    assert (info.entries, info.bytes, info.hits, info.misses) == (2, 8, 0, 0)
    store["i.txt"], store["i.txt"]
    del store["j.txt"]
    info = store.cache_info()
    assert (info.entries, info.bytes, info.hits, info.misses) == (1, 5, 2, 0)


def test_local_stores_and_disabled_caches_write_nothing(
    s3_server: S3Server, proxy: CountingProxy, root: str, tmp_path: Path, cache_dir: Path
) -> None:
    local = AutoStore(tmp_path / "data", cache_enabled=True, cache_dir=str(cache_dir))
    local["l.json"] = {"v": 1}
    assert local["l.json"] == {"v": 1}
    off = AutoStore(root, options=options(s3_server, proxy.url, None).replace(cache_dir=str(cache_dir)))
    off["o.json"] = {"v": 1}
    assert off["o.json"] == {"v": 1} and off["o.json"] == {"v": 1}
    assert proxy.count("GET") == 2
    assert metas(cache_dir) == []
    assert off.cache_info().directory is None


def test_default_cache_dir_is_the_platform_user_cache() -> None:
    import platformdirs

    assert default_cache_dir() == Path(platformdirs.user_cache_dir("autostore"))


@pytest.mark.parametrize(
    "meta_text",
    ["", "{", "[]", '{"format": 1}', '{"format": 1, "file": "../../etc/passwd", "size": 1}', "\xff\xfe"],
)
def test_malformed_metadata_is_treated_as_absent(
    make: Callable[..., AutoStore], root: str, proxy: CountingProxy, cache_dir: Path, meta_text: str
) -> None:
    store = make()
    store["m.json"] = {"v": 1}
    assert store["m.json"] == {"v": 1}
    (meta_path,) = (cache_dir / "objects").glob("*/*.meta.json")
    meta_path.write_bytes(meta_text.encode("latin-1"))
    proxy.reset()
    assert store["m.json"] == {"v": 1}
    assert [(e.method, e.status) for e in proxy.exchanges] == [("GET", 200)]
    assert store.cleanup_cache() == 0 and store.cache_info().entries == 1


def test_threads_reading_one_cold_key_download_it_once(
    make: Callable[..., AutoStore], root: str, proxy: CountingProxy, writer: AutoStore
) -> None:
    writer["t.txt"] = "t" * 3_000_000
    store = make()
    assert store.get_many(["t.txt"] * 8, max_concurrency=8) == ["t" * 3_000_000] * 8
    assert proxy.count("GET", path_of(root, "t.txt")) == 1
    info = store.cache_info()
    assert (info.hits, info.misses) == (7, 1)


def test_local_store_caches_s3_uris_with_the_s3_options(
    s3_server: S3Server, proxy: CountingProxy, root: str, cache_dir: Path, tmp_path: Path, writer: AutoStore
) -> None:
    # The seed's pattern: a local primary store, S3 reached through full URIs with its own options.
    writer["remote.json"] = {"source": "s3"}
    s3 = options(s3_server, proxy.url, cache_dir, scheme="s3", cache_expiry_hours=0)
    store = AutoStore(tmp_path / "local", options=[s3])
    store["local.json"] = {"source": "local"}
    for _ in range(3):
        assert store[root + "remote.json"] == {"source": "s3"}
        assert store["local.json"] == {"source": "local"}
    assert proxy.count("GET") == 1
    info = store.cache_info()
    assert (info.directory, info.entries, info.hits, info.misses) == (cache_dir, 1, 2, 1)
    assert store.clear_cache() == 1


def test_cache_dir_broken_after_opening_falls_back_with_one_warning(
    make: Callable[..., AutoStore], root: str, cache_dir: Path, writer: AutoStore
) -> None:
    df = pl.DataFrame({"a": [1, 2]})
    writer["b.json"] = {"v": 1}
    writer["b.parquet"] = df
    store = make()
    assert store["b.json"] == {"v": 1}
    shutil.rmtree(cache_dir)
    cache_dir.write_text("the cache folder was replaced by a file")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            assert store["b.json"] == {"v": 1}
            assert store["b.parquet"].equals(df)
            store["b.json"] = {"v": 1}
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and str(cache_dir) in messages[0], messages
