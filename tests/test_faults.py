"""Network faults between autostore and a real S3 server (SeaweedFS behind tests/faultproxy.py).

What is checked: ``max_retries``/``retry_delay``/``timeout`` do what they say with obstore's real
retry loop; every operation under faults either returns correct data or raises a clear
AutoStoreError; the objects on the server (read with boto3, bypassing the proxy) are always a
whole old or new value, never a torn one.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import random
import time
import uuid
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest

from autostore import AutoStore, AutoStoreError, BackendError, NotFound, S3Options
from autostore.backends.objectstore import worst_case_seconds
from autostore.testing import S3Server
from faultproxy import ALL_FAULTS, FaultProxy, at_random, first, only
from helpers import boto_client

REPORT: Counter[str] = Counter()  # summed over this module, printed at the end (pytest -s)


@pytest.fixture(scope="module", autouse=True)
def _report() -> Any:
    yield
    print("\nFAULT REPORT " + json.dumps(dict(sorted(REPORT.items()))))


def _server_value(client: Any, bucket: str, key: str) -> bytes | None:
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]
    except client.exceptions.NoSuchKey:
        return None


def _proxied(server: S3Server, proxy: FaultProxy, **changes: Any) -> S3Options:
    kwargs: dict[str, Any] = dict(server.options_kwargs())
    kwargs["endpoint_url"] = proxy.endpoint_url
    kwargs.update(changes)
    return S3Options(**kwargs)


def _proxied_store(
    server: S3Server, proxy: FaultProxy, bucket: str, name: str, **changes: Any
) -> tuple[AutoStore, str]:
    """A store on a fresh prefix ``<name>-<random>/`` of ``bucket`` whose requests go through the
    fault proxy, with ``changes`` to its options; and that prefix."""
    prefix = f"{name}-{uuid.uuid4().hex[:8]}/"
    return AutoStore(f"s3://{bucket}/{prefix}", options=_proxied(server, proxy, **changes)), prefix


def _count(proxy: FaultProxy) -> None:
    for kind, n in proxy.injected.items():
        REPORT[f"faults_injected.{kind}"] += n
        REPORT["faults_injected"] += n


# -- retries do what max_retries says ---------------------------------------------------------
def _delete(store: AutoStore) -> None:
    del store["doc.json"]


OPS: dict[str, tuple[str, Any]] = {
    "read": ("GET", lambda store: store["doc.json"]),
    "head": ("HEAD", lambda store: store.get_metadata("doc.json").size),
    "write": ("PUT", lambda store: store.write("doc.json", {"v": "new"})),
    "list": ("GET", lambda store: store.keys()),
    "delete": ("POST", _delete),  # obstore deletes with a bulk-delete POST
}
FAST_FAULTS = ["503", "500", "drop", "cut_request", "reset", "truncate"]
HAS_REQUEST_BODY = {"write", "delete"}
HAS_RESPONSE_BODY = {"read", "list", "delete"}
CASES = [
    (fault, op)
    for fault in FAST_FAULTS
    for op in sorted(OPS)
    if not (fault == "cut_request" and op not in HAS_REQUEST_BODY)
    and not (fault in ("reset", "truncate") and op not in HAS_RESPONSE_BODY)
]


@pytest.mark.parametrize(("fault", "op"), CASES)
def test_faults_are_retried_up_to_max_retries(
    s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy, fault: str, op: str
) -> None:
    """max_retries=2: two faults on an operation's request are absorbed, a third is a
    BackendError naming the URI; exactly max_retries + 1 attempts reach the proxy."""
    method, action = OPS[op]
    store, prefix = _proxied_store(
        s3_server, fault_proxy, shared_bucket, "retry", max_retries=2, retry_delay=0.01, timeout=5
    )
    client = boto_client(s3_server)
    old = {"v": "old"}
    for n_faults, succeeds in ((2, True), (3, False)):
        store["doc.json"] = old
        fault_proxy.reset()
        fault_proxy.plan = first(n_faults, fault, only(method))
        if succeeds:
            result = action(store)
            expected = {"read": old, "head": len(json.dumps(old)), "list": ["doc"]}.get(op)
            if expected is not None:
                assert result == expected
        else:
            with pytest.raises(BackendError) as info:
                action(store)
            message = str(info.value)
            assert f"s3://{shared_bucket}/{prefix}" in message
            assert "max_retries=2" in message
            assert type(info.value) is BackendError
            REPORT["clean_errors"] += 1
        fault_proxy.plan = None
        _count(fault_proxy)
        REPORT["operations"] += 1
        assert fault_proxy.injected[fault] == n_faults
        attempts = [entry for entry in fault_proxy.log if entry[1] == method]
        assert len(attempts) == n_faults + (1 if succeeds else 0), attempts
        raw = _server_value(client, shared_bucket, prefix + "doc.json")
        on_server = None if raw is None else json.loads(raw)
        assert on_server in (old, {"v": "new"}, None)  # never torn
        if succeeds:
            assert on_server == {"write": {"v": "new"}, "delete": None}.get(op, old)
        elif op not in ("write", "delete"):
            assert on_server == old


def test_zero_retries_means_one_attempt(s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy) -> None:
    store, _ = _proxied_store(s3_server, fault_proxy, shared_bucket, "zero", max_retries=0, retry_delay=0.01)
    store["k.txt"] = "x"
    fault_proxy.reset()
    fault_proxy.plan = first(1, "503")
    with pytest.raises(BackendError):
        store["k.txt"]
    assert fault_proxy.requests == 1
    fault_proxy.plan = None
    assert store["k.txt"] == "x"
    _count(fault_proxy)


def test_backoff_waits_at_least_retry_delay(s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy) -> None:
    """obstore waits retry_delay before the first retry, then a random (jittered) delay between
    retry_delay and twice the previous one, capped at 8 x retry_delay. Only the lower bound is
    asserted (a sleep is never shorter); the jitter is obstore's, documented in the README."""
    delay = 0.2
    store, _ = _proxied_store(s3_server, fault_proxy, shared_bucket, "backoff", max_retries=3, retry_delay=delay)
    store["k.txt"] = "x"
    fault_proxy.reset()
    fault_proxy.plan = first(3, "503")
    assert store["k.txt"] == "x"
    times = [entry[0] for entry in fault_proxy.log]
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= delay * 0.95 for gap in gaps), gaps
    _count(fault_proxy)


