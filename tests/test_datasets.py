"""Folders as datasets (LazyFrames scanned in place), partitioned writes, list_files globs,
is_dataset/is_directory and storage_options for other engines — on a local folder and on S3."""

from __future__ import annotations

import io
import os
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from autostore import AutoStore, ConfigError, FormatError, InvalidKey, NotFound
from autostore.errors import UnsupportedFormat
from autostore.testing import S3Server
from conftest import Raw
from counting_proxy import CountingProxy
from helpers import env_test, named_part, plain_part_names, require

MONTHS = ["january", "february", "march"]


def _weather(store: AutoStore) -> pl.DataFrame:
    frames = []
    for i, month in enumerate(MONTHS):
        df = pl.DataFrame({"month": [month] * 3, "day": [1, 2, 3], "temp": [i + 0.5, i + 1.5, i + 2.5]})
        store[f"weather/2024/{month}.parquet"] = df
        frames.append(df)
    return pl.concat(frames)


def _parquet(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf)
    return buf.getvalue()


def _plain(keys: list[str]) -> list[str]:
    return plain_part_names(keys)


def _named(raw: Raw, plain: str) -> str:
    return named_part(raw.keys(), plain)


def _sorted(df: pl.DataFrame | pl.LazyFrame, *by: str) -> pl.DataFrame:
    frame = df.collect() if isinstance(df, pl.LazyFrame) else df
    return frame.sort(list(by) or frame.columns)


# -- the seed's examples ----------------------------------------------------------------------
def test_seed_dataset_support(store: AutoStore) -> None:
    expected = _weather(store)
    weather_data = store["weather/2024/"]  # Loads entire dataset as LazyFrame
    assert isinstance(weather_data, pl.LazyFrame)
    assert_frame_equal(_sorted(weather_data, "month", "day"), _sorted(expected, "month", "day"))

    single_file = store["weather/2024/january.parquet"]
    assert isinstance(single_file, pl.DataFrame)
    assert_frame_equal(single_file, expected.filter(pl.col("month") == "january"))

    files = list(store.list_files("weather/2024/*", recursive=True))
    assert sorted(files) == [f"weather/2024/{m}.parquet" for m in sorted(MONTHS)]

    # Dataset Operations
    assert store.primary_backend.is_dataset("weather/2024/") is True
    assert store.primary_backend.is_directory("weather/") is True
    assert store.primary_backend.is_dataset("weather/2024/january.parquet") is False
    assert store.primary_backend.is_directory("weather/2024/january.parquet") is False
    lazy_frame = store["weather/"]  # the whole tree: weather/2024/*.parquet
    assert lazy_frame.select(pl.len()).collect().item() == 9


def test_integration_example_store_equivalent(store: AutoStore, tmp_path: Path) -> None:
    """The seed's Integration Example (AutoPath there; the same steps through the store here)."""
    rows = {
        "q1": pl.DataFrame({"region": ["eu", "us", "eu"], "sales": [10.0, 20.0, 5.0]}),
        "q2": pl.DataFrame({"region": ["us", "apac"], "sales": [1.0, 7.5]}),
        "q3": pl.DataFrame({"region": ["eu"], "sales": [2.5]}),
    }
    for name, df in rows.items():
        store[f"raw-data/sales/2024/{name}.parquet"] = df

    assert store.primary_backend.is_directory("raw-data/sales/2024/")
    df = store["raw-data/sales/2024"]  # no such file, a folder: loads it as a LazyFrame
    assert isinstance(df, pl.LazyFrame)
    summary = df.group_by("region").agg(
        [pl.col("sales").sum().alias("total_sales"), pl.col("sales").count().alias("transaction_count")]
    )
    store["processed/sales_summary.parquet"] = summary.collect()
    with AutoStore(tmp_path / "backups") as backup_store:
        backup = "file://" + backup_store.uri + "/sales_summary.parquet"
        store.copy("processed/sales_summary.parquet", backup)
        got = backup_store["sales_summary"]
    assert got.height == 3
    totals = {r["region"]: (r["total_sales"], r["transaction_count"]) for r in got.to_dicts()}
    assert totals == {"eu": (17.5, 3), "us": (21.0, 2), "apac": (7.5, 1)}


