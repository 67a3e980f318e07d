"""store.stats() / autostore.stats(): what autostore says it sent must be what the server saw.

Every operation runs against SeaweedFS behind tests/counting_proxy.py (or tests/faultproxy.py for
retries); after each one the store's counts by request kind are compared with the requests the
proxy classified from the wire, one operation at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import autostore
from autostore import AutoPath, AutoStore, BackendError, NotFound, S3Options, StoreStats
from autostore.metrics import KINDS
from autostore.testing import S3Server
from counting_proxy import CountingProxy, Exchange
from faultproxy import FaultProxy, first, only

MIB = 1024 * 1024


def kind_of(e: Exchange) -> str:
    """The request kind of one request seen on the wire (S3 REST API)."""
    if e.method == "HEAD":
        return "HEAD"
    if e.method == "GET":
        return "LIST page" if "list-type" in e.query else "ranged GET" if e.ranged else "GET"
    if e.method == "PUT":
        return "multipart part" if "partNumber" in e.query else "COPY" if e.copy_source else "PUT"
    if e.method == "POST":
        if e.query.startswith("uploads"):
            return "multipart start"
        return "multipart complete" if "uploadId" in e.query else "DELETE"  # POST ?delete: bulk delete
    assert e.method == "DELETE", e
    return "DELETE"


def nonzero(requests: dict[str, int]) -> dict[str, int]:
    return {k: n for k, n in requests.items() if n}


@pytest.fixture
def counted(s3_server: S3Server, shared_bucket: str, proxy: CountingProxy) -> Callable[..., AutoStore]:
    """A store on a fresh prefix that talks to S3 through the counting proxy."""

    def make(**changes: Any) -> AutoStore:
        kwargs: dict[str, Any] = {**s3_server.options_kwargs(), "endpoint_url": proxy.url, **changes}
        return AutoStore(f"s3://{shared_bucket}/stats-{uuid.uuid4().hex[:8]}/", options=S3Options(**kwargs))

    return make


class Compare:
    """Runs one operation and checks the store's counts against the proxy's."""

    def __init__(self, store: AutoStore, proxy: CountingProxy) -> None:
        self.store, self.proxy = store, proxy

    def __call__(self, name: str, op: Callable[[], object], *, exact_bytes: bool = True) -> StoreStats:
        self.store.stats(reset=True)
        self.proxy.reset()
        op()
        stats = self.store.stats()
        seen = self.proxy.exchanges
        assert nonzero(stats.requests) == dict(Counter(kind_of(e) for e in seen)), name
        assert stats.total_requests == len(seen), name
        assert (stats.retries, stats.failed) == (0, 0), name
        if exact_bytes:
            down = sum(e.body_bytes for e in seen if kind_of(e) in ("GET", "ranged GET") and e.status in (200, 206))
            up = sum(e.request_bytes for e in seen if kind_of(e) in ("PUT", "multipart part"))
            assert (stats.bytes_down, stats.bytes_up) == (down, up), name
        assert stats.backend_seconds > 0 or not seen, name
        return stats


def test_stats_match_the_server_operation_by_operation(
    counted: Callable[..., AutoStore], proxy: CountingProxy, tmp_path: Path
) -> None:
    # Small multipart settings so that uploads of a few MiB go in parts.
    store = counted(multipart_threshold=6 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)
    check = Compare(store, proxy)
    root = store.uri

    s = check("write, extensionless key", lambda: store.write("a", {"x": 1}))
    assert s.requests["PUT"] == 1 and s.bytes_up == len(b'{"x": 1}')
    check("write, key with extension", lambda: store.write("b.json", [1, 2]))
    s = check("read", lambda: store["a"])
    assert s.requests == {**dict.fromkeys(KINDS, 0), "GET": 1} and s.bytes_down == 8
    check("read, key with extension", lambda: store["b.json"])
    fresh = AutoStore(store.uri, options=store.options)
    s = Compare(fresh, proxy)("read, fresh store (lists the folder once)", lambda: fresh["a"])
    assert nonzero(s.requests) == {"LIST page": 1, "GET": 1}
    check("contains", lambda: "a" in store)
    check("get_metadata", lambda: store.get_metadata("a"))
    check("missing key", lambda: store.get("nope.json"))
    check("copy", lambda: store.copy("a", "c"))
    check("move", lambda: store.move("c", "d"))
    check("delete", lambda: store.delete("d"))
    check("put_many", lambda: store.put_many({f"m/k{i}.json": {"i": i} for i in range(40)}, max_concurrency=8))
    s = check("get_many", lambda: store.get_many([f"m/k{i}.json" for i in range(40)], max_concurrency=8))
    assert s.requests["GET"] == 40
    s = check("keys", lambda: store.keys())
    assert s.requests["LIST page"] == 1

    path = AutoPath(root + "p/t.txt", store=store)
    s = check("AutoPath.write_text", lambda: path.write_text("hello"))
    assert nonzero(s.requests) == {"PUT": 1}  # no "is it a folder?" LIST on object stores
    check("AutoPath.read_text", lambda: path.read_text())
    check("AutoPath.exists", lambda: path.exists())
    check("AutoPath.stat", lambda: path.stat())

    data = os.urandom(12 * MIB + 123)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    big = AutoPath(root + "big/data.bin", store=store)
    s = check("upload_from (multipart)", lambda: big.upload_from(src))
    # transfers check that the target is no folder (one LIST page)
    assert nonzero(s.requests) == {"LIST page": 1, "multipart start": 1, "multipart part": 3, "multipart complete": 1}
    assert s.bytes_up == len(data)
    # The first GET's response is dropped after its first part (ranged GETs fetch the rest in
    # parallel), so the proxy may have relayed more of it than autostore read: bytes are the object.
    s = check("download_to (parallel ranged GETs)", lambda: big.download_to(tmp_path / "out.bin"), exact_bytes=False)
    assert (tmp_path / "out.bin").read_bytes() == data
    assert s.requests["GET"] == 1 and s.requests["ranged GET"] == 1 and s.bytes_down == len(data)

    def read_stream() -> bytes:
        with big.open("rb") as f:
            return f.read()

    s = check("open('rb')", read_stream)
    assert s.bytes_down == len(data)

    def write_stream() -> None:
        with AutoPath(root + "big/streamed.bin", store=store).open("wb") as f:
            f.write(data)

    s = check("open('wb') (multipart)", write_stream)
    assert nonzero(s.requests) == {"multipart start": 1, "multipart part": 3, "multipart complete": 1}
    check("AutoPath.delete of a folder (bulk delete)", lambda: AutoPath(root + "big", store=store).delete())


def test_listing_pages_are_counted_as_the_server_sends_them(
    counted: Callable[..., AutoStore], proxy: CountingProxy
) -> None:
    store = counted()
    store.put_many({f"k{i:04d}.json": i for i in range(2345)}, max_concurrency=16)
    check = Compare(store, proxy)
    s = check("keys() of 2345 files", lambda: store.keys())
    assert s.requests["LIST page"] == 3
    s = check("is_dir (first page only)", lambda: AutoPath(store.uri, store=store).is_dir())
    assert s.requests["LIST page"] == 1
    s = check("iterdir", lambda: list(AutoPath(store.uri, store=store).iterdir()))
    assert s.requests["LIST page"] == 3


def test_cache_hits_misses_and_revalidations(
    counted: Callable[..., AutoStore], proxy: CountingProxy, tmp_path: Path
) -> None:
    writer = counted()
    writer["doc.json"] = {"v": 1}
    cached = writer.options.replace(cache_enabled=True, cache_dir=str(tmp_path / "cache"), cache_validation="always")
    store = AutoStore(writer.uri, options=cached)
    check = Compare(store, proxy)
    s = check("first read: a miss", lambda: store["doc.json"])
    assert (s.cache_hits, s.cache_misses, s.cache_revalidations) == (0, 1, 0)
    s = check("read again: revalidated with a 304", lambda: store["doc.json"])
    assert (s.cache_hits, s.cache_misses, s.cache_revalidations) == (1, 0, 1)
    assert [e.status for e in proxy.exchanges] == [304]
    writer["doc.json"] = {"v": 2}
    s = check("changed on the server: a miss", lambda: store["doc.json"])
    assert (s.cache_hits, s.cache_misses, s.cache_revalidations) == (0, 1, 0)
    lazy = AutoStore(writer.uri, options=store.options.replace(cache_validation="expiry", cache_expiry_hours=0))
    lazy_check = Compare(lazy, proxy)
    lazy_check("fill", lambda: lazy["doc.json"])
    s = lazy_check("a hit sends nothing", lambda: lazy["doc.json"])
    assert (s.total_requests, s.cache_hits, s.cache_misses) == (0, 1, 0)


@pytest.mark.parametrize("fault", ["503", "drop", "reset"])
def test_retries_and_failures_under_faults(
    s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy, fault: str
) -> None:
    opts = S3Options(**{**s3_server.options_kwargs(), "endpoint_url": fault_proxy.endpoint_url})
    store = AutoStore(
        f"s3://{shared_bucket}/faults-{uuid.uuid4().hex[:8]}/", options=opts.replace(max_retries=2, retry_delay=0.01)
    )
    store["doc.json"] = {"v": 1}
    for n_faults, succeeds in ((2, True), (3, False)):
        store.stats(reset=True)
        fault_proxy.reset()
        fault_proxy.plan = first(n_faults, fault, only("GET"))
        if succeeds:
            assert store["doc.json"] == {"v": 1}
        else:
            with pytest.raises(BackendError):
                store["doc.json"]
        fault_proxy.plan = None
        s = store.stats()
        attempts = [entry for entry in fault_proxy.log if entry[1] == "GET"]
        assert s.requests["GET"] == len(attempts) == 3
        assert s.total_requests == fault_proxy.requests
        assert s.failed == fault_proxy.injected[fault] == n_faults
        assert s.retries == 2
        assert s.bytes_down == (len(b'{"v": 1}') if succeeds else 0)
    # writes and listings are retried and counted the same way
    for method, op in (("PUT", lambda: store.write("doc.json", {"v": 2})), ("GET", lambda: store.keys())):
        if fault == "reset" and method == "PUT":
            continue  # a PUT's response has no body to cut
        store.stats(reset=True)
        fault_proxy.reset()
        fault_proxy.plan = first(1, fault, only(method))
        op()
        fault_proxy.plan = None
        s = store.stats()
        assert (s.total_requests, s.retries, s.failed) == (fault_proxy.requests, 1, 1) == (2, 1, 1)
    # a listing failing on every attempt: max_retries + 1 pages sent, all failed, 2 retries
    store.stats(reset=True)
    fault_proxy.reset()
    fault_proxy.plan = first(3, fault, only("GET"))
    with pytest.raises(BackendError):
        store.keys()
    fault_proxy.plan = None
    s = store.stats()
    assert (s.requests["LIST page"], s.retries, s.failed) == (fault_proxy.requests, 2, 3) == (3, 2, 3)


def test_counts_are_per_store_shared_by_paths_and_summed_for_the_process(
    counted: Callable[..., AutoStore], proxy: CountingProxy
) -> None:
    one, two = counted(), counted()
    before = autostore.stats()
    one["a.json"] = 1
    AutoPath(one.uri + "b.json", store=one).write_text("2")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: two.write(f"k{i}.json", i), range(64)))
    assert one.stats().requests["PUT"] == 2
    assert two.stats().requests["PUT"] == 64
    after = autostore.stats()
    assert after.requests["PUT"] - before.requests["PUT"] == 66 == proxy.count("PUT")
    # reset zeroes one store only; the process keeps counting
    assert one.stats(reset=True).requests["PUT"] == 2
    assert one.stats().total_requests == 0
    assert autostore.stats().requests["PUT"] == after.requests["PUT"]
    # a path without a store counts on its (shared) default store
    path = AutoPath("s3://whatever-bucket/x.json")
    assert isinstance(path.store.stats(), StoreStats)


def test_stats_text_and_dict() -> None:
    stats = StoreStats(
        requests={**dict.fromkeys(KINDS, 0), "GET": 3, "PUT": 1},
        bytes_down=3 * MIB,
        bytes_up=10,
        retries=1,
        failed=1,
        cache_hits=2,
        backend_seconds=0.25,
    )
    assert str(stats).splitlines() == [
        "requests: 4 (GET 3, PUT 1)",
        "bytes: 3.0 MiB down, 10 B up",
        "retries: 1, failed requests: 1",
        "cache: 2 hits, 0 misses, 0 revalidated (304)",
        "waiting on the backend: 0.250 s",
    ]
    assert stats.as_dict()["total_requests"] == 4 and stats.as_dict()["requests"]["GET"] == 3


def test_local_stores_send_no_requests(tmp_path: Path) -> None:
    store = AutoStore(tmp_path)
    store["a"] = {"x": 1}
    assert store["a"] == {"x": 1}
    assert store.stats().total_requests == 0


def test_cli_stats_on_stderr(s3_server: S3Server, shared_bucket: str) -> None:
    store = AutoStore(f"s3://{shared_bucket}/cli-stats/", options=S3Options(**s3_server.options_kwargs()))
    store["doc.json"] = {"v": 1}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AUTOSTORE_"))}
    env.update(s3_server.env(), PYTHONPATH=str(Path(autostore.__file__).parents[1]), AUTOSTORE_CONFIG="")
    proc = subprocess.run(
        [sys.executable, "-m", "autostore", "--stats", "cat", f"s3://{shared_bucket}/cli-stats/doc.json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"v": 1' in proc.stdout and "autostore stats" not in proc.stdout
    assert "autostore stats: requests: 2 (GET 1, HEAD 1)" in proc.stderr  # cat: info, then the object
    assert "autostore stats: bytes: 8 B down, 0 B up" in proc.stderr


# -- OpenTelemetry ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spans() -> Any:
    """An in-memory span exporter behind the process's tracer provider (set once per process)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:  # another test set one first: add to it
        trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[attr-defined]
    return exporter


