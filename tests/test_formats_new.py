"""safetensors, Arrow IPC, compressed files, Excel and memory-mapped reads (issue 19), on a local
folder and on S3: values read back, the bytes really stored (checked with each format's own
library, without autostore), files written by those libraries read by autostore, bad files."""

from __future__ import annotations

import bz2
import datetime
import gzip
import io
import json
import lzma
import os
import pickle
import subprocess
import sys
import textwrap
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import polars as pl
import pyarrow as pa
import pyarrow.ipc
import pytest
import safetensors.numpy
import safetensors.torch
import torch
import zstandard
from polars.testing import assert_frame_equal

from autostore import (
    AutoPath,
    AutoStore,
    ConfigError,
    CorruptData,
    FormatError,
    NotFound,
    S3Options,
    UnsafeLoad,
)
from conftest import Raw
from helpers import named_part, plain_part_names

CODECS: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
    # suffix: (compress as the tools do, decompress)
    "gz": (gzip.compress, gzip.decompress),
    "bz2": (bz2.compress, bz2.decompress),
    "xz": (lzma.compress, lzma.decompress),
    "zst": (
        lambda b: zstandard.ZstdCompressor().compress(b),
        lambda b: zstandard.ZstdDecompressor().stream_reader(io.BytesIO(b), read_across_frames=True).read(),
    ),
}
CODEC_NAMES = {"gz": "gzip", "bz2": "bz2", "xz": "xz", "zst": "zstd"}


def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [1, 2, 3],
            "x": [0.5, None, -2.25],
            "name": ["a", "bé", None],
            "day": [datetime.date(2024, 1, 31), datetime.date(2000, 2, 29), None],
        }
    )


@pytest.fixture
def cached(s3_options: S3Options, shared_bucket: str, tmp_path: Path) -> Iterator[AutoStore]:
    """An S3 store with the download cache on."""
    opts = s3_options.replace(cache_enabled=True, cache_dir=str(tmp_path / "cache"))
    with AutoStore(f"s3://{shared_bucket}/{uuid.uuid4().hex[:10]}/", options=opts) as store:
        yield store


def mapped_paths() -> list[str]:
    """Files this process has memory-mapped (Linux /proc/self/maps)."""
    out = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith("/"):
            out.append(parts[5])
    return out


def safetensors_metadata(data: bytes) -> dict[str, str]:
    (length,) = np.frombuffer(data[:8], dtype="<u8")
    return json.loads(data[8 : 8 + int(length)]).get("__metadata__", {})  # type: ignore[no-any-return]


# -- 1. safetensors --------------------------------------------------------------------------------
def test_safetensors_torch_state_dict_round_trip(store: AutoStore, raw: Raw) -> None:
    state = {
        "layer.weight": torch.randn(3, 4),
        "layer.bias": torch.arange(4, dtype=torch.int64),
        "half": torch.ones(2, dtype=torch.bfloat16),
    }
    assert store.write("model.safetensors", state) == "model.safetensors"
    got = store["model"]
    assert set(got) == set(state)
    for k, v in state.items():
        assert isinstance(got[k], torch.Tensor) and got[k].dtype == v.dtype and torch.equal(got[k], v)
    data = raw.read("model.safetensors")
    assert safetensors_metadata(data) == {"format": "pt"}
    direct = safetensors.torch.load(data)  # the library reads our file without autostore
    assert all(torch.equal(direct[k], v) for k, v in state.items())


def test_safetensors_numpy_round_trip(store: AutoStore, raw: Raw) -> None:
    arrays = {"emb": np.random.default_rng(0).random((5, 3), dtype=np.float32), "ids": np.arange(5, dtype=np.int32)}
    store.write("emb", arrays, format="safetensors")
    assert raw.keys() == ["emb.safetensors"]
    got = store["emb"]
    assert set(got) == {"emb", "ids"}
    for k, v in arrays.items():
        assert type(got[k]) is np.ndarray and got[k].dtype == v.dtype
        np.testing.assert_array_equal(got[k], v)
    data = raw.read("emb.safetensors")
    assert safetensors_metadata(data) == {"format": "np"}
    direct = safetensors.numpy.load(data)
    np.testing.assert_array_equal(direct["emb"], arrays["emb"])


