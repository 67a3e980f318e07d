"""Threads, processes and fork: one store shared by 16 threads; 4 spawned processes; children
made by os.fork(), multiprocessing "fork" and torch DataLoader workers after the parent used
obstore (they must switch to boto3, never touch obstore, and leave the parent healthy).

Every wait is bounded: a hang fails the test instead of blocking CI.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from autostore import AutoStore, NotFound, S3Options
from autostore.testing import S3Server
from conftest import Raw
from faultproxy import FaultProxy
from helpers import require
from workers import KeysDataset, drain, forked_reader, run_children, spawn_worker


@contextlib.contextmanager
def hard_timeout(seconds: int) -> Iterator[None]:
    """Fail (TimeoutError) instead of hanging; SIGALRM works in the main thread of a worker."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no answer within {seconds}s (hang?)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _wait_child(pid: int, timeout: float) -> int:
    """waitpid with a deadline; a child still running then is killed and the test fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"child {pid} hung for {timeout}s and was killed")


def _proxied_store(server: S3Server, bucket: str, proxy: FaultProxy) -> AutoStore:
    kwargs: dict[str, Any] = dict(server.options_kwargs())
    kwargs["endpoint_url"] = proxy.endpoint_url
    return AutoStore(f"s3://{bucket}/fork-{uuid.uuid4().hex[:8]}/", options=S3Options(**kwargs))


def _agents(proxy: FaultProxy) -> set[str]:
    return {entry[4].split("/")[0] for entry in proxy.log}


# -- threads --------------------------------------------------------------------------------
def test_sixteen_threads_share_one_store(store: AutoStore, raw: Raw) -> None:
    keys = [f"k{i}" for i in range(6)]
    written: set[str] = set()  # every value some writer wrote (added before the write starts)
    lock = threading.Lock()
    problems: list[str] = []
    counts = {"ops": 0, "not_found": 0}
    barrier = threading.Barrier(16)

    def work(tid: int) -> None:
        rng = random.Random(tid)
        barrier.wait(timeout=30)
        for i in range(25):
            key = rng.choice(keys)
            roll = rng.random()
            try:
                if roll < 0.45:
                    value = f"t{tid}-{i}"
                    with lock:
                        written.add(value)
                    store[key] = {"v": value}
                elif roll < 0.85:
                    got = store[key]["v"]
                    if got not in written:
                        problems.append(f"{key} read {got!r}, which nobody wrote")
                elif roll < 0.95:
                    del store[key]
                else:
                    if not set(store.keys()) <= set(keys):
                        problems.append(f"bad listing {store.keys()}")
            except NotFound:
                with lock:
                    counts["not_found"] += 1
            except Exception as exc:
                problems.append(f"{type(exc).__name__}: {exc}")
            with lock:
                counts["ops"] += 1

    threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "threads hung"
    assert problems == []
    assert counts["ops"] == 16 * 25
    for key in store:  # what is left is whole: one of the written values, one file per key
        assert store[key]["v"] in written
    assert all(name.endswith(".json") for name in raw.keys())  # noqa: SIM118 - Raw is not a dict


# -- processes --------------------------------------------------------------------------------
def test_four_spawned_processes_share_one_store(store: AutoStore, raw: Raw) -> None:
    """The store is pickled to each spawned worker (as a spawn/forkserver DataLoader does)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=spawn_worker, args=(store, w, 5, queue)) for w in range(4)]
    for p in procs:
        p.start()
    results = drain(queue, 4, timeout=180)
    for p in procs:
        p.join(30)
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert sorted(r["worker"] for r in results) == [0, 1, 2, 3]
    assert len({r["pid"] for r in results} | {os.getpid()}) == 5
    assert all(r["own_ok"] for r in results)
    for r in results:
        for value in r["shared"]:
            assert value["worker"] in range(4) and value["i"] in range(5)
    for w in range(4):
        for i in range(5):
            assert json.loads(raw.read(f"w{w}/k{i}.json")) == {"worker": w, "i": i}
    assert len(store.keys()) == 4 * 5 + 3


