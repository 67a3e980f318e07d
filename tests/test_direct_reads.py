"""The direct read on an object store (autostore.hotpath.read_direct): after a folder is listed
once, ``store["k"]`` is one GET and a decode; values, errors and request counts are the general
path's. Against SeaweedFS behind the counting proxy."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from autostore import AmbiguousKey, AutoStore, CorruptData, NotFound, S3Options
from autostore.hotpath import MISS, read_direct
from autostore.testing import S3Server
from counting_proxy import CountingProxy


@pytest.fixture
def stores(s3_server: S3Server, shared_bucket: str, proxy: CountingProxy) -> Callable[..., AutoStore]:
    """Stores on one fresh prefix, talking to S3 through the counting proxy."""
    uri = f"s3://{shared_bucket}/direct-{uuid.uuid4().hex[:8]}/"

    def make(**changes: Any) -> AutoStore:
        return AutoStore(uri, options=S3Options(**{**s3_server.options_kwargs(), "endpoint_url": proxy.url, **changes}))

    return make


def requests(proxy: CountingProxy, action: Callable[[], object]) -> tuple[object, dict[str, int]]:
    """What ``action`` returned and the requests the server saw for it ("GET", "LIST", "HEAD")."""
    proxy.reset()
    value = action()
    return value, dict(Counter("LIST" if "list-type" in e.query else e.method for e in proxy.exchanges))


def test_after_one_listing_an_extensionless_read_is_one_get(
    stores: Callable[..., AutoStore], proxy: CountingProxy
) -> None:
    writer = stores()
    for i in range(3):
        writer[f"k{i}"] = {"i": i}
    writer["t"] = "text"
    reader = stores()
    assert read_direct(reader, "k0") is MISS  # the folder is not listed yet: the general path lists it
    value, seen = requests(proxy, lambda: reader["k0"])
    assert value == {"i": 0} and seen == {"LIST": 1, "GET": 1}
    value, seen = requests(proxy, lambda: read_direct(reader, "k1"))  # from the listing, no lookup
    assert value == {"i": 1} and seen == {"GET": 1}
    value, seen = requests(proxy, lambda: [reader["k2"], reader["t"], reader["k2.json"]])
    assert value == [{"i": 2}, "text", {"i": 2}] and seen == {"GET": 3}
    writer["k1"] = {"i": 10}  # another writer: the next read gets the new bytes
    assert read_direct(reader, "k1") == {"i": 10}


def test_a_key_with_its_extension_needs_no_listing(stores: Callable[..., AutoStore], proxy: CountingProxy) -> None:
    stores()["sub/n.json"] = [1, 2]
    value, seen = requests(proxy, lambda: read_direct(stores(), "sub/n.json"))
    assert value == [1, 2] and seen == {"GET": 1}


def test_cases_it_leaves_to_the_general_path(stores: Callable[..., AutoStore], proxy: CountingProxy) -> None:
    writer = stores()
    writer["both.json"], writer["both.txt"] = [1], "one"  # an ambiguous stem
    writer["obj.pkl"] = {1, 2}
    writer["a"] = [0]
    reader = stores()
    assert reader["a"] == [0]  # lists the folder
    for key in ("both", "obj.pkl", "obj", "./a", "dir/", "é.json", "missing"):
        answer, seen = requests(proxy, functools.partial(read_direct, reader, key))
        assert answer is MISS and seen == {}, key  # declined before any request
    with pytest.raises(AmbiguousKey):
        reader["both"]
    assert reader["obj.pkl"] == {1, 2}


def test_errors_are_the_general_paths_from_one_request(stores: Callable[..., AutoStore], proxy: CountingProxy) -> None:
    writer = stores()
    writer.core.primary.put_bytes(writer.core.prefix + "bad.json", b"{not json")
    reader = stores()
    with pytest.raises(CorruptData) as direct:
        requests(proxy, lambda: reader["bad.json"])
    assert len(proxy.exchanges) == 1  # no second GET to find the error again
    with pytest.raises(CorruptData) as general:
        reader.read("bad.json", format="json")  # format= takes the general path
    assert str(direct.value) == str(general.value)
    assert reader.uri + "bad.json" in str(direct.value) and "as .json" in str(direct.value)
    with pytest.raises(NotFound) as missing:
        requests(proxy, lambda: reader["nope.json"])
    assert "nope.json" in str(missing.value) and len(proxy.exchanges) == 1


def test_a_file_removed_after_the_listing_is_looked_up_again(
    stores: Callable[..., AutoStore], proxy: CountingProxy
) -> None:
    writer = stores()
    writer["k"], writer["other"] = {"v": 1}, 0
    reader = stores()
    assert reader["other"] == 0  # lists the folder: "k" is "k.json"
    writer.delete("k")
    writer["k.txt"] = "moved"  # behind the reader's back
    value, seen = requests(proxy, lambda: reader["k"])
    assert value == "moved" and seen == {"GET": 2, "LIST": 1}  # the 404, one listing, the new file
    writer.delete("k")
    with pytest.raises(NotFound):
        reader["k"]
    assert read_direct(reader, "k") is MISS  # nothing left to remember


def test_with_the_cache_on_it_reads_through_the_cache(
    stores: Callable[..., AutoStore], proxy: CountingProxy, tmp_path: Path
) -> None:
    import polars as pl

    df = pl.DataFrame({"id": list(range(1000)), "x": [i / 3 for i in range(1000)]})
    writer = stores()
    writer["frame"], writer["small"] = df, {"v": 1}
    cached = stores(cache_enabled=True, cache_dir=str(tmp_path / "cache"), cache_expiry_hours=0)
    assert cached["frame"].equals(df)  # the general path: lists the folder, fills the entry
    value, seen = requests(proxy, lambda: read_direct(cached, "small.json"))
    assert value == {"v": 1} and seen == {"GET": 1}  # a miss fills the entry
    before = cached.stats()
    for key in ("small", "small.json", "frame", "frame.parquet"):
        value, seen = requests(proxy, functools.partial(read_direct, cached, key))
        assert seen == {}, key  # hits: no request
        assert value == {"v": 1} if key.startswith("small") else value.equals(df), key
    after = cached.stats()
    assert after.cache_hits - before.cache_hits == 4 and after.cache_misses == before.cache_misses
    assert sorted(p.name for p in (tmp_path / "cache" / "tmp").iterdir()) == []  # the hard links are gone
    writer["small"] = {"v": 2}  # another writer: the entry is revalidated by the general rules
    assert cached.read("small", ignore_cache=True) == {"v": 2}  # ignore_cache takes the general path
    assert read_direct(cached, "small") == {"v": 2}


def test_a_cache_hit_reads_the_entry_in_place_and_reads_again_when_it_vanishes_first(
    stores: Callable[..., AutoStore], proxy: CountingProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import polars as pl

    from autostore.formats.parquet import ParquetHandler

    df = pl.DataFrame({"id": list(range(1000)), "x": [i / 3 for i in range(1000)]})
    stores()["frame"] = df
    cache_dir = tmp_path / "cache"
    cached = stores(cache_enabled=True, cache_dir=str(cache_dir), cache_expiry_hours=0)
    assert cached["frame"].equals(df)  # fills the entry
    read_from_file = ParquetHandler.read_from_file
    sources: list[Path] = []

    def evicted_first(self: ParquetHandler, file_path: Path, ext: str) -> Any:
        sources.append(Path(file_path))
        if len(sources) == 1:
            Path(file_path).unlink()  # evicted (or replaced) by another process before it is opened
        return read_from_file(self, file_path, ext)

    monkeypatch.setattr(ParquetHandler, "read_from_file", evicted_first)
    value, seen = requests(proxy, lambda: cached["frame"])
    assert value.equals(df) and seen == {"GET": 1}  # read again: the entry is filled anew
    assert sources[0].parent.parent == cache_dir / "objects"  # the entry's own file, no hard link
    value, seen = requests(proxy, lambda: cached["frame"])
    assert value.equals(df) and seen == {}  # the new entry serves the next hit
    assert sources[-1].parent.parent == cache_dir / "objects" and sources[-1].exists()
    assert list((cache_dir / "tmp").iterdir()) == []


@pytest.mark.filterwarnings("error::RuntimeWarning")  # "cache directory ... failed" would be raised
def test_an_entry_evicted_while_a_hit_checks_it_is_fetched_again(
    stores: Callable[..., AutoStore], proxy: CountingProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import polars as pl

    import autostore.cacheentries as entries

    df = pl.DataFrame({"id": list(range(1000))})  # under 1 MiB: a hit checks the entry's SHA-256
    stores()["frame"] = df
    cached = stores(cache_enabled=True, cache_dir=str(tmp_path / "cache"), cache_expiry_hours=0)
    assert cached["frame"].equals(df)  # fills the entry
    file_sha256 = entries.file_sha256
    hashed: list[Path] = []

    def evicted_first(path: Path | str) -> str:
        hashed.append(Path(path))
        if len(hashed) == 1:
            Path(path).unlink()  # evicted by another process between the size check and the hash
        return file_sha256(path)

    monkeypatch.setattr(entries, "file_sha256", evicted_first)
    value, seen = requests(proxy, lambda: cached["frame"])
    assert value.equals(df) and seen == {"GET": 1}  # a miss like any other: fetched and cached again
    assert len(hashed) == 2 and hashed[0] != hashed[1]  # the new entry's file is checked in turn
    value, seen = requests(proxy, lambda: cached["frame"])
    assert value.equals(df) and seen == {}


def _versions(kind: str) -> tuple[list[Any], Callable[[AutoStore], Any], Callable[[Any], int]]:
    """25 values of one kind, how a reader reads the key, and which version a value is."""
    import numpy as np
    import polars as pl

    if kind == "parquet":  # a file format: the hit reads the entry's own file
        frames = [pl.DataFrame({"v": [i] * 2000, "x": [float(i)] * 2000}) for i in range(25)]
        return frames, lambda store: store["value"], lambda frame: int(frame["v"][0])
    if kind == "json":  # a bytes format: the hit reads the entry's bytes
        docs = [{"v": i, "pad": [i] * 500} for i in range(25)]
        return docs, lambda store: store["value"], lambda doc: int(doc["v"])
    arrays = [np.full(2000, i) for i in range(25)]  # mmap=True: the general path maps a hard link
    return arrays, lambda store: np.array(store.read("value", mmap=True)), lambda array: int(array[0])


@pytest.mark.filterwarnings("error::RuntimeWarning")  # e.g. "cache directory ... failed": raised in the readers
@pytest.mark.parametrize("kind", ["parquet", "json", "npy mmap"])
def test_cache_hits_beside_writes_and_clears_always_read_a_whole_written_version(
    stores: Callable[..., AutoStore], tmp_path: Path, kind: str
) -> None:
    import numpy as np

    versions, read, version_of = _versions(kind)

    def same(value: Any, expected: Any) -> bool:
        if isinstance(expected, np.ndarray):
            return bool(np.array_equal(value, expected))
        return bool(value.equals(expected)) if hasattr(expected, "equals") else bool(value == expected)

    cache = {"cache_enabled": True, "cache_dir": str(tmp_path / "cache"), "cache_expiry_hours": 0}
    writer, reader = stores(**cache), stores(**cache)  # two stores sharing one cache folder
    writer["value"] = versions[0]
    assert same(read(reader), versions[0])
    done = threading.Event()
    seen: list[int] = []
    failures: list[BaseException] = []

    def read_until_done() -> None:
        deadline = time.monotonic() + 60
        while not done.is_set() and time.monotonic() < deadline and len(seen) < 5000:
            try:
                value = read(reader)
                version = version_of(value)
            except BaseException as exc:  # recorded, asserted below
                failures.append(exc)
                return
            if not same(value, versions[version]):
                failures.append(AssertionError(f"a mix of versions: {value}"))
                return
            seen.append(version)

    threads = [threading.Thread(target=read_until_done) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i, value in enumerate(versions[1:], start=1):
            writer["value"] = value  # replaces the entry's file under a new name
            if i % 3 == 0:
                writer.clear_cache()  # evicts the entry the readers are hitting
            time.sleep(0.01)
    finally:
        done.set()
        for t in threads:
            t.join(90)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    assert len(seen) > 25 and len(set(seen)) > 1  # many reads, of more than one version
    assert same(read(reader), versions[-1])


def test_with_the_cache_on_errors_are_the_general_paths(
    stores: Callable[..., AutoStore], proxy: CountingProxy, tmp_path: Path
) -> None:
    writer = stores()
    writer.core.primary.put_bytes(writer.core.prefix + "bad.parquet", b"PAR1 not parquet PAR1")
    writer["gone"], writer["other"] = {"v": 1}, 0
    cached = stores(cache_enabled=True, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(CorruptData) as direct:
        requests(proxy, lambda: cached["bad.parquet"])
    assert len(proxy.exchanges) == 1  # the fill's GET; the decode failure asks nothing more
    with pytest.raises(CorruptData) as general:
        cached.read("bad.parquet", format="parquet")  # format= takes the general path
    assert str(direct.value) == str(general.value) and cached.uri + "bad.parquet" in str(direct.value)
    assert list((tmp_path / "cache" / "tmp").iterdir()) == []  # no link left behind by the failure
    with pytest.raises(NotFound) as missing:
        cached["nope.parquet"]
    assert "nope.parquet" in str(missing.value)
    assert cached["other"] == 0  # lists the folder: "gone" is "gone.json"
    writer.delete("gone")
    writer["gone.txt"] = "moved"  # behind the reader's back
    assert cached["gone"] == "moved"  # the cache's 404 sends it to the general path, which lists again