def test_safetensors_files_of_the_library_read_by_autostore(store: AutoStore, raw: Raw) -> None:
    raw.write("hub.safetensors", safetensors.torch.save({"w": torch.full((2,), 7.0)}, metadata={"format": "pt"}))
    raw.write("plain.safetensors", safetensors.numpy.save({"w": np.full((2,), 7, dtype=np.int16)}))
    hub = store["hub"]
    assert isinstance(hub["w"], torch.Tensor) and hub["w"].tolist() == [7.0, 7.0]
    plain = store["plain"]  # no metadata: numpy
    assert type(plain["w"]) is np.ndarray and plain["w"].dtype == np.int16 and plain["w"].tolist() == [7, 7]


def test_safetensors_not_chosen_by_type(local_store: AutoStore) -> None:
    assert local_store.write("m", {"w": torch.ones(1)}) == "m.pt"  # the seed's default stays


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"w": torch.ones(2), "epoch": 3}, "'epoch'"),
        ({"w": torch.ones(2), "opt": {"lr": torch.ones(1)}}, "'opt'"),
        ({"w": np.ones(2), "t": torch.ones(2)}, "'t'"),
        (torch.ones(2), "wrap a single tensor"),
    ],
)
def test_safetensors_refuses_what_it_cannot_hold(store: AutoStore, raw: Raw, value: Any, named: str) -> None:
    with pytest.raises(FormatError, match=r"\.pt") as info:
        store["m.safetensors"] = value
    assert named in str(info.value) and "m.safetensors" in str(info.value)
    assert raw.keys() == []


def test_safetensors_refuses_shared_storage(store: AutoStore, raw: Raw) -> None:
    shared = torch.zeros(4)
    with pytest.raises(FormatError, match="share memory") as info:
        store["tied.safetensors"] = {"embed": shared, "lm_head": shared}
    assert "embed" in str(info.value) and ".pt" in str(info.value)
    assert raw.keys() == []


def test_safetensors_loads_with_allow_pickle_false_and_pkl_gz_is_refused(tmp_path: Path) -> None:
    writer = AutoStore(tmp_path)
    writer["m.safetensors"] = {"w": torch.ones(2)}
    writer["n.safetensors"] = {"w": np.ones(2)}
    writer["obj.pkl.gz"] = {"any": object.__name__}
    careful = AutoStore(tmp_path, allow_pickle=False)
    assert careful["m"]["w"].tolist() == [1.0, 1.0]
    assert careful["n"]["w"].tolist() == [1.0, 1.0]
    with pytest.raises(UnsafeLoad, match=r"obj\.pkl\.gz"):
        careful["obj"]
    # and a .gz of a value that would be pickled implicitly is not written either
    with pytest.raises(FormatError, match="allow_pickle is off"):
        careful.write("thing", object(), compression="gzip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors", "n.safetensors", "obj.pkl.gz"]


@pytest.mark.parametrize("cut", ["garbage", "truncated", "header"])
def test_safetensors_corrupt_or_truncated(store: AutoStore, raw: Raw, cut: str) -> None:
    good = safetensors.torch.save({"w": torch.ones(100)}, metadata={"format": "pt"})
    bad = {"garbage": b"\x00not safetensors at all", "truncated": good[: len(good) - 10], "header": good[:20]}[cut]
    raw.write("w.safetensors", bad)
    with pytest.raises(CorruptData, match=r"w\.safetensors"):
        store["w"]


# -- 2. Arrow IPC / Feather -------------------------------------------------------------------------
@pytest.mark.parametrize("ext", [".arrow", ".feather", ".ipc"])
def test_ipc_round_trip(store: AutoStore, raw: Raw, ext: str) -> None:
    df = frame()
    assert store.write("t" + ext, df) == "t" + ext
    assert_frame_equal(store["t"], df)
    data = raw.read("t" + ext)
    assert data[:6] == b"ARROW1"
    table = pyarrow.ipc.open_file(pa.BufferReader(data)).read_all()  # pyarrow, without autostore
    assert table.column("id").to_pylist() == [1, 2, 3]
    assert table.column("day").to_pylist() == df["day"].to_list()
    assert_frame_equal(pl.read_ipc(io.BytesIO(data)), df)