def test_each_operation_is_a_span_with_its_numbers(
    spans: Any, counted: Callable[..., AutoStore], proxy: CountingProxy
) -> None:
    store = counted()
    spans.clear()
    store["doc.json"] = {"v": 1}
    assert store["doc.json"] == {"v": 1}
    AutoPath(store.uri + "t.txt", store=store).write_bytes(b"abc")
    with pytest.raises(NotFound):
        store["missing.json"]
    finished = spans.get_finished_spans()
    (write,) = [s for s in finished if s.name == "autostore.write"]
    read, failed = [s for s in finished if s.name == "autostore.read"]
    assert write.attributes["autostore.requests.PUT"] == 1
    assert write.attributes["autostore.bytes_up"] == len(b'{"v": 1}')
    assert write.attributes["autostore.key"] == "doc.json"
    assert write.attributes["autostore.uri"] == store.uri
    assert read.attributes["autostore.requests"] == read.attributes["autostore.requests.GET"] == 1
    assert read.attributes["autostore.bytes_down"] == len(b'{"v": 1}')
    (path_span,) = [s for s in finished if s.name == "autostore.write_bytes"]
    assert path_span.attributes["autostore.uri"] == store.uri + "t.txt"
    assert path_span.attributes["autostore.requests.PUT"] == 1
    assert read.status.is_ok and not failed.status.is_ok
    assert failed.events[0].name == "exception" and failed.attributes["autostore.key"] == "missing.json"