@pytest.mark.parametrize("fault", ["stall", "stall_body"])
def test_stall_past_timeout_is_a_backend_error(
    s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy, fault: str
) -> None:
    store, prefix = _proxied_store(
        s3_server, fault_proxy, shared_bucket, "stall", timeout=0.5, max_retries=1, retry_delay=0.01
    )
    store["k.txt"] = "x" * 1000
    # One stalled attempt is retried...
    fault_proxy.reset()
    fault_proxy.plan = first(1, fault, only("GET"))
    assert store["k.txt"] == "x" * 1000
    # ...two are too many for max_retries=1: a BackendError, not a hang.
    fault_proxy.plan = first(2, fault, only("GET"))
    start = time.monotonic()
    with pytest.raises(BackendError) as info:
        store["k.txt"]
    elapsed = time.monotonic() - start
    assert f"s3://{shared_bucket}/{prefix}k.txt" in str(info.value)
    assert "timeout=0.5s" in str(info.value)
    # A hang guard, not a speed test: the bound is the documented worst case plus a wide margin.
    assert elapsed < worst_case_seconds(store.options) + 30
    if fault == "stall":  # a stalled upload too
        fault_proxy.plan = first(2, fault, only("PUT"))
        with pytest.raises(BackendError):
            store["k.txt"] = "y" * 1000
        assert _server_value(boto_client(s3_server), shared_bucket, prefix + "k.txt") == b"x" * 1000
    fault_proxy.plan = None
    _count(fault_proxy)
    REPORT["operations"] += 3
    REPORT["clean_errors"] += 2 if fault == "stall" else 1