def test_ipc_files_written_by_pyarrow_read(store: AutoStore, raw: Raw) -> None:
    table = pa.table({"a": pa.array([1, 2], pa.int32()), "s": pa.array(["x", None], pa.large_string())})
    for name, writer in (("file.arrow", pa.ipc.new_file), ("stream.ipc", pa.ipc.new_stream)):
        sink = pa.BufferOutputStream()
        with writer(sink, table.schema) as w:
            w.write_table(table)
        raw.write(name, sink.getvalue().to_pybytes())
        got = store[name]
        assert got.to_dict(as_series=False) == {"a": [1, 2], "s": ["x", None]}, name
        assert got.schema["a"] == pl.Int32


def test_ipc_lazyframe_written(store: AutoStore) -> None:
    store["lazy.arrow"] = frame().lazy()
    assert_frame_equal(store["lazy"], frame())


def test_ipc_local_read_is_memory_mapped(local_store: AutoStore) -> None:
    local_store["big.arrow"] = pl.DataFrame({"v": np.arange(100_000)})
    path = str(Path(local_store.uri) / "big.arrow")
    got = local_store.read("big", mmap=True)
    assert path in mapped_paths()
    assert got["v"].sum() == 100_000 * 99_999 // 2
    again = local_store["big"]  # the default read maps it as well
    assert_frame_equal(again, got)


def test_ipc_cache_hit_is_memory_mapped_and_outlives_the_entry(cached: AutoStore, tmp_path: Path) -> None:
    df = pl.DataFrame({"v": np.arange(50_000)})
    cached["c.arrow"] = df
    first = cached.read("c", mmap=True)  # the write left an unconfirmed entry: confirmed now
    second = cached.read("c", mmap=True)
    assert cached.cache_info().hits >= 1
    assert any(p.startswith(str(tmp_path / "cache")) for p in mapped_paths())
    assert cached.clear_cache() == 1  # entry gone while mapped: the frames stay valid
    assert_frame_equal(first, df)
    assert_frame_equal(second, df)


def test_ipc_mmap_without_cache_says_to_enable_it(s3_store: AutoStore) -> None:
    s3_store["t.arrow"] = frame()
    with pytest.raises(ConfigError, match=r"cache_enabled=True") as info:
        s3_store.read("t", mmap=True)
    assert "t.arrow" in str(info.value)
    assert_frame_equal(s3_store["t"], frame())  # without mmap=True it is read (copied)


def test_ipc_folder_is_a_dataset(store: AutoStore) -> None:
    parts = [pl.DataFrame({"id": [i * 10 + j for j in range(3)], "g": [i] * 3}) for i in range(3)]
    for i, part in enumerate(parts):
        store[f"ds/part-{i}.arrow"] = part
    lf = store["ds/"]
    assert isinstance(lf, pl.LazyFrame)
    assert_frame_equal(lf.collect().sort("id"), pl.concat(parts))
    assert lf.filter(pl.col("g") == 2).select("id").collect()["id"].to_list() == [20, 21, 22]


def test_ipc_partitioned_dataset_write(store: AutoStore, raw: Raw) -> None:
    df = pl.DataFrame({"id": [1, 2, 3, 4], "year": [2023, 2024, 2023, 2024]})
    store.write("sales/", df, partition_by="year", format="ipc")
    assert plain_part_names(raw.keys()) == ["sales/year=2023/part-0.arrow", "sales/year=2024/part-0.arrow"]
    stored = named_part(raw.keys(), "sales/year=2024/part-0.arrow")
    inner = pyarrow.ipc.open_file(pa.BufferReader(raw.read(stored))).read_all()
    assert inner.column_names == ["id"] and inner.column("id").to_pylist() == [2, 4]
    back = store["sales/"].collect().sort("id")
    assert back.to_dict(as_series=False) == {"id": [1, 2, 3, 4], "year": [2023, 2024, 2023, 2024]}