def test_no_tracing_without_a_tracer_provider(tmp_path: Path) -> None:
    """opentelemetry imported but no provider configured: nothing happens (and importing
    autostore never imports opentelemetry)."""
    code = (
        "import sys, autostore\n"
        "assert 'opentelemetry' not in sys.modules\n"
        "from opentelemetry import trace\n"
        "from autostore.metrics import _tracer\n"
        "assert _tracer() is None\n"
        f"s = autostore.AutoStore({str(tmp_path)!r}); s['k'] = 1; assert s['k'] == 1\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(autostore.__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


def test_the_boto3_transport_of_forked_children_counts_the_same(
    s3_server: S3Server, shared_bucket: str, proxy: CountingProxy, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    """In a child forked after obstore was used, requests go through boto3 (see
    backends/forksafe.py); botocore's events count them, retries included."""
    from autostore.backends.boto3_transport import Boto3Backend
    from autostore.metrics import Recorder

    opts = S3Options(**{**s3_server.options_kwargs(), "endpoint_url": proxy.url})
    backend = Boto3Backend(
        "s3", shared_bucket, opts.replace(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=2)
    )
    backend.stats = Recorder()
    prefix = f"boto-{uuid.uuid4().hex[:8]}/"
    data = os.urandom(11 * MIB)
    (tmp_path / "big.bin").write_bytes(data)

    def run(name: str, op: Callable[[], object]) -> StoreStats:
        backend.stats.snapshot(reset=True)
        proxy.reset()
        op()
        stats = backend.stats.snapshot()
        assert nonzero(stats.requests) == dict(Counter(kind_of(e) for e in proxy.exchanges)), name
        return stats

    assert run("put", lambda: backend.put_bytes(prefix + "a.bin", b"0123456789")).bytes_up == 10
    assert run("get", lambda: backend.get_bytes(prefix + "a.bin")).bytes_down == 10
    assert run("range", lambda: backend.get_range(prefix + "a.bin", 2, 5)).requests["ranged GET"] == 1
    run("head", lambda: backend.head(prefix + "a.bin"))
    run("copy", lambda: backend.copy(prefix + "a.bin", prefix + "b.bin"))
    run("list", lambda: list(backend.list_objects(prefix)))
    s = run("upload (multipart)", lambda: backend.upload(prefix + "big.bin", tmp_path / "big.bin"))
    assert s.requests["multipart part"] == 3 and s.bytes_up == len(data)
    run("delete", lambda: backend.delete(prefix + "b.bin"))
    backend.close()

    faulty = Boto3Backend("s3", shared_bucket, opts.replace(endpoint_url=fault_proxy.endpoint_url, max_retries=2))
    faulty.stats = Recorder()
    fault_proxy.plan = first(2, "503", only("GET"))
    assert faulty.get_bytes(prefix + "a.bin") == b"0123456789"
    fault_proxy.plan = None
    s = faulty.stats.snapshot()
    assert (s.requests["GET"], s.retries, s.failed) == (3, 2, 2) == (fault_proxy.requests, 2, 2)
    faulty.close()


def test_a_forked_child_counts_its_requests_on_the_same_store(s3_store: AutoStore) -> None:
    s3_store["k.json"] = {"v": 1}  # the parent has used obstore: the child goes through boto3
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            s3_store.stats(reset=True)
            ok = s3_store["k.json"] == {"v": 1}
            s = s3_store.stats()
            os.write(write_fd, f"{ok} {s.requests['GET']} {s.bytes_down}".encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        answer = f.read()
    os.waitpid(pid, 0)
    assert answer == "True 1 8"  # one GET of the 8 bytes {"v": 1}