@pytest.mark.parametrize("fault", ["reset", "truncate", "stall_body"])
def test_streamed_download_of_a_frame_under_faults(
    s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy, fault: str
) -> None:
    """Parquet is read from a downloaded file (Backend.download): broken bodies are resumed
    (same ETag) up to max_retries; beyond, a BackendError and no half file is left behind."""
    import polars as pl
    from polars.testing import assert_frame_equal

    store, _ = _proxied_store(
        s3_server, fault_proxy, shared_bucket, "frames", max_retries=2, retry_delay=0.01, timeout=1
    )
    rng = random.Random(3)
    df = pl.DataFrame({"i": range(200_000), "x": [rng.random() for _ in range(200_000)]})
    store["frame"] = df
    fault_proxy.reset()
    fault_proxy.plan = first(2, fault, only("GET"))
    assert_frame_equal(store["frame"], df)
    fault_proxy.plan = first(3, fault, only("GET"))
    with pytest.raises(BackendError):
        store["frame"]
    assert store._tmp_dir is None or list(store._tmp_dir.iterdir()) == []
    fault_proxy.plan = None
    assert_frame_equal(store["frame"], df)
    _count(fault_proxy)
    REPORT["operations"] += 3
    REPORT["clean_errors"] += 1


# -- 1,000 mixed operations with faults on a fraction of the requests ----------------------------
def _value(key: str, version: int) -> dict[str, Any]:
    return {"key": key, "version": version, "pad": hashlib.sha256(f"{key}{version}".encode()).hexdigest() * 4}


@pytest.mark.parametrize(
    ("n_ops", "rate", "max_retries", "max_errors"),
    [(1000, 0.1, 3, 20), (400, 0.35, 1, 200)],
    ids=["10%-faults-3-retries", "35%-faults-1-retry"],
)
def test_mixed_operations_under_faults(
    s3_server: S3Server,
    shared_bucket: str,
    fault_proxy: FaultProxy,
    n_ops: int,
    rate: float,
    max_retries: int,
    max_errors: int,
) -> None:
    """Random writes, reads, deletes and listings on 20 keys while a fraction of all requests
    fail. Every operation returns the right value or raises BackendError; after every operation
    the object on the server is one whole value that some write wrote (or absent)."""
    rng = random.Random(1234)
    store, prefix = _proxied_store(
        s3_server, fault_proxy, shared_bucket, "mixed", timeout=0.5, max_retries=max_retries, retry_delay=0.005
    )
    client = boto_client(s3_server)
    keys = [f"k{i:02d}.json" for i in range(20)]
    # What may be on the server for each key: the last value known to be there, plus every value
    # a failed write may still have stored (the server can apply a request whose answer was lost).
    possible: dict[str, list[dict[str, Any] | None]] = {k: [None] for k in keys}
    stalls = ["stall", "stall_body"]
    weighted = [f for f in ALL_FAULTS if f not in stalls] * 3 + stalls
    fault_proxy.reset()
    fault_proxy.plan = at_random(rate, weighted, seed=99)
    stats: Counter[str] = Counter()
    version = 0
    deadline = time.monotonic() + 240  # bound in time as well as in count
    for _ in range(n_ops):
        assert time.monotonic() < deadline, f"{n_ops} operations took too long: {stats}"
        key = rng.choice(keys)
        roll = rng.random()
        stats["operations"] += 1
        try:
            if roll < 0.45:
                version += 1
                value = _value(key, version)
                possible[key].append(value)
                store[key] = value
                possible[key] = [value]
                stats["writes_ok"] += 1
            elif roll < 0.85:
                try:
                    got = store[key]
                except NotFound:
                    got = None
                if got not in possible[key]:
                    stats["wrong_results"] += 1
                stats["reads_ok"] += 1
            elif roll < 0.92:
                possible[key].append(None)
                with contextlib.suppress(NotFound):
                    del store[key]
                possible[key] = [None]
                stats["deletes_ok"] += 1
            else:
                listed = store.keys()
                if not set(listed) <= {k.removesuffix(".json") for k in keys}:
                    stats["wrong_results"] += 1
                stats["lists_ok"] += 1
        except BackendError as exc:
            assert prefix in str(exc) or shared_bucket in str(exc), exc
            stats["clean_errors"] += 1
        except AutoStoreError as exc:  # e.g. CorruptData would mean a partial body got through
            stats["wrong_results"] += 1
            stats[f"unexpected.{type(exc).__name__}"] += 1
        # The server never holds a torn object: read it directly, bypassing the proxy.
        raw = _server_value(client, shared_bucket, prefix + key)
        try:
            on_server = None if raw is None else json.loads(raw)
        except ValueError:
            on_server = {"torn": raw}
        if on_server not in possible[key]:
            stats["partial_objects"] += 1
        possible[key] = [on_server]  # what is there now is the new baseline
    fault_proxy.plan = None
    for key in keys:  # after the storm, every value reads back exactly
        raw = _server_value(client, shared_bucket, prefix + key)
        expected = None if raw is None else json.loads(raw)
        assert store.get(key.removesuffix(".json")) == expected
    _count(fault_proxy)
    for name in ("operations", "wrong_results", "partial_objects", "clean_errors"):
        REPORT[name] += stats[name]
    REPORT["mixed.requests"] += fault_proxy.requests
    print(f"\nmixed: {dict(stats)} faults={dict(fault_proxy.injected)} requests={fault_proxy.requests}")
    assert stats["wrong_results"] == 0, stats
    assert stats["partial_objects"] == 0, stats
    assert sum(fault_proxy.injected.values()) >= 50  # the faults really happened
    assert stats["clean_errors"] <= max_errors, stats  # ...and retries absorbed most of them