def test_ipc_corrupt(store: AutoStore, raw: Raw) -> None:
    good = io.BytesIO()
    frame().write_ipc(good)
    raw.write("bad.arrow", b"not arrow at all")
    raw.write("cut.arrow", good.getvalue()[: len(good.getvalue()) // 2])
    for key in ("bad", "cut"):
        with pytest.raises(CorruptData, match=f"{key}.arrow"):
            store[key]


# -- 3. compression by suffix ----------------------------------------------------------------------
VALUES: dict[str, tuple[Any, Callable[[bytes], Any]]] = {
    # format: (value, how the decompressed bytes are read without autostore)
    "json": ({"a": [1, 2], "é": None}, json.loads),
    "jsonl": ([{"a": 1}, {"a": 2}], lambda b: [json.loads(x) for x in b.splitlines()]),
    "txt": ("héllo\nworld", lambda b: b.decode()),
    "csv": (frame().drop("day"), lambda b: pl.read_csv(io.BytesIO(b))),
    "npy": (np.arange(12.0).reshape(3, 4), lambda b: np.load(io.BytesIO(b))),
    "parquet": (frame(), lambda b: pl.read_parquet(io.BytesIO(b))),
    "pkl": ({"set": {1, 2}}, pickle.loads),
}


def same(a: Any, b: Any) -> bool:
    if isinstance(a, pl.DataFrame):
        return a.equals(b)
    if isinstance(a, np.ndarray):
        return bool(np.array_equal(a, b)) and a.dtype == b.dtype
    return bool(a == b)


@pytest.mark.parametrize("codec", list(CODECS))
@pytest.mark.parametrize("fmt", list(VALUES))
def test_compressed_round_trip(store: AutoStore, raw: Raw, fmt: str, codec: str) -> None:
    value, plain_reader = VALUES[fmt]
    key = f"v.{fmt}.{codec}"
    assert store.write(key, value) == key
    assert raw.keys() == [key]
    assert same(store["v"], value)
    assert same(store[key], value)
    assert store.keys() == ["v"]
    # the bytes are the codec's stream of the plain format: the standard tools read them
    decompressed = CODECS[codec][1](raw.read(key))
    assert same(plain_reader(decompressed), value)


@pytest.mark.parametrize("codec", list(CODECS))
def test_files_compressed_by_the_tools_read(store: AutoStore, raw: Raw, codec: str) -> None:
    compress = CODECS[codec][0]
    raw.write(f"c.json.{codec}", compress(b'{"from": "tool"}'))
    assert store["c"] == {"from": "tool"}
    raw.write(f"t.csv.{codec}", compress(b"a,b\n1,x\n2,y\n"))
    assert store["t"].to_dict(as_series=False) == {"a": [1, 2], "b": ["x", "y"]}


def test_multi_member_and_multi_frame_streams_read(store: AutoStore, raw: Raw) -> None:
    # `cat a.gz b.gz`, `zstd` with several frames: one stream of the concatenated content
    raw.write("lines.jsonl.gz", gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"a": 2}\n'))
    zc = zstandard.ZstdCompressor()
    skippable = b"\x50\x2a\x4d\x18" + (3).to_bytes(4, "little") + b"xyz"
    raw.write("lines.jsonl.zst", zc.compress(b'{"a": 1}\n') + skippable + zc.compress(b'{"a": 2}\n'))
    assert store["lines.jsonl.gz"] == [{"a": 1}, {"a": 2}]
    assert store["lines.jsonl.zst"] == [{"a": 1}, {"a": 2}]


def test_compression_argument_for_extensionless_keys(store: AutoStore, raw: Raw) -> None:
    assert store.write("cfg", {"k": 1}, format="json", compression="zstd") == "cfg.json.zst"
    assert json.loads(CODECS["zst"][1](raw.read("cfg.json.zst"))) == {"k": 1}
    assert store["cfg"] == {"k": 1}
    # chosen by value type, then compressed; replaces the uncompressed sibling like any rewrite
    store["arr"] = np.arange(3)
    assert store.write("arr", np.arange(4), compression="gzip") == "arr.npy.gz"
    assert np.load(io.BytesIO(gzip.decompress(raw.read("arr.npy.gz")))).tolist() == [0, 1, 2, 3]
    assert store["arr"].tolist() == [0, 1, 2, 3]
    # AutoPath.save takes it as well
    saved = AutoPath(store.uri, store=store).joinpath("notes").save("hi", compression="xz")
    assert saved.name == "notes.txt.xz" and lzma.decompress(raw.read("notes.txt.xz")) == b"hi"
    assert sorted(raw.keys()) == ["arr.npy.gz", "cfg.json.zst", "notes.txt.xz"]


def test_compression_argument_with_a_named_file_keeps_the_name(store: AutoStore, raw: Raw) -> None:
    # as pandas' to_csv(..., compression=): the file is named by the caller, the data compressed
    assert store.write("data.json", [1, 2], compression="gzip") == "data.json"
    assert gzip.decompress(raw.read("data.json")) == b"[1, 2]"
    assert store.read("data.json", compression="gzip") == [1, 2]
    with pytest.raises(CorruptData, match=r"data\.json"):
        store["data.json"]  # read without compression= it is not JSON
    assert store.write("same.json.gz", [3], compression="gzip") == "same.json.gz"
    with pytest.raises(ConfigError, match="contradicts"):
        store.write("other.json.gz", [3], compression="zstd")
    with pytest.raises(ConfigError, match="gzip, bz2, xz, zstd"):
        store.write("x", [3], compression="rar")
    assert sorted(raw.keys()) == ["data.json", "same.json.gz"]


@pytest.mark.parametrize("codec", list(CODECS))
@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_compressed_truncated_or_corrupt_raises_corrupt_data(
    store: AutoStore, raw: Raw, codec: str, damage: str
) -> None:
    payload = json.dumps({"values": list(range(5000))}).encode()
    data = CODECS[codec][0](payload)
    if damage == "truncated":
        data = data[: len(data) * 2 // 3]
    elif codec == "gz":
        data = b"\x1f\x8b" + b"\xff" * 60  # the magic, then no valid header
    else:
        data = data[:4] + bytes(b ^ 0x5A for b in data[4:40]) + data[40:]  # bytes flipped after the magic
    raw.write(f"d.json.{codec}", data)
    raw.write(f"a.npy.{codec}", data)  # a file format: decompressed to a temporary file
    for key in (f"d.json.{codec}", f"a.npy.{codec}"):
        with pytest.raises(CorruptData) as info:
            store[key]
        message = str(info.value)
        assert key in message and CODEC_NAMES[codec] in message, message


def test_compressed_file_format_is_streamed_not_held_in_memory(local_store: AutoStore) -> None:
    array = np.arange(4 * 1024 * 1024, dtype=np.float64)  # 32 MiB
    tracemalloc.start()
    try:
        local_store["big.npy.zst"] = array
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        got = local_store["big"]
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.array_equal(got, array)
    # writing holds no copy of the data; reading holds the result (what .npy needs) and chunks
    assert write_peak < 8 * 2**20, write_peak
    assert read_peak < array.nbytes + 8 * 2**20, read_peak


@pytest.mark.parametrize("codec", ["gz", "zst"])
def test_folders_of_compressed_csv_and_jsonl_are_datasets(store: AutoStore, raw: Raw, codec: str) -> None:
    compress = CODECS[codec][0]
    for i in range(3):
        raw.write(f"csvs/part-{i}.csv.{codec}", compress(f"id,x\n{i},{i * 0.5}\n{i + 10},1.0\n".encode()))
        raw.write(f"logs/day={i}/events.jsonl.{codec}", compress(f'{{"n": {i}}}\n{{"n": {i + 100}}}\n'.encode()))
    raw.write("csvs/_SUCCESS", b"")
    csvs = store["csvs/"]
    assert isinstance(csvs, pl.LazyFrame)
    assert sorted(csvs.collect()["id"].to_list()) == [0, 1, 2, 10, 11, 12]
    logs = store["logs"].collect().sort("n")
    assert logs.to_dict(as_series=False) == {"n": [0, 1, 2, 100, 101, 102], "day": [0, 1, 2, 0, 1, 2]}
    assert store.read("csvs/", format="csv").select(pl.len()).collect().item() == 6


def test_folder_of_bz2_csv_is_not_a_dataset(store: AutoStore, raw: Raw) -> None:
    raw.write("old/a.csv.bz2", bz2.compress(b"a\n1\n"))
    # Not a dataset, so not in the store (issue 13 point 13: `in` and `[]` agree): NotFound
    # naming what the folder holds.
    with pytest.raises(NotFound, match=r"\.csv\.bz2"):
        store["old/"]
    assert "old" not in store
    assert store["old/a.csv.bz2"].to_dict(as_series=False) == {"a": [1]}  # the file itself reads


# -- 4. Excel --------------------------------------------------------------------------------------
def excel_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "n": [1, 2, 3],
            "price": [9.5, 0.25, -3.0],
            "name": ["pen", "ink", "café"],
            "day": [datetime.date(2024, 1, 31), datetime.date(2000, 2, 29), datetime.date(1999, 12, 1)],
            "at": [
                datetime.datetime(2024, 1, 31, 12, 30),
                datetime.datetime(2000, 2, 29),
                datetime.datetime(1999, 12, 1, 23, 59, 59),
            ],
        }
    )


def test_excel_round_trip_opens_in_openpyxl(store: AutoStore, raw: Raw) -> None:
    df = excel_frame()
    assert store.write("book.xlsx", df) == "book.xlsx"
    got = store["book"]
    assert got.columns == df.columns
    assert got["n"].to_list() == [1, 2, 3]
    assert got["price"].to_list() == [9.5, 0.25, -3.0]
    assert got["name"].to_list() == ["pen", "ink", "café"]
    assert got.schema["n"] == pl.Int64 and got.schema["price"] == pl.Float64 and got.schema["name"] == pl.String
    assert got.schema["day"] == pl.Date and got["day"].to_list() == df["day"].to_list()
    assert got.schema["at"] == pl.Datetime("ms") and got["at"].to_list() == df["at"].to_list()
    wb = openpyxl.load_workbook(io.BytesIO(raw.read("book.xlsx")))  # another spreadsheet reader
    assert wb.sheetnames == ["Sheet1"]
    rows = list(wb["Sheet1"].iter_rows(values_only=True))
    assert rows[0] == ("n", "price", "name", "day", "at")
    assert rows[1][:3] == (1, 9.5, "pen")
    assert rows[2][3] == datetime.datetime(2000, 2, 29) and rows[1][4] == datetime.datetime(2024, 1, 31, 12, 30)


def test_excel_dict_of_frames_one_sheet_each(store: AutoStore, raw: Raw) -> None:
    sheets = {"prices": pl.DataFrame({"p": [1.5, 2.5]}), "names": pl.DataFrame({"s": ["a", "b", "c"]})}
    store["multi.xlsx"] = sheets
    assert openpyxl.load_workbook(io.BytesIO(raw.read("multi.xlsx"))).sheetnames == ["prices", "names"]
    assert store["multi"]["p"].to_list() == [1.5, 2.5]  # the first sheet by default
    assert store.read("multi", sheet="names")["s"].to_list() == ["a", "b", "c"]
    assert store.read("multi", sheet=1)["s"].to_list() == ["a", "b", "c"]
    assert AutoPath(store.uri, store=store).joinpath("multi.xlsx").load(sheet=-1)["s"].to_list() == ["a", "b", "c"]
    both = store.read("multi", sheet="*")
    assert list(both) == ["prices", "names"] and both["names"].height == 3
    with pytest.raises(FormatError, match=r"No sheet 'missing'.*\['prices', 'names'\]"):
        store.read("multi", sheet="missing")
    with pytest.raises(FormatError, match="out of range"):
        store.read("multi", sheet=5)


def test_excel_written_by_openpyxl_read(store: AutoStore, raw: Raw) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "data"
    ws.append(["city", "pop", "since"])
    ws.append(["Oslo", 709000, datetime.datetime(1048, 1, 1)])
    ws.append(["Bergen", 286000, datetime.datetime(1070, 1, 1)])
    buf = io.BytesIO()
    wb.save(buf)
    raw.write("cities.xlsx", buf.getvalue())
    got = store["cities"]
    assert got["city"].to_list() == ["Oslo", "Bergen"]
    assert got["pop"].to_list() == [709000, 286000]


def test_excel_bad_input(store: AutoStore, raw: Raw) -> None:
    raw.write("bad.xlsx", b"PK\x03\x04 this is no workbook")
    with pytest.raises(CorruptData, match=r"bad\.xlsx"):
        store["bad"]
    with pytest.raises(FormatError, match="DataFrame"):
        store["x.xlsx"] = {"not": "a frame"}
    with pytest.raises(FormatError, match="sheet"):
        store["y.xlsx"] = {"bad[name]": pl.DataFrame({"a": [1]})}
    with pytest.raises(ConfigError, match=r"bad\.xlsx \(\.csv\) with sheet=: .*\.xlsx"):
        store.read("bad.xlsx", sheet=0, format="csv")
    assert raw.keys() == ["bad.xlsx"]


# -- 5. memory-mapped reads ------------------------------------------------------------------------
def test_mmap_npy_local_returns_read_only_memmap(local_store: AutoStore) -> None:
    array = np.arange(20.0).reshape(4, 5)
    local_store["emb"] = array
    path = Path(local_store.uri) / "emb.npy"
    got = local_store.read("emb", mmap=True)
    assert isinstance(got, np.memmap) and not got.flags.writeable
    assert np.array_equal(got, array) and str(path) in mapped_paths()
    with pytest.raises(ValueError, match="read-only"):
        got[0, 0] = 1.0
    loaded = AutoPath(path, store=local_store).load(mmap=True)
    assert isinstance(loaded, np.memmap) and loaded[1].tolist() == [5.0, 6.0, 7.0, 8.0, 9.0]
    # a rewrite replaces the file atomically: the mapping keeps the old content
    local_store["emb"] = np.zeros((4, 5))
    assert np.array_equal(got, array)
    assert local_store["emb"].sum() == 0.0


def test_mmap_npy_cache_hit_stays_valid_after_eviction(cached: AutoStore, tmp_path: Path) -> None:
    array = np.arange(1000, dtype=np.int32)
    cached["emb"] = array
    filled = cached.read("emb", mmap=True)
    hit = AutoPath(cached.uri + "emb.npy", store=cached).load(mmap=True)
    assert cached.cache_info().hits >= 1
    for got in (filled, hit):
        assert isinstance(got, np.memmap) and not got.flags.writeable
    assert any(p.startswith(str(tmp_path / "cache")) for p in mapped_paths())
    assert cached.clear_cache() == 1
    assert np.array_equal(filled, array) and np.array_equal(hit, array)


def test_mmap_remote_without_cache_says_to_enable_it(s3_store: AutoStore) -> None:
    s3_store["emb"] = np.arange(3)
    s3_store["w.safetensors"] = {"w": np.arange(3)}
    for key in ("emb", "w"):
        with pytest.raises(ConfigError, match=r"remote with the download cache off.*cache_enabled=True"):
            s3_store.read(key, mmap=True)


def test_mmap_safetensors(local_store: AutoStore, cached: AutoStore) -> None:
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([True, False]), "s": np.array(2.5)}
    for st in (local_store, cached):
        st["n.safetensors"] = arrays
        got = st.read("n", mmap=True)
        assert set(got) == {"a", "b", "s"}
        for k, v in arrays.items():
            assert isinstance(got[k], np.memmap) and not got[k].flags.writeable
            assert np.array_equal(got[k], v) and got[k].dtype == np.asarray(v).dtype and got[k].shape == np.shape(v)
        st["t.safetensors"] = {"w": torch.arange(4.0)}
        tensors = st.read("t", mmap=True)
        assert isinstance(tensors["w"], torch.Tensor) and tensors["w"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_mmap_refused_where_it_cannot_map(local_store: AutoStore) -> None:
    local_store["j"] = {"a": 1}
    local_store["z.npy.gz"] = np.arange(3)
    local_store["arch.npz"] = {"a": np.arange(2)}
    local_store["ds/p.parquet"] = pl.DataFrame({"a": [1]})
    with pytest.raises(ConfigError, match=r"j\.json.*\.npy.*\.safetensors"):
        local_store.read("j", mmap=True)
    with pytest.raises(ConfigError, match=r"z\.npy\.gz"):
        local_store.read("z", mmap=True)
    with pytest.raises(FormatError, match="npz"):
        local_store.read("arch", mmap=True)
    with pytest.raises(ConfigError, match="single files"):
        local_store.read("ds/", mmap=True)
    with pytest.raises(ConfigError, match="sheet="):
        local_store.read("j", sheet="x")


def test_mmap_object_array_npy_is_a_format_error(local_store: AutoStore) -> None:
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    Path(local_store.uri).mkdir(parents=True, exist_ok=True)
    (Path(local_store.uri) / "obj.npy").write_bytes(buf.getvalue())
    with pytest.raises(FormatError, match="cannot be memory-mapped"):
        local_store.read("obj", mmap=True)


def test_mmap_of_a_corrupt_or_empty_npy_is_corrupt_data_and_leaves_the_file(local_store: AutoStore) -> None:
    root = Path(local_store.uri)
    root.mkdir(parents=True, exist_ok=True)
    for name, content, says in (
        ("bad.npy", b"hello world, not an array", "magic string is not correct"),
        ("empty.npy", b"", "EOF"),
        ("cut.npy", b"\x93NUMPY\x01\x00", "EOF|header"),
    ):
        (root / name).write_bytes(content)
        with pytest.raises(CorruptData, match=rf"{name}.*Invalid \.npy file: .*({says})"):
            local_store.read(name, mmap=True)
        assert (root / name).read_bytes() == content


# -- missing extras --------------------------------------------------------------------------------
MISSING_SCRIPT = textwrap.dedent(
    """
    import json, sys

    class Blocker:  # an import hook refusing one library, as if it were not installed
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == sys.argv[3]:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    for name in sys.argv[2].split(","):
        if name:
            sys.modules[name] = None  # import of it now fails as if it were not installed
    if sys.argv[3]:
        sys.meta_path.insert(0, Blocker())
    from autostore import AutoStore
    store = AutoStore(sys.argv[1])
    out = {}
    def attempt(label, fn):
        try:
            fn()
            out[label] = ["ok", "", False]
        except Exception as exc:
            out[label] = [type(exc).__name__, str(exc), isinstance(exc, ImportError)]
    attempt("read w.safetensors", lambda: store["w.safetensors"])
    attempt("write v.safetensors", lambda: store.__setitem__("v.safetensors", {"a": __import__("numpy").ones(1)}))
    attempt("read c.json.zst", lambda: store["c.json.zst"])
    attempt("write d.json.zst", lambda: store.__setitem__("d.json.zst", [1]))
    attempt("read c.json.gz", lambda: store["c.json.gz"])
    attempt("read b.xlsx", lambda: store["b.xlsx"])
    attempt("write e.xlsx", lambda: store.__setitem__("e.xlsx", __import__("polars").DataFrame({"a": [1]})))
    attempt("read f.arrow", lambda: store["f.arrow"].height)
    attempt("mmap f.arrow", lambda: store.read("f.arrow", mmap=True))
    print(json.dumps(out))
    """
)


def run_without(root: Path, modules: str, hooked: str = "") -> dict[str, list[Any]]:
    proc = subprocess.run(
        [sys.executable, "-c", MISSING_SCRIPT, str(root), modules, hooked],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_missing_extras_raise_missing_dependency_naming_the_extra(local_store: AutoStore) -> None:
    local_store["w.safetensors"] = {"a": np.ones(1)}
    local_store["c.json.zst"] = [1]
    local_store["c.json.gz"] = [2]
    local_store["b.xlsx"] = pl.DataFrame({"a": [1]})
    local_store["f.arrow"] = pl.DataFrame({"a": [1, 2]})
    root = Path(local_store.uri)

    out = run_without(root, "safetensors,zstandard,fastexcel,xlsxwriter,pyarrow")
    expected = {
        "read w.safetensors": "autostore[safetensors]",
        "write v.safetensors": "autostore[safetensors]",
        "read c.json.zst": "autostore[zstd]",
        "write d.json.zst": "autostore[zstd]",
        "read b.xlsx": "autostore[excel]",
        "write e.xlsx": "autostore[excel]",
        "mmap f.arrow": "autostore[arrow]",
    }
    for label, extra in expected.items():
        kind, message, is_import_error = out[label]
        assert kind == "MissingDependency" and is_import_error, (label, out[label])
        assert extra in message, (label, message)
        assert label.split()[1] in message, (label, message)  # names the file
    assert out["read c.json.gz"] == ["ok", "", False]  # gzip is in the standard library
    assert out["read f.arrow"] == ["ok", "", False]  # without pyarrow, polars reads (copies) it
    assert not (root / "v.safetensors").exists() and not (root / "d.json.zst").exists()
    assert not (root / "e.xlsx").exists()

    hooked = run_without(root, "", hooked="zstandard")  # an import hook refusing the library
    assert hooked["read c.json.zst"][0] == "MissingDependency" and "autostore[zstd]" in hooked["read c.json.zst"][1]
    assert hooked["read w.safetensors"] == ["ok", "", False]