# -- reading ------------------------------------------------------------------------------------
def test_read_flags_and_folder_forms(store: AutoStore) -> None:
    expected = _sorted(_weather(store))
    for lf in (store["weather/2024/"], store["weather/2024"], store.read("weather/2024", dataset=True)):
        assert isinstance(lf, pl.LazyFrame)
        assert_frame_equal(_sorted(lf), expected)
    with pytest.raises(NotFound):
        store.read("weather/2024", dataset=False)
    with pytest.raises(InvalidKey):
        store.read("weather/2024/", dataset=False)
    # A file and a folder of the same name: the key names the file, dataset=True the folder.
    store["weather/2024"] = pl.DataFrame({"other": [1]})
    assert isinstance(store["weather/2024"], pl.DataFrame)
    assert store.read("weather/2024", dataset=True).collect().height == 9
    assert store["weather/2024/"].collect().height == 9
    assert "weather/2024/" in store


def test_hive_partitions_become_columns(store: AutoStore, raw: Raw) -> None:
    for year, month, values in [(2023, "12", [1, 2]), (2024, "01", [3]), (2024, "02", [4, 5, 6])]:
        raw.write(f"events/year={year}/month={month}/part-0.parquet", _parquet(pl.DataFrame({"v": values})))
    lf = store["events/"]
    assert lf.collect_schema().names() == ["v", "year", "month"]
    got = _sorted(lf, "v")
    assert got["v"].to_list() == [1, 2, 3, 4, 5, 6]
    assert got["year"].to_list() == [2023, 2023, 2024, 2024, 2024, 2024]
    assert got["month"].to_list() == [12, 12, 1, 2, 2, 2]  # polars types folder values ("01" -> 1)
    assert store["events/"].filter(pl.col("year") == 2024).select(pl.col("v").sum()).collect().item() == 18
    # A sub-folder is a dataset of its own: only the partitions below it are columns.
    sub = store["events/year=2024/"]
    assert sub.collect_schema().names() == ["v", "month"]
    assert sub.collect().height == 4
    assert store["events/year=2024/month=01/"].collect_schema().names() == ["v"]


def test_csv_jsonl_tsv_datasets_with_partitions(store: AutoStore, raw: Raw) -> None:
    raw.write("c/region=eu/a.csv", b"x,y\n1,a\n2,b\n")
    raw.write("c/region=us/b.csv", b"x,y\n3,c\n")
    raw.write("c/region=us/_SUCCESS", b"")  # hidden files are skipped, as polars and Spark do
    got = _sorted(store["c/"], "x")
    assert got.columns == ["x", "y", "region"]
    assert got.rows() == [(1, "a", "eu"), (2, "b", "eu"), (3, "c", "us")]

    raw.write("j/day=1/a.jsonl", b'{"n": 1}\n{"n": 2}\n')
    raw.write("j/day=2/b.ndjson", b'{"n": 3}\n')
    got = _sorted(store["j/"], "n")
    assert got.rows() == [(1, 1), (2, 1), (3, 2)]
    assert got.schema["day"] == pl.Int64

    raw.write("t/a.tsv", b"x\ty\n1\t2\n")
    assert store["t/"].collect().rows() == [(1, 2)]