def test_large_transfers_under_faults(s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy) -> None:
    """Multipart uploads (5 MiB parts) and streamed downloads with faults on a third of the
    requests: each transfer succeeds with the exact bytes or fails cleanly; the object on the
    server is always one whole version."""
    mib = 1024 * 1024
    store, prefix = _proxied_store(
        s3_server,
        fault_proxy,
        shared_bucket,
        "large",
        timeout=5,
        max_retries=4,
        retry_delay=0.01,
        multipart_threshold=5 * mib,
        multipart_chunksize=5 * mib,
        max_concurrency=2,
    )
    client = boto_client(s3_server)
    versions = [(str(i) * 16) * (12 * mib // 16) for i in range(4)]  # 12 MiB text, 3 parts each
    digests = {hashlib.md5(v.encode()).hexdigest() for v in versions}
    store["big.txt"] = versions[0]
    fault_proxy.reset()
    fault_proxy.plan = at_random(0.3, ["503", "500", "drop", "cut_request", "reset", "truncate"], seed=5)
    ok = errors = 0
    for version in versions[1:]:
        try:
            store["big.txt"] = version
            ok += 1
        except BackendError:
            errors += 1
        try:
            got = store["big.txt"]
            assert hashlib.md5(got.encode()).hexdigest() in digests
            ok += 1
        except BackendError:
            errors += 1
        raw = _server_value(client, shared_bucket, prefix + "big.txt")
        assert raw is not None and hashlib.md5(raw).hexdigest() in digests
    fault_proxy.plan = None
    assert hashlib.md5(store["big.txt"].encode()).hexdigest() in digests
    _count(fault_proxy)
    REPORT["operations"] += 6
    REPORT["clean_errors"] += errors
    assert ok >= 1 and sum(fault_proxy.injected.values()) >= 3


@pytest.mark.parametrize("fault", ["truncate", "reset"])
def test_a_listing_cut_on_a_later_page_resumes_after_the_last_key(
    s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy, fault: str
) -> None:
    # keys() and list_files() share the resuming listing; each sees every key exactly once.
    store, store_prefix = _proxied_store(
        s3_server, fault_proxy, shared_bucket, "pages", max_retries=2, retry_delay=0.01, timeout=5
    )
    names = [f"k{i:04d}" for i in range(2345)]
    store.put_many({f"{n}.json": 1 for n in names}, max_concurrency=16)

    def later_page(req: Any) -> bool:
        return req.method == "GET" and "continuation-token" in req.path

    for list_all in (store.keys, lambda: [f.removesuffix(".json") for f in store.list_files("*.json")]):
        fault_proxy.reset()
        fault_proxy.plan = first(1, fault, later_page)
        assert list_all() == names
        fault_proxy.plan = None
        assert fault_proxy.injected[fault] == 1
        # the cut second page (keys from k1000) is asked for again after the last key received
        resumed = [path for _, method, path, *_ in fault_proxy.log if method == "GET" and "start-after" in path]
        assert resumed and resumed[0].endswith("start-after=" + quote(store_prefix + "k0999.json", safe="")), resumed
