"""store["folder/"] on S3: a full scan fetches each small parquet file whole (one GET each,
counted in store.stats()); filters, projections and heads read in place through polars; results
always equal polars' own scan of the same files."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from autostore import AutoStore, S3Options
from autostore import prefetch as prefetch_module
from autostore.testing import S3Server
from counting_proxy import CountingProxy


@pytest.fixture
def dataset(s3_server: S3Server, shared_bucket: str, proxy: CountingProxy) -> tuple[AutoStore, str, int]:
    """6 files in hive folders year=2023|2024 / region=eu|us|__HIVE_DEFAULT_PARTITION__, read
    through the counting proxy. Returns (store, folder URI, number of files)."""
    opts = S3Options(**{**s3_server.options_kwargs(), "endpoint_url": proxy.url})
    store = AutoStore(f"s3://{shared_bucket}/prefetch-{uuid.uuid4().hex[:8]}/", options=opts)
    n = 0
    for year in (2023, 2024):
        for region in ("eu", "us", "__HIVE_DEFAULT_PARTITION__"):
            frame = pl.DataFrame({"id": [n * 10 + i for i in range(10)], "x": [float(i) for i in range(10)]})
            store[f"sales/year={year}/region={region}/part-0.parquet"] = frame
            n += 1
    return store, store.uri + "sales/", n


def native(store: AutoStore, uri: str) -> pl.LazyFrame:
    return pl.scan_parquet(uri + "**/*.parquet", hive_partitioning=True, storage_options=store.storage_options())


def object_gets(proxy: CountingProxy) -> list[tuple[bool, int | None]]:
    return [(e.ranged, e.status) for e in proxy.exchanges if e.method == "GET" and "list-type" not in e.query]


def test_a_full_scan_fetches_each_file_whole_and_equals_polars(
    dataset: tuple[AutoStore, str, int], proxy: CountingProxy
) -> None:
    store, uri, files = dataset
    lf = store["sales/"]
    assert "autostore" in lf.explain()
    assert lf.collect_schema() == native(store, uri).collect_schema()
    for engine in ("streaming", "in-memory"):
        store.stats(reset=True)
        proxy.reset()
        got = lf.collect(engine=engine)  # type: ignore[call-overload]
        assert object_gets(proxy) == [(False, 200)] * files  # one plain GET per file, no ranges
        stats = store.stats()
        assert stats.requests["GET"] == files and stats.bytes_down == sum(e.body_bytes for e in proxy.exchanges)
        expected = native(store, uri).collect()
        assert_frame_equal(got.sort("id"), expected.sort("id"))
    assert got.filter(pl.col("region").is_null()).height == 20  # the default partition is null


def test_selective_queries_read_in_place(dataset: tuple[AutoStore, str, int], proxy: CountingProxy) -> None:
    store, uri, _files = dataset
    lf = store["sales/"]
    queries = {
        "filter": lambda f: f.filter((pl.col("year") == 2024) & (pl.col("region") == "eu")),
        "columns": lambda f: f.select("id", "year"),
        "head": lambda f: f.head(3),
        "aggregate": lambda f: f.group_by("year").agg(pl.col("x").sum()).sort("year"),
    }
    for name, query in queries.items():
        store.stats(reset=True)
        proxy.reset()
        got = query(lf).collect()
        gets = object_gets(proxy)
        assert gets and all(ranged for ranged, _ in gets), name  # polars' ranged reads, in place
        assert store.stats().requests["GET"] == 0, name  # polars' own requests are not the store's
        expected = query(native(store, uri)).collect()
        if name == "head":
            assert got.height == 3 and got.columns == expected.columns
        else:
            assert_frame_equal(got.sort(got.columns), expected.sort(expected.columns), check_row_order=False)
    proxy.reset()
    lf.filter(pl.col("year") == 2023).collect()
    assert all("/year=2023/" in e.path for e in proxy.exchanges if "list-type" not in e.query)  # pruned


def test_big_files_are_always_read_in_place(
    dataset: tuple[AutoStore, str, int], proxy: CountingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _uri, _files = dataset
    monkeypatch.setattr(prefetch_module, "MAX_FILE", 100)  # every file of the dataset is "big"
    lf = store["sales/"]
    assert "autostore" not in lf.explain()
    proxy.reset()
    assert lf.collect().height == 60
    assert all(ranged for ranged, _ in object_gets(proxy))


def test_a_broken_file_fails_when_the_query_runs_as_before(dataset: tuple[AutoStore, str, int]) -> None:
    store, _uri, _files = dataset
    store.primary_backend.put_bytes("sales/year=2023/region=eu/part-0.parquet", b"not parquet at all")
    lf = store["sales/"]  # the broken file is not read yet
    for query in (lambda f: f, lambda f: f.filter(pl.col("region") == "eu")):  # whole files, in place
        with pytest.raises(pl.exceptions.PolarsError):
            query(lf).collect()
    store.primary_backend.put_bytes("sales/year=2023/region=__HIVE_DEFAULT_PARTITION__/part-0.parquet", b"broken")
    lf = store["sales/"]  # no schema from the first file: still no error before the query runs
    with pytest.raises(pl.exceptions.PolarsError, match="parquet"):
        lf.collect()


def test_building_the_lazy_frame_reads_one_footer_and_a_full_scan_no_other(
    dataset: tuple[AutoStore, str, int], proxy: CountingProxy
) -> None:
    store, uri, files = dataset
    proxy.reset()
    lf = store["sales/"]
    assert object_gets(proxy) == [(True, 206)]  # the first file's footer: polars would read 16
    assert lf.collect_schema() == native(store, uri).collect_schema()
    proxy.reset()
    lf = store["sales/"]
    lf.collect()
    assert sorted(object_gets(proxy)) == sorted([(True, 206)] + [(False, 200)] * files)


MISMATCHED = {
    "extra column": ([{"a": [1]}, {"a": [2], "b": [3]}], pl.exceptions.SchemaError, "extra column"),
    "missing column": ([{"a": [1], "b": [3]}, {"a": [2]}], pl.exceptions.ColumnNotFoundError, "b"),
    "other type": ([{"a": [1]}, {"a": [2.5]}], pl.exceptions.SchemaError, "data type mismatch for column a"),
    "other order": ([{"a": [1], "b": [3]}, {"b": [4], "a": [2]}], None, ""),
}


@pytest.mark.parametrize("case", list(MISMATCHED))
def test_files_whose_columns_differ_fail_as_in_polars_own_scan(
    s3_server: S3Server, shared_bucket: str, case: str
) -> None:
    frames, error, words = MISMATCHED[case]
    opts = S3Options(**s3_server.options_kwargs())  # type: ignore[arg-type]
    store = AutoStore(f"s3://{shared_bucket}/mismatch-{uuid.uuid4().hex[:8]}/", options=opts)
    for i, columns in enumerate(frames):
        store[f"ds/p{i}.parquet"] = pl.DataFrame(columns)
    ours = store["ds/"]
    theirs = pl.scan_parquet(store.uri + "ds/*.parquet", storage_options=store.storage_options())
    assert "autostore" in ours.explain()  # the whole-file full scan, not polars' reader
    for query in (lambda f: f, lambda f: f.filter(pl.col("a") > 0)):
        if error is None:
            assert_frame_equal(query(ours).collect(), query(theirs).collect())
            continue
        with pytest.raises(error):
            query(theirs).collect()
        with pytest.raises(error, match=words) as caught:
            query(ours).collect()  # never a PanicException, never a silently dropped column
        if query(ours) is ours:
            assert "p1.parquet" in str(caught.value)  # names the odd file


def list_prefixes(proxy: CountingProxy) -> list[str]:
    """The prefix of each LIST request the server saw, in order."""
    lists = [e for e in proxy.exchanges if e.method == "GET" and "list-type" in e.query]
    return [parse_qs(e.query).get("prefix", [""])[0] for e in lists]


def test_one_listing_decides_delta_or_plain_and_serves_the_scan(
    dataset: tuple[AutoStore, str, int], proxy: CountingProxy
) -> None:
    store, uri, files = dataset
    store.stats(reset=True)
    proxy.reset()
    lf = store["sales/"]
    folder = uri.removeprefix(f"s3://{uri.split('/')[2]}/")
    assert [p.rstrip("/") for p in list_prefixes(proxy)] == [folder.rstrip("/")]  # not also one for _delta_log/
    assert store.stats().requests["LIST page"] == 1
    assert lf.collect().height == files * 10


@pytest.mark.parametrize("column", ["region", "Region"])
def test_a_delta_table_is_still_read_as_delta_wherever_its_log_sorts(
    s3_server: S3Server, shared_bucket: str, proxy: CountingProxy, column: str
) -> None:
    # "Region=eu/..." sorts before "_delta_log/", "region=eu/..." after it: the listing that looks
    # for the log must not stop at the first data file, and must not scan the files as a dataset
    # (an overwritten table keeps its old files: a plain scan would return both versions' rows).
    opts = S3Options(**{**s3_server.options_kwargs(), "endpoint_url": proxy.url})
    store = AutoStore(f"s3://{shared_bucket}/deltalist-{uuid.uuid4().hex[:8]}/", options=opts)
    first = pl.DataFrame({column: ["eu", "us"], "v": [1, 2]})
    second = pl.DataFrame({column: ["eu", "us", "us"], "v": [10, 20, 30]})
    store.write("t/", first, format="delta", partition_by=column)
    store.write("t/", second, format="delta", mode="overwrite", partition_by=column)
    listed = s3_server.client().list_objects_v2(Bucket=shared_bucket, Prefix=store.uri.split("/", 3)[3] + "t/")
    assert len([o for o in listed["Contents"] if o["Key"].endswith(".parquet")]) == 4  # both versions' files
    proxy.reset()
    got = store["t/"].collect().sort("v")
    assert_frame_equal(got.select(column, "v"), second, check_dtypes=False)
    assert list_prefixes(proxy)  # it did list


def test_files_reach_polars_in_batches_in_file_order(monkeypatch: pytest.MonkeyPatch) -> None:
    frames = [pl.DataFrame({"id": [i, i], "x": [0.5, 1.5]}) for i in range(10)]
    monkeypatch.setattr(prefetch_module, "WINDOW", 4)
    batches = list(prefetch_module._batched(pl, iter(frames)))
    assert [b.height for b in batches] == [8, 8, 4]  # at most WINDOW files a frame
    assert_frame_equal(pl.concat(batches), pl.concat(frames))  # nothing lost, order kept
    monkeypatch.setattr(prefetch_module, "BATCH_BYTES", frames[0].estimated_size() * 2)
    assert [b.height for b in prefetch_module._batched(pl, iter(frames))] == [4] * 5  # or BATCH_BYTES
    monkeypatch.setattr(prefetch_module, "BATCH_BYTES", 1)
    alone = list(prefetch_module._batched(pl, iter(frames)))
    assert len(alone) == 10 and all(a is f for a, f in zip(alone, frames, strict=True))  # a bigger file alone


def test_a_full_scan_in_several_batches_equals_polars(
    dataset: tuple[AutoStore, str, int], proxy: CountingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, uri, files = dataset
    monkeypatch.setattr(prefetch_module, "WINDOW", 4)  # 6 files: a frame of 4, then one of 2
    proxy.reset()
    got = store["sales/"].collect()
    assert object_gets(proxy) == [(True, 206)] + [(False, 200)] * files  # the schema's footer, then each file
    assert_frame_equal(got.sort("id"), native(store, uri).collect().sort("id"))