def test_mixed_formats_are_an_error_naming_them(store: AutoStore, raw: Raw) -> None:
    raw.write("mix/a.parquet", _parquet(pl.DataFrame({"x": [1]})))
    raw.write("mix/b.parquet", _parquet(pl.DataFrame({"x": [2]})))
    raw.write("mix/notes.csv", b"x\n3\n")
    raw.write("mix/meta.json", b"{}")
    with pytest.raises(FormatError) as info:
        store["mix/"]
    text = str(info.value)
    assert "mixes formats" in text and "mix/" in text
    assert "2 .parquet (a.parquet, b.parquet)" in text
    assert "1 .csv (notes.csv)" in text and "1 .json (meta.json)" in text
    assert "format='parquet'" in text
    assert _sorted(store.read("mix/", format="parquet"))["x"].to_list() == [1, 2]
    assert store.read("mix/", format="csv").collect()["x"].to_list() == [3]
    with pytest.raises(NotFound, match="No jsonl files"):
        store.read("mix/", format="jsonl")


def test_empty_missing_and_non_tabular_folders(store: AutoStore, raw: Raw) -> None:
    with pytest.raises(NotFound) as info:
        store["nothing/"]
    assert "nothing/" in str(info.value) and "empty or does not exist" in str(info.value)
    assert isinstance(info.value, KeyError) and isinstance(info.value, FileNotFoundError)
    raw.write("hidden/_SUCCESS", b"")
    raw.write("hidden/.part-0.parquet.crc", b"x")
    with pytest.raises(NotFound):
        store["hidden/"]
    raw.write("docs/a.json", b"{}")
    raw.write("docs/b.txt", b"hi")
    with pytest.raises(NotFound, match=r"no tabular files.*1 \.json \(a\.json\)"):
        store["docs/"]  # nothing to scan: not in the store (issue 13 point 13)
    assert "docs/" not in store and "docs" not in store
    assert store.primary_backend.is_dataset("docs/") is False
    assert store.primary_backend.is_dataset("hidden/") is False
    assert store.primary_backend.is_directory("docs") is True


def test_files_at_different_partition_levels_are_an_error(store: AutoStore, raw: Raw) -> None:
    raw.write("lv/top.parquet", _parquet(pl.DataFrame({"a": [1]})))
    raw.write("lv/y=1/f.parquet", _parquet(pl.DataFrame({"a": [2]})))
    with pytest.raises(FormatError, match=r"different partition levels.*top\.parquet has no partition folders"):
        store["lv/"]
    assert store["lv/y=1/"].collect()["a"].to_list() == [2]


def test_partitions_above_the_dataset_folder_are_not_columns(store: AutoStore, raw: Raw) -> None:
    raw.write("env=prod/data/k=a/f.parquet", _parquet(pl.DataFrame({"v": [1]})))
    raw.write("env=prod/data/k=b/f.parquet", _parquet(pl.DataFrame({"v": [2]})))
    raw.write("env=prod/flat/f.parquet", _parquet(pl.DataFrame({"v": [3]})))
    assert _sorted(store["env=prod/data/"]).rows() == [(1, "a"), (2, "b")]
    assert store["env=prod/data/"].collect_schema().names() == ["v", "k"]
    assert store["env=prod/flat/"].collect_schema().names() == ["v"]
    with pytest.raises(FormatError):  # data/k=a/f.parquet and flat/f.parquet: different levels
        store["env=prod/"]


def test_special_characters_in_keys(store: AutoStore) -> None:
    store["sp ace/é x/a b.parquet"] = pl.DataFrame({"v": [1]})
    store["sp ace/é x/c%20d.parquet"] = pl.DataFrame({"v": [2]})
    assert _sorted(store["sp ace/"])["v"].to_list() == [1, 2]


# -- scanned in place, not downloaded -------------------------------------------------------------
@pytest.fixture
def raw_s3(s3_store: AutoStore, s3_server: S3Server) -> Raw:
    return Raw(s3_store, s3_server)


def _fetched(proxy: CountingProxy) -> int:
    """Response body bytes the server sent through the proxy since its last reset."""
    return sum(e.body_bytes for e in proxy.exchanges)


WIDE_ROWS = 30_000


