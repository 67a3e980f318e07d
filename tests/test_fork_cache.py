"""Issue 13, point 4: fork + cache. Children forked after the parent used an S3 store with
``cache_enabled=True`` (os.fork, multiprocessing "fork", torch DataLoader workers) read and write
through the shared cache: they hit the parent's entries without a request, their writes reach
the server and the cache, and the parent then reads the children's values.

Every wait is bounded; children report through pipes/queues, the proxy log says who talked.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from autostore import AutoStore, S3Options
from autostore.testing import S3Server
from faultproxy import FaultProxy
from workers import KeysDataset, cached_forked_worker, drain


def _wait_child(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"child {pid} hung for {timeout}s and was killed")


def _cached_store(server: S3Server, bucket: str, proxy: FaultProxy, cache_dir: Path) -> AutoStore:
    kwargs: dict[str, Any] = dict(server.options_kwargs())
    kwargs.update(endpoint_url=proxy.endpoint_url, cache_enabled=True, cache_dir=str(cache_dir))
    kwargs["cache_expiry_hours"] = 0  # entries never expire: a hit must make no request at all
    return AutoStore(f"s3://{bucket}/forkcache-{uuid.uuid4().hex[:8]}/", options=S3Options(**kwargs))


def _requests(proxy: FaultProxy) -> list[tuple[str, str]]:
    """(method, path) of every request the proxy forwarded since its last reset."""
    return [(entry[1], entry[2].split("?")[0]) for entry in proxy.log]


def _agents(proxy: FaultProxy) -> set[str]:
    return {entry[4].split("/")[0] for entry in proxy.log}


def test_os_fork_child_reads_and_writes_through_the_cache(
    s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    store = _cached_store(s3_server, shared_bucket, fault_proxy, tmp_path / "cache")
    store["cached.json"] = {"value": 1}
    assert store["cached.json"] == {"value": 1}  # confirmed: the entry is trusted from now on
    assert store.cache_info().entries == 1
    fault_proxy.reset()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            signal.alarm(60)
            os.close(read_end)
            hit = store["cached.json"]
            store["child.json"] = {"from": "child"}
            store["cached.json"] = {"value": 2}  # an overwrite: the shared entry must follow
            report = {
                "hit": hit,
                "child": store["child.json"],
                "cached": store["cached.json"],
                "info": [store.cache_info().hits, store.cache_info().entries],
            }
            os.write(write_end, json.dumps(report).encode())
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
    assert report["hit"] == {"value": 1}
    # The hit was served from the parent's entry: the child's first request is its first write.
    assert _requests(fault_proxy)[0] == ("PUT", f"/{shared_bucket}/{store._prefix}child.json")
    assert report["child"] == {"from": "child"}
    assert report["cached"] == {"value": 2}
    assert report["info"][1] == 2  # both keys have entries in the shared cache
    assert _agents(fault_proxy) == {"Boto3"}  # the child never spoke obstore
    fault_proxy.reset()
    # The parent sees the child's writes through the same cache (never its own stale entry).
    assert store["cached.json"] == {"value": 2}
    assert store["child.json"] == {"from": "child"}
    assert _agents(fault_proxy) <= {"object_store"}
    store.close()


def test_multiprocessing_fork_children_use_the_cache(
    s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    store = _cached_store(s3_server, shared_bucket, fault_proxy, tmp_path / "cache")
    keys = [f"item{i}.json" for i in range(4)]
    for i, key in enumerate(keys):
        store[key] = {"value": i}
        assert store[key] == {"value": i}
    fault_proxy.reset()
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=cached_forked_worker, args=(store, keys, results)) for _ in range(2)]
    for p in procs:
        p.start()
    got = drain(results, 2, timeout=90)
    for p in procs:
        p.join(30)
        if p.is_alive():
            p.kill()
    assert len(got) == 2, got
    for r in got:
        assert "error" not in r, r
        assert r["values"] == {key: {"value": i} for i, key in enumerate(keys)}
        assert r["hits"] == len(keys)  # every read of a cached key was a hit
        assert r["own"] == {"pid": r["pid"]}
    assert all(p.exitcode == 0 for p in procs)
    # The only GETs were for the children's own new keys (write-through entries are confirmed
    # once); none for the keys the parent had cached.
    gets = [path for method, path in _requests(fault_proxy) if method == "GET" and "item" in path]
    assert gets == []
    assert _agents(fault_proxy) == {"Boto3"}
    for r in got:
        assert store[f"child-{r['pid']}.json"] == {"pid": r["pid"]}
    store.close()


def test_torch_dataloader_fork_workers_use_the_cache(
    s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    import torch  # the test extra installs it: fail, do not skip, without it
    from torch.utils.data import DataLoader

    store = _cached_store(s3_server, shared_bucket, fault_proxy, tmp_path / "cache")
    keys = [f"sample{i}" for i in range(8)]
    for i, key in enumerate(keys):
        store[key] = {"value": i * 10}
    for key in keys[:4]:
        assert store[key]["value"] >= 0  # half the keys are cached (and confirmed) in the parent
    fault_proxy.reset()
    loader = DataLoader(
        KeysDataset(store, keys), batch_size=4, num_workers=2, multiprocessing_context="fork", timeout=120
    )
    batches = list(loader)
    values = torch.cat([b["value"] for b in batches]).tolist()
    indices = torch.cat([b["index"] for b in batches]).tolist()
    assert sorted(zip(indices, values, strict=True)) == [(i, i * 10) for i in range(8)]
    gets = {path.rsplit("/", 1)[-1] for method, path in _requests(fault_proxy) if method == "GET"}
    assert gets <= {f"sample{i}.json" for i in range(4, 8)}  # the parent's entries were hits
    assert _agents(fault_proxy) <= {"Boto3"}
    # The workers filled the shared cache: the parent now reads every key without a GET.
    fault_proxy.reset()
    assert [store[key]["value"] for key in keys] == [i * 10 for i in range(8)]
    assert [m for m, _ in _requests(fault_proxy) if m == "GET"] == []
    store.close()


def test_fork_start_method_pool_reads_cached_keys(
    s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    """multiprocessing.Pool with the fork start method (Linux's default before 3.14)."""
    store = _cached_store(s3_server, shared_bucket, fault_proxy, tmp_path / "cache")
    store["shared.json"] = {"n": 7}
    assert store["shared.json"] == {"n": 7}
    fault_proxy.reset()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        out = pool.map_async(_read_shared, [store] * 4).get(timeout=90)
    assert out == [{"n": 7}] * 4
    assert [m for m, _ in _requests(fault_proxy) if m == "GET"] == []


def _read_shared(store: AutoStore) -> Any:
    return store["shared.json"]
