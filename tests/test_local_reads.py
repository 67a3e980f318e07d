"""The fast local read (autostore.hotpath + LocalBackend.get_bytes on files in the root) gives
exactly what the general path gives: values, errors, symlink rules, fresh content."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from autostore import AutoStore, CorruptData, InvalidKey, NotFound
from autostore.backends.local import LocalBackend
from autostore.hotpath import MISS, read_direct


def test_values_and_fresh_content(tmp_path: Path) -> None:
    store = AutoStore(tmp_path)
    store["k00001"] = {"v": 1}
    assert read_direct(store, "k00001.json") == {"v": 1}  # served by the fast path
    assert read_direct(store, "k00001") == {"v": 1}  # an extensionless key this store resolved
    (tmp_path / "k00001.json").write_text(json.dumps({"v": 2}))  # another writer
    assert store["k00001.json"] == {"v": 2} and store["k00001"] == {"v": 2}
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "n.json").write_text("[1]")
    assert store["sub/n.json"] == [1]


def test_cases_it_leaves_to_the_general_path(tmp_path: Path) -> None:
    store = AutoStore(tmp_path)
    (tmp_path / "bare").write_text('{"a": 1}')  # a 0.1.x file: read by its content
    (tmp_path / "t.pkl").write_bytes(b"\x80\x04K\x01.")
    for key in ("bare", "t.pkl", "./bare", "dir/", "~x.json", "é.json"):
        assert read_direct(store, key) is MISS
    assert store["bare"] == {"a": 1} and store["t.pkl"] == 1


def test_errors_are_the_general_paths(tmp_path: Path) -> None:
    store = AutoStore(tmp_path)
    with pytest.raises(NotFound) as missing:
        store["nope.json"]
    assert "nope" in str(missing.value)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CorruptData) as corrupt:
        store["bad.json"]
    assert str(tmp_path / "bad.json") in str(corrupt.value)
    (tmp_path / "d.json").mkdir()
    with pytest.raises(NotFound):
        store["d.json"]
    store["gone"] = [1]
    os.unlink(tmp_path / "gone.json")  # remembered, then removed behind the store's back
    with pytest.raises(NotFound):
        store["gone"]


def test_symlinks_in_the_root_follow_the_store_rules(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir(), outside.mkdir()
    (root / "real.json").write_text("[1]")
    (outside / "secret.json").write_text('"secret"')
    (root / "inside.json").symlink_to(root / "real.json")
    (root / "escape.json").symlink_to(outside / "secret.json")
    store = AutoStore(root)
    assert store["inside.json"] == [1]
    with pytest.raises(InvalidKey, match="outside"):
        store["escape.json"]
    with pytest.raises(InvalidKey):
        LocalBackend(root).get_bytes("escape.json")


def test_files_whose_size_is_not_their_length_are_read_to_the_end() -> None:
    """/proc files report size 0: the read goes on until the end of the file."""
    expected = Path("/proc/self/cmdline").read_bytes()
    assert expected and LocalBackend("/proc/self").get_bytes("cmdline") == expected


def test_formats_read_from_a_file_are_read_in_place(tmp_path: Path) -> None:
    import polars as pl

    store = AutoStore(tmp_path / "root")
    df = pl.DataFrame({"a": [1, 2, 3]})
    store["frame"] = df
    assert read_direct(store, "frame.parquet").equals(df)  # served by the fast path
    assert read_direct(store, "frame").equals(df)
    pl.DataFrame({"a": [9]}).write_parquet(tmp_path / "root" / "frame.parquet")  # another writer
    assert store["frame"].equals(pl.DataFrame({"a": [9]}))
    (tmp_path / "root" / "d.parquet").mkdir()  # a folder with a file's name: the general path's
    df.write_parquet(tmp_path / "root" / "d.parquet" / "part-0.parquet")
    assert read_direct(store, "d.parquet") is MISS
    (tmp_path / "root" / "bad.parquet").write_bytes(b"PAR1 not parquet PAR1")
    with pytest.raises(CorruptData) as direct:
        read_direct(store, "bad.parquet")  # read once, the error worded as the general path words it
    with pytest.raises(CorruptData) as general:
        store.read("bad.parquet", format="parquet")  # format= takes the general path
    assert str(direct.value) == str(general.value) and str(tmp_path / "root" / "bad.parquet") in str(direct.value)
    df.write_parquet(tmp_path / "outside.parquet")
    (tmp_path / "root" / "sub").mkdir()
    (tmp_path / "root" / "sub" / "escape.parquet").symlink_to(tmp_path / "outside.parquet")
    assert read_direct(store, "sub/escape.parquet") is MISS
    with pytest.raises(InvalidKey, match="outside"):
        store["sub/escape.parquet"]