def _wide_dataset(store: AutoStore) -> int:
    """4 partitions x 1 file (~3 MB, above polars' whole-file threshold for small objects): a
    small int column and a wide random-text column. Returns the dataset's size in bytes."""
    for part in "abcd":
        blob = [os.urandom(100).hex() for _ in range(WIDE_ROWS)]
        store.write(f"wide/part={part}/data.parquet", pl.DataFrame({"id": list(range(WIDE_ROWS)), "blob": blob}))
    return sum(m.size for m in store.primary_backend.list_objects("wide/"))


def test_s3_scan_fetches_only_needed_columns_and_partitions(
    s3_store: AutoStore, s3_server: S3Server, proxy: CountingProxy
) -> None:
    total = _wide_dataset(s3_store)
    assert total > 4 * WIDE_ROWS * 100  # the random text does not compress away
    via_proxy = AutoStore(s3_store.uri, options=s3_store.options.replace(endpoint_url=proxy.url))

    lf = via_proxy["wide/"]
    proxy.reset()
    assert lf.select(pl.col("id").sum()).collect().item() == 4 * sum(range(WIDE_ROWS))
    assert 0 < _fetched(proxy) < total / 4, (_fetched(proxy), total)  # a download would move all bytes

    proxy.reset()
    blob_len = lf.filter(pl.col("part") == "b").select(pl.col("blob").str.len_bytes().sum()).collect().item()
    assert blob_len == WIDE_ROWS * 200
    assert 0 < _fetched(proxy) < total / 2, (_fetched(proxy), total)  # other partitions untouched
    gets = [e.path for e in proxy.exchanges if e.method == "GET" and "list-type" not in e.query]
    assert gets and all("/wide/part=b/" in p for p in gets), gets
    assert via_proxy._tmp_dir is None  # nothing was staged on local disk
    via_proxy.close()


def test_cache_true_mirrors_through_the_download_cache(
    s3_store: AutoStore, s3_server: S3Server, proxy: CountingProxy, raw_s3: Raw, tmp_path: Path
) -> None:
    df = pl.DataFrame({"k": ["a", "a", "b"], "v": [1, 2, 3]})
    s3_store.write("cds/", df, partition_by="k")
    opts = s3_store.options.replace(endpoint_url=proxy.url, cache_enabled=True, cache_dir=str(tmp_path / "cache"))
    with AutoStore(s3_store.uri, options=opts) as store:
        in_place = store["cds/"]  # caching on, but a plain dataset read still scans in place
        assert_frame_equal(_sorted(in_place, "v"), _sorted(df.select("v", "k"), "v"))
        assert store.cache_info().entries == 0

        proxy.reset()
        first = store.read("cds/", cache=True)
        assert store.cache_info().entries == 2
        object_gets = [e for e in proxy.exchanges if e.method == "GET" and "list-type" not in e.query]
        assert len(object_gets) == 2 and all(e.status == 200 for e in object_gets)
        assert "mirror-" in first.explain() and s3_store.uri not in first.explain()  # local copies

        proxy.reset()
        again = store.read("cds/", cache=True)
        assert [e for e in proxy.exchanges if "list-type" not in e.query] == []  # served from the cache
        assert_frame_equal(_sorted(again, "v"), _sorted(first, "v"))

        raw_s3.write(_named(raw_s3, "cds/k=b/part-0.parquet"), _parquet(pl.DataFrame({"v": [30]})))  # changed elsewhere
        proxy.reset()
        fresh = store.read("cds/", cache=True, ignore_cache=True)  # fetched anew into the cache
        assert [e.status for e in proxy.exchanges if "list-type" not in e.query] == [200, 200]
        assert _sorted(fresh, "v")["v"].to_list() == [1, 2, 30]
        assert _sorted(first, "v")["v"].to_list() == [1, 2, 3]  # an earlier LazyFrame keeps its copies
        tmp = store._tmp_dir
    assert tmp is None or not tmp.exists()

    with pytest.raises(ConfigError, match="cache_enabled=True"):
        s3_store.read("cds/", cache=True)