# -- fork ---------------------------------------------------------------------------------------
def test_os_fork_child_switches_to_boto3(s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy) -> None:
    store = _proxied_store(s3_server, shared_bucket, fault_proxy)
    store["before"] = {"value": 1}
    assert store["before"] == {"value": 1}  # obstore has run in this process
    assert _agents(fault_proxy) == {"object_store"}
    fault_proxy.reset()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            signal.alarm(60)
            os.close(read_end)
            store["from_child"] = {"value": 2}
            result = {
                "before": store["before"],
                "from_child": store["from_child"],
                "keys": store.keys(),
                "meta": store.get_metadata("before").size,
            }
            del store["from_child"]
            result["after_delete"] = store.keys()
            os.write(write_end, json.dumps(result).encode())
            code = 0
        except BaseException as exc:
            os.write(write_end, json.dumps({"error": repr(exc)}).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    exit_code = _wait_child(pid, 90)
    with os.fdopen(read_end, "rb") as f:
        report = json.loads(f.read() or b"{}")
    assert exit_code == 0, report
    assert report == {
        "before": {"value": 1},
        "from_child": {"value": 2},
        "keys": ["before", "from_child"],
        "meta": len(json.dumps({"value": 1})),
        "after_delete": ["before"],
    }
    assert _agents(fault_proxy) == {"Boto3"}  # the child never spoke obstore
    fault_proxy.reset()
    with hard_timeout(60):  # the parent is healthy and still on obstore
        store["after"] = {"value": 3}
        assert store["after"] == {"value": 3}
        assert store.keys() == ["after", "before"]
    assert _agents(fault_proxy) == {"object_store"}


def test_multiprocessing_fork_children(s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy) -> None:
    store = _proxied_store(s3_server, shared_bucket, fault_proxy)
    keys = [f"item{i}" for i in range(5)]
    for i, key in enumerate(keys):
        store[key] = {"value": i}
    fault_proxy.reset()
    got, procs = run_children(multiprocessing.get_context("fork"), forked_reader, (store, keys), 2)
    assert len(got) == 2, got
    for r in got:
        assert "error" not in r, r
        assert r["values"] == {key: {"value": i} for i, key in enumerate(keys)}
        assert r["own"] == {"pid": r["pid"]}
    assert all(p.exitcode == 0 for p in procs)
    assert _agents(fault_proxy) == {"Boto3"}
    fault_proxy.reset()
    with hard_timeout(60):
        assert sorted(store.keys()) == sorted(keys + [f"child-{r['pid']}" for r in got])
    assert _agents(fault_proxy) == {"object_store"}


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_torch_dataloader_workers(
    s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy, context: str
) -> None:
    """DataLoader(num_workers=2) over keys in S3 through a store the parent used: "fork" workers
    go through boto3; "spawn" workers get a pickled store and use obstore."""
    torch = require("torch")
    from torch.utils.data import DataLoader

    store = _proxied_store(s3_server, shared_bucket, fault_proxy)
    keys = [f"sample{i}" for i in range(12)]
    for i, key in enumerate(keys):
        store[key] = {"value": i * 10}
    assert store[keys[0]] == {"value": 0}
    fault_proxy.reset()
    loader = DataLoader(
        KeysDataset(store, keys), batch_size=4, num_workers=2, multiprocessing_context=context, timeout=120
    )
    with hard_timeout(240):
        batches = list(loader)
    values = torch.cat([b["value"] for b in batches]).tolist()
    indices = torch.cat([b["index"] for b in batches]).tolist()
    pids = set(torch.cat([b["pid"] for b in batches]).tolist())
    assert sorted(zip(indices, values, strict=True)) == [(i, i * 10) for i in range(12)]
    assert len(pids) == 2 and os.getpid() not in pids
    assert _agents(fault_proxy) == ({"Boto3"} if context == "fork" else {"object_store"})
    fault_proxy.reset()
    with hard_timeout(60):
        store["after_loader"] = {"value": -1}
        assert store["after_loader"] == {"value": -1}
    assert _agents(fault_proxy) == {"object_store"}


def test_memory_store_in_forked_child() -> None:
    """memory:// does no network I/O: a forked child keeps using obstore and sees the parent's data."""
    store = AutoStore(f"memory://fork-{uuid.uuid4().hex[:8]}/")
    store["a"] = {"v": 1}
    assert store["a"] == {"v": 1}
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            signal.alarm(30)
            store["b"] = {"v": 2}
            code = 0 if (store["a"], store["b"]) == ({"v": 1}, {"v": 2}) else 3
        finally:
            os._exit(code)
    assert _wait_child(pid, 60) == 0
    assert store.keys() == ["a"]  # the child's write stayed in the child's memory


def test_fork_flag_is_set_only_in_forked_children(tmp_path: Any) -> None:
    import obstore  # noqa: F401 - the parent has obstore loaded, as every test process here

    from autostore.backends import forksafe

    assert forksafe.obstore_unsafe() is False
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.write(write_end, b"1" if forksafe.obstore_unsafe() else b"0")
        os._exit(0)
    os.close(write_end)
    assert _wait_child(pid, 30) == 0
    with os.fdopen(read_end, "rb") as f:
        assert f.read() == b"1"
    assert forksafe.obstore_unsafe() is False
