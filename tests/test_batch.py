"""get_many / put_many and their async forms, on local disk and S3."""

from __future__ import annotations

import asyncio
import json

import pytest

from autostore import AutoStore, BatchError, InvalidKey, NotFound
from conftest import Raw


def test_put_many_get_many_keep_order(store: AutoStore, raw: Raw) -> None:
    values = {f"batch/k{i:03d}": {"i": i} for i in range(60)}
    stored = store.put_many(values, max_concurrency=8)
    assert stored == [f"batch/k{i:03d}.json" for i in range(60)]
    assert raw.keys() == sorted(stored)
    assert json.loads(raw.read("batch/k007.json")) == {"i": 7}
    keys = list(reversed(list(values)))
    assert store.get_many(keys) == [values[k] for k in keys]
    fresh = AutoStore(store.uri, options=store.options)
    assert fresh.get_many(keys, max_concurrency=16) == [values[k] for k in keys]


def test_batch_error_names_every_failed_key(store: AutoStore) -> None:
    store.put_many([("a", {"v": 1}), ("b", "text")])
    with pytest.raises(BatchError) as info:
        store.get_many(["a", "missing1", "b", "missing2"])
    assert set(info.value.errors) == {"missing1", "missing2"}
    assert all(isinstance(e, NotFound) for e in info.value.errors.values())
    assert "missing1" in str(info.value) and "missing2" in str(info.value)
    with pytest.raises(BatchError) as info:
        store.put_many({"ok": 1, "../bad": 2})
    assert list(info.value.errors) == ["../bad"]
    assert isinstance(info.value.errors["../bad"], InvalidKey)
    assert store["ok"] == 1


def test_async_forms(store: AutoStore) -> None:
    async def main() -> tuple[object, ...]:
        await store.aput("x", {"a": 1})
        stored = await store.aput_many({"y": [1, 2], "z": "zz"})
        return await store.aget("x"), stored, await store.aget_many(["x", "y", "z"])

    one, stored, many = asyncio.run(main())
    assert one == {"a": 1}
    assert stored == ["y.json", "z.txt"]
    assert many == [{"a": 1}, [1, 2], "zz"]


def test_empty_batches(store: AutoStore) -> None:
    assert store.get_many([]) == []
    assert store.put_many({}) == []