def test_local_scan_reads_the_files_in_place(local_store: AutoStore) -> None:
    _weather(local_store)
    lf = local_store["weather/2024/"]
    plan = lf.explain()
    assert str(Path(local_store.uri) / "weather/2024") in plan
    assert lf.collect().height == 9
    tmp = local_store._tmp_dir  # created by the writes above; the scan put nothing there
    assert tmp is None or not any(tmp.iterdir())


def test_memory_backend_is_mirrored_then_scanned() -> None:
    with AutoStore(f"memory://ds-{uuid.uuid4().hex[:8]}/") as store:
        store.write("m/", pl.DataFrame({"k": ["x", "y"], "v": [1, 2]}), partition_by="k")
        assert sorted(_plain(list(store.list_files("m/**")))) == ["m/k=x/part-0.parquet", "m/k=y/part-0.parquet"]
        assert _sorted(store["m/"], "v").rows() == [(1, "x"), (2, "y")]
        tmp = store._tmp_dir
        assert tmp is not None and any(tmp.rglob("*.parquet"))
    assert not tmp.exists()


# -- writing --------------------------------------------------------------------------------------
def test_partitioned_write(store: AutoStore, raw: Raw) -> None:
    df = pl.DataFrame({"region": ["eu", "us", "eu", "a b/c"], "year": [2024, 2024, 2025, 2024], "v": [1, 2, 3, 4]})
    assert store.write("sales/", df, partition_by=["region", "year"]) == "sales/"
    assert _plain(raw.keys()) == [
        "sales/region=a%20b%2Fc/year=2024/part-0.parquet",
        "sales/region=eu/year=2024/part-0.parquet",
        "sales/region=eu/year=2025/part-0.parquet",
        "sales/region=us/year=2024/part-0.parquet",
    ]
    one = pl.read_parquet(io.BytesIO(raw.read(_named(raw, "sales/region=eu/year=2025/part-0.parquet"))))
    assert one.columns == ["v"] and one["v"].to_list() == [3]  # partition columns live in the folder names
    back = store["sales/"]
    assert back.collect_schema().names() == ["v", "region", "year"]
    assert_frame_equal(_sorted(back.select(df.columns), "v"), df)
    assert store.primary_backend.is_dataset("sales")


def test_write_folder_without_partitions_overwrite_and_append(store: AutoStore, raw: Raw) -> None:
    store["table/"] = pl.DataFrame({"a": [1, 2]})
    assert _plain(raw.keys()) == ["table/part-0.parquet"]
    raw.write("table/README.txt", b"kept")
    store.write("table/", pl.LazyFrame({"a": [5, 6], "p": ["x", "y"]}), partition_by="p")
    assert _plain(raw.keys()) == ["table/README.txt", "table/p=x/part-0.parquet", "table/p=y/part-0.parquet"]
    old_partition = _named(raw, "table/p=x/part-0.parquet").removesuffix(".parquet")
    store["table/"] = pl.LazyFrame({"a": [7]})  # overwrite: the old partitions go, other files stay
    assert _plain(raw.keys()) == ["table/README.txt", "table/part-0.parquet"]
    assert store.read("table/", format="parquet").collect()["a"].to_list() == [7]
    part = _named(raw, "table/part-0.parquet").removesuffix(".parquet")
    assert store[part]["a"].to_list() == [7]  # each file is a key of its own
    assert old_partition not in store
    store.write("table/", pl.DataFrame({"a": [8]}), format="csv")  # a new format replaces the old files
    assert _plain(raw.keys()) == ["table/README.txt", "table/part-0.csv"]
    assert store[_named(raw, "table/part-0.csv").removesuffix(".csv")]["a"].to_list() == [8]

    store.write("log/", pl.DataFrame({"a": [1]}), mode="append")
    store.write("log/", pl.DataFrame({"a": [2]}), mode="append")
    keys = raw.keys()
    assert len(keys) == 4 and all(re.fullmatch(r"log/part-[0-9a-f]{16}-0\.parquet", k) for k in keys if "log/" in k)
    assert _sorted(store["log/"])["a"].to_list() == [1, 2]


