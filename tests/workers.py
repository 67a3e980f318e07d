"""Functions and classes that run in child processes (spawned children import them by name)."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
from typing import Any

from autostore import AutoStore, NotFound


def spawn_worker(store: AutoStore, worker: int, rounds: int, results: Any) -> None:
    """Write own keys and overlapping shared keys, read both back; report what was seen."""
    signal.alarm(120)
    seen_shared: list[dict[str, Any]] = []
    for i in range(rounds):
        store[f"w{worker}/k{i}"] = {"worker": worker, "i": i}
        store[f"shared/s{i % 3}"] = {"worker": worker, "i": i}
    own_ok = all(store[f"w{worker}/k{i}"] == {"worker": worker, "i": i} for i in range(rounds))
    for j in range(3):
        with contextlib.suppress(NotFound):  # every worker writes all three, but be safe
            seen_shared.append(store[f"shared/s{j}"])
    results.put({"worker": worker, "pid": os.getpid(), "own_ok": own_ok, "shared": seen_shared})


def forked_reader(store: AutoStore, keys: list[str], results: Any) -> None:
    """multiprocessing 'fork' target: read, write and list through a store the parent used."""
    signal.alarm(60)  # a hang kills this child instead of the test run
    try:
        values = {key: store[key] for key in keys}
        mine = f"child-{os.getpid()}"
        store[mine] = {"pid": os.getpid()}
        results.put({"pid": os.getpid(), "values": values, "own": store[mine], "keys": store.keys()})
    except BaseException as exc:
        results.put({"pid": os.getpid(), "error": repr(exc)})
        raise


def drain(results: Any, count: int, timeout: float) -> list[dict[str, Any]]:
    out = []
    for _ in range(count):
        try:
            out.append(results.get(timeout=timeout))
        except queue.Empty:
            break
    return out


class KeysDataset:
    """A map-style dataset (what torch's DataLoader needs) reading one key per item."""

    def __init__(self, store: AutoStore, keys: list[str]) -> None:
        self.store = store
        self.keys = keys

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> dict[str, Any]:
        value = self.store[self.keys[index]]
        return {"index": index, "value": value["value"], "pid": os.getpid()}


def cached_forked_worker(store: AutoStore, keys: list[str], results: Any) -> None:
    """multiprocessing 'fork' target: read keys the parent cached, write one of its own."""
    signal.alarm(60)
    try:
        before = store.cache_info().hits  # counters come from the parent
        values = {key: store[key] for key in keys}
        hits = store.cache_info().hits - before
        mine = f"child-{os.getpid()}.json"
        store[mine] = {"pid": os.getpid()}
        results.put({"pid": os.getpid(), "values": values, "hits": hits, "own": store[mine]})
    except BaseException as exc:
        results.put({"pid": os.getpid(), "error": repr(exc)})
        raise
