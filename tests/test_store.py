"""The dict API of AutoStore, on a local folder and on S3 (same test bodies)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from autostore import AmbiguousKey, AutoStore, FormatError, InvalidKey, NotFound
from conftest import Raw


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


def test_seed_basic_usage(store: AutoStore, raw: Raw) -> None:
    df = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    store["my_dataframe"] = df
    store["config"] = {"key": "value"}
    store["logs"] = [{"event": "start"}]
    assert raw.keys() == ["config.json", "logs.jsonl", "my_dataframe.parquet"]
    assert json.loads(raw.read("config.json")) == {"key": "value"}
    assert raw.read("logs.jsonl") == b'{"event": "start"}\n'
    assert raw.read("my_dataframe.parquet")[:4] == b"PAR1"
    got = store["my_dataframe"]
    assert isinstance(got, pl.DataFrame)
    assert_frame_equal(got, df)
    assert store["config"] == {"key": "value"}
    assert store["logs"] == [{"event": "start"}]


def test_types_choose_extensions(store: AutoStore, raw: Raw) -> None:
    store["text"] = "héllo\nworld"
    store["plain_list"] = [1, 2, 3]
    store["obj"] = Point(1, 2)
    store["lazy"] = pl.LazyFrame({"v": [1.5]})
    assert raw.keys() == ["lazy.parquet", "obj.pkl", "plain_list.json", "text.txt"]
    assert raw.read("text.txt") == "héllo\nworld".encode()
    assert pickle.loads(raw.read("obj.pkl")) == Point(1, 2)
    assert store["text"] == "héllo\nworld"
    assert store["plain_list"] == [1, 2, 3]
    assert store["obj"] == Point(1, 2)
    assert_frame_equal(store["lazy"], pl.DataFrame({"v": [1.5]}))


def test_explicit_extension_and_nested_keys(store: AutoStore, raw: Raw) -> None:
    store["exp/run1/metrics.json"] = {"acc": 0.9}
    store["exp/run1/table.csv"] = pl.DataFrame({"a": [1, 2]})
    assert raw.keys() == ["exp/run1/metrics.json", "exp/run1/table.csv"]
    assert raw.read("exp/run1/table.csv").decode().splitlines() == ["a", "1", "2"]
    assert store["exp/run1/metrics"] == {"acc": 0.9}
    assert store["exp/run1/metrics.json"] == {"acc": 0.9}
    assert store.keys() == ["exp/run1/metrics", "exp/run1/table"]
    assert sorted(store) == ["exp/run1/metrics", "exp/run1/table"]
    assert len(store) == 2


def test_contains_delete_and_missing(store: AutoStore, raw: Raw) -> None:
    store["config"] = {"a": 1}
    assert "config" in store
    assert "config.json" in store
    assert "config.parquet" not in store
    assert "other" not in store
    del store["config"]
    assert "config" not in store
    assert raw.keys() == []
    with pytest.raises(NotFound) as info:
        store["config"]
    assert isinstance(info.value, KeyError) and isinstance(info.value, FileNotFoundError)
    assert "config" in str(info.value) and store.uri.rstrip("/") in str(info.value)
    with pytest.raises(KeyError):
        del store["config"]
    assert store.get("config", 42) == 42


def test_ambiguous_key_lists_candidates(store: AutoStore, raw: Raw) -> None:
    raw.write("a.json", b"{}")
    raw.write("a.parquet", b"PAR1")
    with pytest.raises(AmbiguousKey) as info:
        store["a"]
    assert "a.json" in str(info.value) and "a.parquet" in str(info.value)
    assert sorted(c.rpartition("/")[2] for c in info.value.candidates) == ["a.json", "a.parquet"]
    assert store["a.json"] == {}


def test_overwrite_with_other_type_replaces_old_file(store: AutoStore, raw: Raw) -> None:
    store["x"] = {"a": 1}
    store["x"] = "now text"
    assert raw.keys() == ["x.txt"]
    assert store["x"] == "now text"
    fresh = AutoStore(store.uri, options=store.options)
    fresh["x"] = [{"r": 1}]
    assert raw.keys() == ["x.jsonl"]
    assert store["x"] == [{"r": 1}]


def test_dotted_key_without_known_extension(store: AutoStore, raw: Raw) -> None:
    store["model.v2"] = {"v": 2}
    store["a.b.json"] = {"n": 1}
    store["a_b"] = {"n": 2}
    assert raw.keys() == ["a.b.json", "a_b.json", "model.v2.json"]
    assert store["model.v2"] == {"v": 2}
    assert store["a.b"] == {"n": 1}
    assert store["a_b"] == {"n": 2}


def test_copy_move_metadata(store: AutoStore, raw: Raw) -> None:
    store["original"] = {"v": 1}
    store.copy("original", "backup")
    store.move("original", "permanent")
    assert raw.keys() == ["backup.json", "permanent.json"]
    assert store["backup"] == {"v": 1}
    assert store["permanent"] == {"v": 1}
    meta = store.get_metadata("permanent")
    assert meta.size == len(raw.read("permanent.json"))
    assert meta.etag
    assert meta.modified_time is not None
    with pytest.raises(NotFound):
        store.copy("nope", "x")


def test_write_error_leaves_nothing(store: AutoStore, raw: Raw) -> None:
    store["keep.txt"] = "old"
    with pytest.raises(FormatError):
        store["keep.txt"] = {"not": "text"}
    with pytest.raises(FormatError):
        store["frame.parquet"] = {"a": 1}
    with pytest.raises(FormatError):
        store["bad"] = {"x": object()}
    assert raw.keys() == ["keep.txt"]
    assert store["keep.txt"] == "old"


@pytest.mark.parametrize(
    "key",
    ["../escape", "a/../../b", "/etc/passwd", "~/x", "a\x00b", "a\nb", "", "a//b", "./", "x" * 2000],
)
def test_bad_keys_refused_everywhere(store: AutoStore, raw: Raw, key: str) -> None:
    store["safe"] = {"v": 1}
    with pytest.raises(InvalidKey) as info:
        store[key] = {"v": 2}
    assert str(info.value)
    with pytest.raises(InvalidKey):
        store[key]
    with pytest.raises(InvalidKey):
        key in store  # noqa: B015
    with pytest.raises(InvalidKey):
        del store[key]
    assert raw.keys() == ["safe.json"]


def test_unicode_keys_are_normalized(store: AutoStore, raw: Raw) -> None:
    decomposed = "cafe\u0301"
    store[decomposed] = {"v": 1}
    assert store["caf\u00e9"] == {"v": 1}
    assert raw.keys() == ["caf\u00e9.json"]


def test_list_files_glob(store: AutoStore) -> None:
    for name in ["weather/2024/january.parquet", "weather/2024/february.parquet", "weather/2023/x.parquet", "w.json"]:
        store[name] = pl.DataFrame({"a": [1]}) if name.endswith("parquet") else {"a": 1}
    assert sorted(store.list_files("weather/2024/*", recursive=True)) == [
        "weather/2024/february.parquet",
        "weather/2024/january.parquet",
    ]
    assert sorted(store.list_files("**/*.parquet")) == [
        "weather/2023/x.parquet",
        "weather/2024/february.parquet",
        "weather/2024/january.parquet",
    ]
    assert list(store.list_files("*.json", recursive=False)) == ["w.json"]
    assert sorted(store.list_files("weather/202[3]/?.parquet")) == ["weather/2023/x.parquet"]


def test_context_manager_removes_temp_files(store: AutoStore) -> None:
    with AutoStore(store.uri, options=store.options) as s:
        s["frame"] = pl.DataFrame({"a": [1]})
        assert s["frame"].height == 1
        tmp = s._tmp_dir
    assert tmp is None or not tmp.exists()


def test_items_values_update(store: AutoStore) -> None:
    store.update({"a": {"n": 1}, "b": "two"})
    assert dict(store.items()) == {"a": {"n": 1}, "b": "two"}
    assert list(store.values()) == [{"n": 1}, "two"]


def test_store_repr_and_uri(store: AutoStore) -> None:
    assert store.uri in repr(store)
    assert store.list_active_backends()[0] == f"primary: {store.uri}"
    assert "s3" in store.get_supported_backends() and "file" in store.get_supported_backends()


def test_keys_written_by_others_after_first_lookup(store: AutoStore, raw: Raw) -> None:
    store["first"] = {"n": 1}
    reader = AutoStore(store.uri, options=store.options)
    assert reader["first"] == {"n": 1}  # the reader has now indexed the folder
    raw.write("later.json", b'{"n": 2}')
    assert reader["later"] == {"n": 2}  # not in the snapshot: looked up on the server
    raw.write("first.txt", b"replaced")
    # the external writer removed first.json and wrote first.txt
    if store.uri.startswith("s3://"):
        raw.client.delete_object(Bucket=raw.bucket, Key=raw.prefix + "first.json")
    else:
        (raw.root / "first.json").unlink()
    assert reader["first"] == "replaced"  # the remembered file vanished: resolved again


def test_many_keys_in_one_folder_resolve(store: AutoStore) -> None:
    for i in range(30):
        store[f"k{i:02d}"] = {"i": i}
    reader = AutoStore(store.uri, options=store.options)
    assert [reader[f"k{i:02d}"]["i"] for i in range(30)] == list(range(30))
    assert reader.keys() == [f"k{i:02d}" for i in range(30)]


def test_contains_sees_deletes_by_another_store(store: AutoStore) -> None:
    store["gone"] = {"v": 1}
    assert "gone" in store
    other = AutoStore(store.uri, options=store.options)
    del other["gone"]
    assert "gone" not in store
    other["gone"] = "back as text"
    assert "gone" in store
    assert store["gone"] == "back as text"


@pytest.mark.parametrize("limit", [10, 64 * 1024 * 1024])
def test_remote_frames_in_memory_or_via_temp_file(
    s3_store: AutoStore, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    import autostore.codec as codec_module

    monkeypatch.setattr(codec_module, "IN_MEMORY_LIMIT", limit)
    df = pl.DataFrame({"a": list(range(1000)), "b": ["x"] * 1000})
    s3_store["frame"] = df
    s3_store["table.csv"] = df
    assert_frame_equal(s3_store["frame"], df)
    assert_frame_equal(s3_store["table"], df)
    tmp = s3_store._tmp_dir
    assert tmp is None or list(tmp.iterdir()) == []  # temporary downloads are removed
    reader = AutoStore(s3_store.uri, options=s3_store.options)  # a fresh store: no temp folder yet
    assert_frame_equal(reader["frame"], df)
    if limit == 10:
        assert reader._tmp_dir is not None and list(reader._tmp_dir.iterdir()) == []
    else:
        assert reader._tmp_dir is None  # read in memory: no temporary folder was made for it

        def no_file() -> Path:
            raise AssertionError("a small object needs no file")

        data = reader.primary_backend.fetch("frame.parquet", no_file, limit=limit)  # store-relative key
        assert data is not None and pl.read_parquet(data).equals(df)


def test_store_pickles_for_other_processes(store: AutoStore) -> None:
    import pickle

    store["shared"] = {"v": 1}
    clone = pickle.loads(pickle.dumps(store))
    assert clone is not store and clone.uri == store.uri
    assert clone["shared"] == {"v": 1}
    clone["from_clone"] = "hi"
    assert store["from_clone"] == "hi"


def test_explicit_write_beside_remembered_key_is_ambiguous(store: AutoStore) -> None:
    store["a"] = {"v": 1}
    assert store["a"] == {"v": 1}
    store["a.txt"] = "t"
    with pytest.raises(AmbiguousKey):
        store["a"]
    assert store["a.txt"] == "t"


def test_folder_key_in_store_with_or_without_slash(store: AutoStore) -> None:
    store["weather/2024/january.parquet"] = pl.DataFrame({"t": [1.0]})
    assert "weather/2024/" in store
    assert "weather/2024" in store
    assert "weather/2025" not in store
    assert "weather/2024/january" in store


def test_backend_list_keys_are_the_keys_of_list_objects(store: AutoStore) -> None:
    store["a"] = {"v": 1}
    store["sub/b.txt"] = "b"
    store["sub/deeper/c.txt"] = "c"
    backend = store.primary_backend  # keys relative to the store, as in 0.1.x
    keys = list(backend.list_keys(""))
    assert keys == [m.key for m in backend.list_objects("")]
    assert keys == ["a.json", "sub/b.txt", "sub/deeper/c.txt"]
    assert list(backend.list_keys("sub/")) == ["sub/b.txt", "sub/deeper/c.txt"]