def test_write_formats_and_bad_values(store: AutoStore, raw: Raw) -> None:
    df = pl.DataFrame({"g": [1, 1, 2], "s": ["a", "b", "c"]})
    store.write("as_csv/", df, format="csv", partition_by="g")
    assert raw.read(_named(raw, "as_csv/g=1/part-0.csv")).decode().splitlines() == ["s", "a", "b"]
    assert _sorted(store["as_csv/"], "s").rows() == [("a", 1), ("b", 1), ("c", 2)]
    store.write("as_jsonl/", df, format="jsonl")
    assert _plain(raw.keys())[-1] == "as_jsonl/part-0.jsonl"
    assert_frame_equal(store["as_jsonl/"].collect(), df)

    with pytest.raises(FormatError, match="only polars DataFrames and LazyFrames"):
        store["nope/"] = {"a": 1}
    with pytest.raises(ConfigError, match=r"partition_by column\(s\) \['missing'\]"):
        store.write("nope/", df, partition_by=["missing"])
    with pytest.raises(ConfigError, match="mode="):
        store.write("nope/", df, mode="upsert")
    with pytest.raises(ConfigError, match="dataset folders only"):
        store.write("file", df, mode="append")
    with pytest.raises(UnsupportedFormat):
        store.write("nope/", df, format="json")
    assert not [k for k in raw.keys() if k.startswith("nope")]  # noqa: SIM118 - Raw is not a dict


def test_failed_write_leaves_no_partial_files(store: AutoStore, raw: Raw) -> None:
    store["keep/"] = pl.DataFrame({"a": [1]})
    bad = pl.LazyFrame({"a": ["x"]}).select(pl.col("a").cast(pl.Int64, strict=True))
    with pytest.raises(FormatError, match="Cannot write the frame"):
        store["keep/"] = bad
    assert _plain(raw.keys()) == ["keep/part-0.parquet"]
    assert store["keep/"].collect()["a"].to_list() == [1]
    if store.uri.startswith("/"):
        assert not [p for p in Path(store.uri).rglob("*") if ".autostore-tmp-" in str(p)]


# -- listing --------------------------------------------------------------------------------------
def test_list_files_glob_forms(store: AutoStore) -> None:
    names = [
        "weather/2024/january.parquet",
        "weather/2024/jan/day1.parquet",
        "weather/2023/x.parquet",
        "weather/2023/y.csv",
        "weather2/z.parquet",
        "a.json",
        "b.json",
        "c.json",
    ]
    for name in names:
        store[name] = pl.DataFrame({"a": [1]}) if not name.endswith("json") else {"a": 1}

    def ls(pattern: str, recursive: bool = True) -> list[str]:
        return sorted(store.list_files(pattern, recursive=recursive))

    assert ls("*") == sorted(names)
    assert ls("*", recursive=False) == ["a.json", "b.json", "c.json"]
    assert ls("weather/*", recursive=False) == []
    assert ls("weather/*") == sorted(n for n in names if n.startswith("weather/"))
    assert ls("weather/**") == ls("weather/*")
    assert ls("**/*.parquet", recursive=False) == sorted(n for n in names if n.endswith(".parquet"))
    assert ls("weather/**/*.parquet", recursive=False) == [
        "weather/2023/x.parquet",
        "weather/2024/jan/day1.parquet",
        "weather/2024/january.parquet",
    ]
    assert ls("weather/202?/*.csv") == ["weather/2023/y.csv"]
    assert ls("[ab].json") == ["a.json", "b.json"]
    assert ls("[!ab].json") == ["c.json"]
    assert ls("weather/202[4]/*.parquet", recursive=False) == ["weather/2024/january.parquet"]
    assert ls("weath*/z.parquet", recursive=False) == ["weather2/z.parquet"]
    assert ls("weather/2024/january.parquet") == ["weather/2024/january.parquet"]
    assert ls("weather") == []  # a folder is not a file
    assert ls("nothing/*") == []
    with pytest.raises(InvalidKey):
        list(store.list_files("../*"))


