"""Issue 13, point 14: nothing a store or path makes grows without bound or outlives it.

- a store's temporary folder goes when the store is garbage collected or the interpreter exits,
  without ``close()`` (and a forked child exiting never removes its parent's);
- the default stores behind ``AutoPath("scheme://...")`` are bounded in number and closed at exit;
- the key index of a store keeps a bounded number of resolved keys;
- ``read(folder, cache=True)`` reuses one local mirror per version of a dataset, and keeps at most
  ``MAX_MIRRORS`` of them.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import polars as pl
from polars.testing import assert_frame_equal

import autostore
from autostore import AutoPath, AutoStore, S3Options
from autostore import datasets as datasets_module
from autostore import keyindex as keyindex_module
from autostore import path as path_module
from autostore.backends.local import LocalBackend
from autostore.keyindex import KeyIndex
from autostore.testing import S3Server
from conftest import Raw

SRC = str(Path(autostore.__file__).resolve().parent.parent)


def _python(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=SRC)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


# -- the temporary folder of a store ------------------------------------------------------------
def test_temp_dir_of_a_dropped_store_is_removed(tmp_path: Path) -> None:
    store = AutoStore(tmp_path / "data")
    store["frame.parquet"] = pl.DataFrame({"a": [1, 2]})  # a file-based format uses the temp folder
    tmp = store._tmp_dir
    assert tmp is not None and tmp.is_dir()
    del store
    gc.collect()
    assert not tmp.exists()


def test_temp_dir_is_removed_at_exit_without_close(tmp_path: Path) -> None:
    out = _python(
        f"""
import polars as pl
from autostore import AutoStore
store = AutoStore({str(tmp_path / "data")!r})
store["frame.parquet"] = pl.DataFrame({{"a": [1]}})
print(store._tmp_dir)
"""
    )
    tmp = Path(out.strip())
    assert tmp.name.startswith("autostore-") and not tmp.exists()


def test_a_forked_child_never_removes_its_parents_temp_dir(tmp_path: Path) -> None:
    store = AutoStore(tmp_path / "data")
    store["frame.parquet"] = pl.DataFrame({"a": [1]})
    tmp = store._tmp_dir
    assert tmp is not None
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        signal.alarm(30)
        code = 1
        try:
            del store
            gc.collect()  # the child's copy of the store is collected: its finalizer runs here
            code = 0
        finally:
            os._exit(code)  # (atexit would run the same finalizer; pytest must not go on here)
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0):
        assert time.monotonic() < deadline, "child hung"
        time.sleep(0.02)
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert tmp.is_dir()  # still the parent's
    store.close()
    assert not tmp.exists()
    store["again.parquet"] = pl.DataFrame({"a": [2]})  # usable after close(): a new folder
    assert store._tmp_dir is not None and store._tmp_dir != tmp and store._tmp_dir.is_dir()
    again = store._tmp_dir
    del store
    gc.collect()
    assert not again.exists()


# -- AutoPath's default stores --------------------------------------------------------------------
def test_default_stores_are_bounded() -> None:
    limit = path_module.MAX_DEFAULT_STORES
    paths = [AutoPath(f"memory://leak-{uuid.uuid4().hex[:8]}-{i}/x.json") for i in range(limit + 20)]
    assert len(path_module._DEFAULT_STORES) <= limit
    # A path whose store was evicted from the registry keeps working with its own store.
    paths[0].write_text('{"a": 1}')
    assert paths[0].read_text() == '{"a": 1}'
    assert AutoPath(str(paths[-1])).store is paths[-1].store  # recent ones are shared


def test_default_stores_are_closed_at_exit() -> None:
    out = _python(
        """
import polars as pl
from autostore import AutoPath
p = AutoPath("memory://exit-test/frame.parquet")
p.save(pl.DataFrame({"a": [1]}))
print(p.store._tmp_dir)
"""
    )
    tmp = Path(out.strip())
    assert tmp.name.startswith("autostore-") and not tmp.exists()


# -- the key index ----------------------------------------------------------------------------------
def test_key_index_keeps_a_bounded_number_of_resolved_keys(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    index = KeyIndex(lambda name: ".json" if name.endswith(".json") else None)
    for i in range(keyindex_module.MAX_KEYS + 500):
        index.resolved(backend, f"k{i}", f"k{i}.json")
    assert len(index._exact) == keyindex_module.MAX_KEYS
    assert index.remembered(backend, f"k{keyindex_module.MAX_KEYS + 499}") == f"k{keyindex_module.MAX_KEYS + 499}.json"
    assert index.remembered(backend, "k0") is None  # the oldest went first


def test_store_resolution_still_correct_beyond_the_bound(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(keyindex_module, "MAX_KEYS", 10)
    store = AutoStore(tmp_path / "data")
    for i in range(40):
        store[f"k{i}"] = {"i": i}
    assert [store[f"k{i}"]["i"] for i in range(40)] == list(range(40))
    assert len(store._index._exact) <= 10
    store.close()


# -- dataset mirrors ----------------------------------------------------------------------------------
def _mirrors(store: AutoStore) -> list[Path]:
    tmp = store._tmp_dir
    return [] if tmp is None else sorted(p for p in tmp.iterdir() if p.name.startswith("mirror-"))


def test_cache_true_reads_reuse_one_mirror_per_version(
    s3_server: S3Server, shared_bucket: str, tmp_path: Path
) -> None:
    kwargs: dict[str, Any] = dict(s3_server.options_kwargs(), cache_enabled=True, cache_dir=str(tmp_path / "cache"))
    store = AutoStore(f"s3://{shared_bucket}/mirror-{uuid.uuid4().hex[:8]}/", options=S3Options(**kwargs))
    raw = Raw(store, s3_server)
    df = pl.DataFrame({"k": ["a", "b"], "v": [1, 2]})
    store.write("ds/", df, partition_by="k")
    frames = [store.read("ds/", cache=True) for _ in range(10)]
    assert len(_mirrors(store)) == 1
    for lf in frames:
        assert_frame_equal(lf.collect().sort("v"), df.select("v", "k"))
    # Every change is a new version of the dataset: a new mirror, at most MAX_MIRRORS in all.
    (part,) = [k for k in raw.keys() if k.startswith("ds/k=a/")]  # noqa: SIM118 - Raw is not a dict
    for i in range(datasets_module.MAX_MIRRORS + 4):
        raw.write(part, _parquet(pl.DataFrame({"v": [100 + i]})))
        latest = store.read("ds/", cache=True, ignore_cache=True)
        assert sorted(latest.collect()["v"].to_list()) == [2, 100 + i]
    assert len(_mirrors(store)) == datasets_module.MAX_MIRRORS
    store.close()
    assert store._tmp_dir is None


def test_memory_dataset_reads_reuse_one_mirror() -> None:
    with AutoStore(f"memory://mirror-{uuid.uuid4().hex[:8]}/") as store:
        store.write("m/", pl.DataFrame({"k": ["x", "y"], "v": [1, 2]}), partition_by="k")
        for _ in range(10):
            assert sorted(store["m/"].collect()["v"].to_list()) == [1, 2]
        assert len(_mirrors(store)) == 1
        store.write("m/", pl.DataFrame({"k": ["x"], "v": [3]}), partition_by="k")
        assert store["m/"].collect()["v"].to_list() == [3]
        assert len(_mirrors(store)) == 2


def _parquet(df: pl.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    df.write_parquet(buf)
    return buf.getvalue()