def test_list_files_pages_through_a_large_folder(s3_store: AutoStore, proxy: CountingProxy) -> None:
    backend = s3_store.primary_backend
    names = [f"big/f{i:05d}.json" for i in range(1150)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda n: backend.put_bytes(n, b"{}"), names))
    s3_store["bigger/x.json"] = {}  # a sibling that shares the name prefix "big"
    via_proxy = AutoStore(s3_store.uri, options=s3_store.options.replace(endpoint_url=proxy.url))
    proxy.reset()
    got = list(via_proxy.list_files("big/f0*.json"))
    assert sorted(got) == names
    lists = [parse_qs(e.query) for e in proxy.exchanges if e.method == "GET" and "list-type=2" in e.query]
    assert len(lists) >= 2, lists  # S3 returns at most 1000 keys a page
    store_prefix = s3_store.uri.split("/", 3)[3]
    assert all(q["prefix"] == [store_prefix + "big/"] for q in lists), lists
    assert via_proxy.primary_backend.is_dataset("big/") is False
    assert via_proxy.primary_backend.is_directory("big")


# -- is_dataset / is_directory / primary_backend --------------------------------------------------
def test_is_dataset_and_is_directory(store: AutoStore, raw: Raw) -> None:
    _weather(store)
    raw.write("nested/deep/er/t.csv", b"a\n1\n")
    b = store.primary_backend
    assert b.is_dataset("weather/2024/") and b.is_dataset("weather/2024") and b.is_dataset("weather")
    assert b.is_dataset("nested/") and b.is_directory("nested/deep")
    assert not b.is_dataset("nothing/") and not b.is_directory("nothing")
    assert not b.is_directory("weather/2024/january.parquet")
    assert b.is_directory("") and b.is_dataset("")
    # keys are relative to the store, as in 0.1.x; the raw backend takes full keys
    assert b.head("weather/2024/january.parquet").key == "weather/2024/january.parquet"
    listed = sorted(m.key for m in b.list_objects("weather/2024/"))
    assert listed == [f"weather/2024/{m}.parquet" for m in sorted(MONTHS)]
    assert b.uri("weather/") == store.uri.rstrip("/") + "/weather/"
    assert store.primary_backend is b


# -- handing the dataset to other engines -----------------------------------------------------------
def _no_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore inside s3fs selects AWS_PROFILE itself and fails when that profile does not exist;
    no storage option can switch that off (README: storage_options), so the decoy goes. The tests
    run in a spawned child (helpers.env_test): the test process's environment never changes."""
    monkeypatch.delenv("AWS_PROFILE")
    monkeypatch.delenv("AWS_DEFAULT_PROFILE")


@env_test(_no_profile)
def test_storage_options_for_polars_and_fsspec(s3_store: AutoStore, s3_server: S3Server, tmp_path: Path) -> None:
    _weather(s3_store)
    opts = s3_store.storage_options()
    assert opts["aws_access_key_id"] == s3_server.access_key_id
    assert opts["aws_endpoint_url"] == s3_server.endpoint_url and opts["allow_http"] == "true"
    assert {type(v) for k, v in opts.items() if k not in ("max_retries",) and not k.startswith("retry_")} == {str}
    direct = pl.scan_parquet(s3_store.uri + "weather/2024/*.parquet", storage_options=opts)
    assert_frame_equal(_sorted(direct), _sorted(s3_store["weather/2024/"]))

    fs_opts = s3_store.storage_options(engine="fsspec")
    assert fs_opts["key"] == s3_server.access_key_id and fs_opts["secret"] == s3_server.secret_access_key
    assert fs_opts["endpoint_url"] == s3_server.endpoint_url
    assert fs_opts["client_kwargs"] == {"region_name": s3_server.region, "verify": True}
    import s3fs

    fs = s3fs.S3FileSystem(**fs_opts)
    listed = sorted(p.rsplit("/", 1)[1] for p in fs.ls(s3_store.uri + "weather/2024/"))
    assert listed == [f"{m}.parquet" for m in sorted(MONTHS)]

    with AutoStore(tmp_path, options=[s3_store.options]) as local:
        assert local.storage_options() == {}
        assert local.storage_options(engine="fsspec") == {}
        # (s3fs/botocore edit the dicts they are given: compare with a fresh one)
        assert local.storage_options(s3_store.uri, engine="fsspec") == s3_store.storage_options(engine="fsspec")
        lf = local[s3_store.uri + "weather/2024/"]  # cross-backend dataset, same credentials
        assert lf.collect().height == 9
    with pytest.raises(ConfigError, match="engine="):
        s3_store.storage_options(engine="spark")


def _no_aws_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
    ):
        monkeypatch.delenv(name, raising=False)


@env_test(_no_aws_identity)
def test_storage_options_follow_env_and_profiles(
    s3_server: S3Server, shared_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"s3://{shared_bucket}/{uuid.uuid4().hex[:8]}/"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
    env_store = AutoStore(prefix, endpoint_url=s3_server.endpoint_url)
    opts = env_store.storage_options()
    assert opts["aws_access_key_id"] == s3_server.access_key_id and opts["aws_region"] == "us-east-1"
    env_store.write("ds/", pl.DataFrame({"k": ["a", "b"], "v": [1, 2]}), partition_by="k")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    config = tmp_path / "config"
    config.write_text(f"[profile dsprof]\nregion = us-east-1\nendpoint_url = {s3_server.endpoint_url}\n")
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[dsprof]\naws_access_key_id = {s3_server.access_key_id}\n"
        f"aws_secret_access_key = {s3_server.secret_access_key}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    with AutoStore(prefix, profile_name="dsprof") as store:
        p_opts = store.storage_options()
        assert p_opts["aws_profile"] == "dsprof" and "aws_access_key_id" not in p_opts
        assert p_opts["aws_endpoint_url"] == s3_server.endpoint_url  # the profile's endpoint
        assert _sorted(store["ds/"], "v").rows() == [(1, "a"), (2, "b")]  # polars reads with the profile
        f_opts = store.storage_options(engine="fsspec")
        assert f_opts["profile"] == "dsprof" and "key" not in f_opts
        assert s3_server.secret_access_key not in repr(store)


@env_test(_no_profile)
def test_dask_reads_a_partitioned_dataset(s3_store: AutoStore) -> None:
    dd = require("dask.dataframe")
    distributed = require("distributed")
    n = 2000
    df = pl.DataFrame(
        {
            "id": list(range(n)),
            "region": [["eu", "us", "apac"][i % 3] for i in range(n)],
            "amount": [i * 0.5 for i in range(n)],
        }
    )
    s3_store.write("dask/", df, partition_by="region")
    expected = _sorted(s3_store["dask/"].select("id", "region", "amount"), "id")

    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0", silence_logs=40
        ) as cluster,
        distributed.Client(cluster, timeout="60s") as client,
    ):
        ddf = dd.read_parquet(s3_store.uri + "dask/", storage_options=s3_store.storage_options(engine="fsspec"))
        assert ddf.npartitions == 3
        future = client.compute(ddf)
        pdf = future.result(timeout=120)
        assert len(client.scheduler_info()["workers"]) == 2
    got = pl.from_pandas(pdf.reset_index(drop=True)).with_columns(pl.col("region").cast(pl.String))
    assert_frame_equal(_sorted(got.select("id", "region", "amount"), "id"), expected)


def test_close_then_reuse(store: AutoStore) -> None:
    _weather(store)
    store.close()
    assert store["weather/2024/"].collect().height == 9
