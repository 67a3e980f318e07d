"""Delta Lake tables through autostore (deltalake, delta-rs) on local disk, SeaweedFS and Azurite:
writes in every mode, merge, time travel by version and by moment, history, restore, four
processes appending at once, hand-off to and from deltalake itself, and bad input refused before
anything is written."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import deltalake
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from autostore import (
    AlreadyExists,
    AutoPath,
    AutoStore,
    AzureOptions,
    ConfigError,
    FormatError,
    MissingDependency,
    NotFound,
    UnsupportedOperation,
)
from autostore.delta import TableVersion, location
from autostore.testing import S3Server
from helpers import base_env, in_child
from servers import Azurite
from workers import drain

ROOT = Path(__file__).resolve().parent.parent


def _sorted(frame: Any, by: str = "id") -> pl.DataFrame:
    df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    return df.sort(by)


def _uri(store: AutoStore, folder: str) -> tuple[str, dict[str, str] | None]:
    """The table's URI and storage options, as deltalake itself is given them."""
    backend, full = store._target(folder)
    return location(backend, full)


def _files(store: AutoStore, folder: str) -> list[str]:
    return sorted(f for f in store.list_files(folder + "**") if "_delta_log" not in f)


def _commits(store: AutoStore, folder: str) -> list[str]:
    return sorted(f for f in store.list_files(folder + "_delta_log/*") if f.endswith(".json"))


def _wait_for_later_commit(store: AutoStore, folder: str) -> None:
    """On S3 commit times have 1 s resolution: wait (< ~1 s, bounded) until the next commit gets a
    later server timestamp than the last one."""
    if not store.uri.startswith("s3://"):
        return
    last = store.history(folder)[0].timestamp
    assert last is not None
    target = last.replace(microsecond=0) + timedelta(seconds=1, milliseconds=50)
    for _ in range(100):
        if datetime.now(UTC) >= target:
            return
        time.sleep(0.03)
    raise AssertionError("clock did not advance")


SALES = pl.DataFrame({"id": [1, 2, 3], "region": ["eu", "us", "eu"], "amount": [10.0, 20.0, 30.0]})


# -- writing and reading ----------------------------------------------------------------------------
def test_write_creates_a_table_that_reads_as_scan_delta(store: AutoStore) -> None:
    assert store.write("sales/", SALES, format="delta") == "sales/"
    assert _commits(store, "sales/") == ["sales/_delta_log/00000000000000000000.json"]
    lf = store["sales/"]
    assert isinstance(lf, pl.LazyFrame)
    assert_frame_equal(_sorted(lf), SALES)
    assert_frame_equal(_sorted(store["sales"]), SALES)  # without the slash: a folder, so the table
    assert_frame_equal(_sorted(store.read("sales/", format="delta")), SALES)
    assert_frame_equal(_sorted(AutoPath("sales", store=store).load()), SALES)
    uri, options = _uri(store, "sales/")
    assert_frame_equal(_sorted(pl.read_delta(uri, storage_options=options)), SALES)  # a real Delta table


def test_reads_never_include_files_the_log_removed(store: AutoStore) -> None:
    store.write("sales/", SALES, format="delta")
    store.write("sales/", SALES.head(1), format="delta", mode="overwrite")
    assert len(_files(store, "sales/")) == 2  # the old data file is still in the folder ...
    assert store.read("sales/", format="parquet").collect().height == 4  # ... a plain scan would see it
    assert_frame_equal(_sorted(store["sales/"]), SALES.head(1))  # the table does not


def test_append_error_and_ignore_modes(store: AutoStore) -> None:
    store.write("sales/", SALES, format="delta", mode="error")  # no table yet: created
    store.write("sales/", SALES.with_columns(pl.col("id") + 10), format="delta", mode="append")
    assert store["sales/"].collect().height == 6
    commits = _commits(store, "sales/")
    with pytest.raises(AlreadyExists, match="mode='error'"):
        store.write("sales/", SALES, format="delta", mode="error")
    assert store.write("sales/", SALES, format="delta", mode="ignore") == "sales/"
    assert _commits(store, "sales/") == commits  # neither wrote anything
    assert store["sales/"].collect().height == 6
    assert [v.operation for v in store.history("sales/")] == ["WRITE", "WRITE"]


def test_overwrite_replaces_rows_and_schema_in_one_commit(store: AutoStore) -> None:
    store.write("sales/", SALES, format="delta")
    new = pl.DataFrame({"id": [7], "note": ["schema changed"]})
    store.write("sales/", new, format="delta", mode="overwrite")
    assert_frame_equal(store["sales/"].collect(), new)
    assert_frame_equal(_sorted(store.read("sales/", version=0)), SALES)  # the old version stays readable


def test_plain_writes_to_a_table_go_through_delta_or_are_refused(store: AutoStore) -> None:
    store.write("sales/", SALES, format="delta")
    store["sales/"] = SALES.head(2)  # no format: the folder is a Delta table, so a Delta overwrite
    assert_frame_equal(_sorted(store["sales/"]), SALES.head(2))
    assert [v.version for v in store.history("sales/")] == [1, 0]
    files, commits = _files(store, "sales/"), _commits(store, "sales/")
    with pytest.raises(FormatError, match="is a Delta table"):
        store.write("sales/", SALES, format="parquet")
    with pytest.raises(FormatError, match="is a Delta table"):
        store.write("sales/", SALES, format="csv", mode="append")
    assert (_files(store, "sales/"), _commits(store, "sales/")) == (files, commits)


def test_a_table_is_not_written_over_a_plain_dataset(store: AutoStore) -> None:
    store["plain/"] = SALES
    before = _files(store, "plain/")
    with pytest.raises(FormatError, match="plain data files but no Delta log"):
        store.write("plain/", SALES, format="delta")
    assert _files(store, "plain/") == before and _commits(store, "plain/") == []


def test_partition_by_writes_hive_folders_inside_the_table(store: AutoStore) -> None:
    store.write("sales/", SALES, format="delta", partition_by=["region"])
    assert all(f.startswith(("sales/region=eu/", "sales/region=us/")) for f in _files(store, "sales/"))
    assert_frame_equal(_sorted(store["sales/"]).select(SALES.columns), SALES)
    assert store["sales/"].filter(pl.col("region") == "us").collect()["id"].to_list() == [2]
    uri, options = _uri(store, "sales/")
    assert deltalake.DeltaTable(uri, storage_options=options).metadata().partition_columns == ["region"]


def test_lazyframes_are_written_too(store: AutoStore) -> None:
    lf = SALES.lazy().filter(pl.col("amount") > 15).with_columns(pl.col("amount") * 2)
    store.write("lazy/", lf, format="delta")
    assert_frame_equal(_sorted(store["lazy/"]), lf.collect().sort("id"))


# -- merge ----------------------------------------------------------------------------------------------
def test_merge_updates_matching_rows_and_inserts_the_rest_in_one_commit(store: AutoStore) -> None:
    store.write("sales/", SALES, format="delta")
    changes = pl.DataFrame({"id": [2, 4], "region": ["us", "apac"], "amount": [25.0, 40.0]})
    store.write("sales/", changes, format="delta", mode="merge", on=["id"])
    expected = pl.DataFrame(
        {"id": [1, 2, 3, 4], "region": ["eu", "us", "eu", "apac"], "amount": [10.0, 25.0, 30.0, 40.0]}
    )
    assert_frame_equal(_sorted(store["sales/"]), expected)
    latest = store.history("sales/")[0]
    assert isinstance(latest, TableVersion)
    assert (latest.version, latest.operation, latest.rows_added, latest.rows_updated) == (1, "MERGE", 1, 1)
    store.write("sales/", changes.lazy().with_columns(pl.col("amount") + 1), format="delta", mode="merge", on="id")
    assert _sorted(store["sales/"])["amount"].to_list() == [10.0, 26.0, 30.0, 41.0]
    assert len(store.history("sales/")) == 3


def test_merge_on_several_columns_and_into_a_new_table(store: AutoStore) -> None:
    store.write("m/", SALES, format="delta", mode="merge", on=["id", "region"])  # no table yet: all inserted
    assert_frame_equal(_sorted(store["m/"]), SALES)
    store.write("m/", pl.DataFrame({"id": [1, 1], "region": ["eu", "us"], "amount": [0.5, 0.25]}), format="delta",
                mode="merge", on=["id", "region"])  # fmt: skip
    got = store["m/"].sort("id", "region").collect()
    assert got.select("id", "region", "amount").rows() == [
        (1, "eu", 0.5), (1, "us", 0.25), (2, "us", 20.0), (3, "eu", 30.0)
    ]  # fmt: skip


def test_bad_merges_are_refused_and_nothing_is_written(store: AutoStore) -> None:
    store.write("sales/", SALES, format="delta")
    commits, files = _commits(store, "sales/"), _files(store, "sales/")
    with pytest.raises(ConfigError, match=r"needs on=\[\.\.\.\]"):
        store.write("sales/", SALES, format="delta", mode="merge")
    with pytest.raises(ConfigError, match="not in the frame"):
        store.write("sales/", SALES, format="delta", mode="merge", on="nope")
    with pytest.raises(ConfigError, match="mode='merge' only"):
        store.write("sales/", SALES, format="delta", mode="append", on="id")
    with pytest.raises(ConfigError, match="mode="):
        store.write("sales/", SALES, format="delta", mode="upsert")
    with pytest.raises(ConfigError, match="partition_by"):
        store.write("sales/", SALES, format="delta", mode="append", partition_by="nope")
    with pytest.raises(FormatError, match="only polars DataFrames"):
        store.write("sales/", {"id": 1}, format="delta")
    with pytest.raises(FormatError, match="schema"):
        store.write("sales/", pl.DataFrame({"other": ["x"]}), format="delta", mode="append")
    assert (_commits(store, "sales/"), _files(store, "sales/")) == (commits, files)
    store["plain/"] = SALES
    with pytest.raises(ConfigError, match="Delta tables only"):
        store.write("plain/", SALES, mode="merge", on="id")
    assert _commits(store, "plain/") == []
    assert_frame_equal(_sorted(store["sales/"]), SALES)


# -- time travel and history ----------------------------------------------------------------------------
def test_time_travel_by_version_and_as_of(store: AutoStore) -> None:
    store.write("t/", SALES.head(1), format="delta")
    _wait_for_later_commit(store, "t/")
    store.write("t/", SALES.slice(1, 1), format="delta", mode="append")
    _wait_for_later_commit(store, "t/")
    store.write("t/", SALES.slice(2, 1), format="delta", mode="overwrite")
    assert [_sorted(store.read("t/", version=v))["id"].to_list() for v in (0, 1, 2)] == [[1], [1, 2], [3]]
    assert _sorted(store.read("t", version="1"))["id"].to_list() == [1, 2]  # text from the CLI
    assert _sorted(AutoPath("t", store=store).load(version=0))["id"].to_list() == [1]

    history = store.history("t/")
    times = [v.timestamp for v in history[::-1]]  # versions 0, 1, 2: the server's commit times
    assert all(t is not None for t in times) and times == sorted(times)  # type: ignore[type-var]
    t0, t1, t2 = times
    assert t0 < t1 < t2  # type: ignore[operator]
    between = t0 + (t1 - t0) / 2  # type: ignore[operator]
    assert _sorted(store.read("t/", as_of=between))["id"].to_list() == [1]
    assert _sorted(store.read("t/", as_of=t1))["id"].to_list() == [1, 2]
    assert _sorted(store.read("t/", as_of=datetime.now(UTC)))["id"].to_list() == [3]
    assert _sorted(store.read("t/", as_of=between.isoformat()))["id"].to_list() == [1]  # type: ignore[union-attr]
    before = t0 - timedelta(seconds=3)  # type: ignore[operator]
    with pytest.raises(NotFound, match="did not exist at " + before.isoformat().replace("+", r"\+")):
        store.read("t/", as_of=before)


def test_bad_table_versions_raise_typed_errors(store: AutoStore) -> None:
    store.write("t/", SALES, format="delta")
    with pytest.raises(NotFound, match="no version 5: its latest is 0"):
        store.read("t/", version=5)
    with pytest.raises(ConfigError, match="whole numbers"):
        store.read("t/", version="abc")
    with pytest.raises(ConfigError, match="whole numbers"):
        store.read("t/", version=-1)
    with pytest.raises(ConfigError, match="in the future"):
        store.read("t/", as_of=datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(UnsupportedOperation, match="scanned in place"):
        store.read("t/", cache=True)
    with pytest.raises(NotFound, match="No Delta table"):
        store.history("nothing/")
    with pytest.raises(NotFound, match="No Delta table"):
        store.read("nothing/", format="delta")
    with pytest.raises(NotFound, match="no version 3"):
        store.restore("t/", 3)
    assert len(store.history("t/")) == 1


def test_history_lists_versions_with_operations_and_row_counts(store: AutoStore) -> None:
    store.write("h/", SALES, format="delta")
    store.write("h/", SALES.head(1).with_columns(pl.col("id") + 10), format="delta", mode="append")
    store.write("h/", SALES.head(2), format="delta", mode="merge", on="id")
    history = store.history("h")
    assert [(v.version, v.operation) for v in history] == [(2, "MERGE"), (1, "WRITE"), (0, "WRITE")]
    assert [v.rows_added for v in history] == [0, 1, 3]
    assert history[0].rows_updated == 2 and history[0].rows_removed == 0
    assert history[1].parameters["mode"] == "Append"
    assert history[0].info["operation"] == "MERGE" and "timestamp" in history[0].info
    assert history[0].as_dict()["version"] == 2


def test_restore_makes_an_old_table_version_current_with_a_new_commit(store: AutoStore) -> None:
    store.write("r/", SALES, format="delta")
    store.write("r/", SALES.head(1), format="delta", mode="overwrite")
    assert store.restore("r/", 0) == 2
    assert_frame_equal(_sorted(store["r/"]), SALES)
    assert [v.operation for v in store.history("r/")] == ["RESTORE", "WRITE", "WRITE"]
    assert_frame_equal(_sorted(store.read("r/", version=1)), SALES.head(1))  # nothing in between was lost


# -- hand-off to and from deltalake ---------------------------------------------------------------------
def test_a_table_written_by_deltalake_reads_through_autostore(store: AutoStore) -> None:
    backend, full = store._target("ext/")
    uri, options = location(backend, full)
    if options is not None:
        options = store.storage_options(engine="delta")  # the hand-off dict, as a user would use it
    deltalake.write_deltalake(uri, SALES.to_arrow(), storage_options=options)
    deltalake.write_deltalake(uri, SALES.head(1).to_arrow(), mode="append", storage_options=options)
    assert _sorted(store["ext/"])["id"].to_list() == [1, 1, 2, 3]
    assert_frame_equal(_sorted(store.read("ext/", version=0)), SALES)
    assert [v.version for v in store.history("ext/")] == [1, 0]


def test_a_table_written_by_autostore_opens_in_deltalake_and_polars(store: AutoStore) -> None:
    store.write("out/", SALES, format="delta", partition_by="region")
    store.write("out/", SALES.head(1), format="delta", mode="append")
    uri, _ = _uri(store, "out/")
    options = store.storage_options(engine="delta") if store.uri.startswith("s3://") else None
    table = deltalake.DeltaTable(uri, storage_options=options)
    assert table.version() == 1
    got = pl.from_arrow(table.to_pyarrow_table())
    assert isinstance(got, pl.DataFrame)
    assert sorted(got["id"].to_list()) == [1, 1, 2, 3]
    assert pl.read_delta(uri, version=0, storage_options=options).height == 3


def test_storage_options_delta_spelling(s3_store: AutoStore, local_store: AutoStore, s3_server: S3Server) -> None:
    opts = s3_store.storage_options(engine="delta")
    assert opts["aws_conditional_put"] == "etag"  # safe concurrent commits without a lock service
    assert opts["aws_endpoint_url"] == opts["aws_endpoint_url_s3"] == s3_server.endpoint_url
    assert opts["aws_allow_http"] == "true" and opts["aws_region"] == "us-east-1"
    assert opts["aws_access_key_id"] == s3_server.access_key_id
    assert all(isinstance(v, str) for v in opts.values())
    assert local_store.storage_options(engine="delta") == {}
    with pytest.raises(ConfigError, match="delta"):
        AutoStore("memory://x/").storage_options(engine="delta")


def test_environment_cannot_redirect_a_tables_requests(s3_store: AutoStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # deltalake reads AWS_* variables itself; what the store was given must win.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "not-a-token")
    s3_store.write("env/", SALES, format="delta")
    s3_store.write("env/", SALES.head(1), format="delta", mode="append")
    assert s3_store["env/"].collect().height == 4
    assert len(s3_store.history("env/")) == 2


def test_profile_credentials_reach_deltalake(s3_server: S3Server, shared_bucket: str, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(f"[profile deltaprof]\nregion = us-east-1\nendpoint_url = {s3_server.endpoint_url}\n")
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[deltaprof]\naws_access_key_id = {s3_server.access_key_id}\n"
        f"aws_secret_access_key = {s3_server.secret_access_key}\n"
    )
    # This test reads the environment (a profile) on purpose: in a child, see helpers.in_child.
    env = {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(creds)}
    in_child(env, _profile_reaches_deltalake, s3_server, shared_bucket)


def _profile_reaches_deltalake(s3_server: S3Server, shared_bucket: str) -> None:
    with AutoStore(f"s3://{shared_bucket}/{uuid.uuid4().hex[:8]}/", profile_name="deltaprof") as store:
        store.write("p/", SALES, format="delta")
        assert_frame_equal(_sorted(store["p/"]), SALES)
        opts = store.storage_options(engine="delta")
        assert opts["aws_access_key_id"] == s3_server.access_key_id  # the profile's keys, resolved by boto3
        assert opts["aws_endpoint_url"] == s3_server.endpoint_url


# -- concurrency --------------------------------------------------------------------------------------------
ROWS_PER_WRITER = 50


def _append_worker(store: AutoStore, worker: int, barrier: Any, results: Any) -> None:
    signal.alarm(180)
    try:
        ids = range(worker * ROWS_PER_WRITER, (worker + 1) * ROWS_PER_WRITER)
        frame = pl.DataFrame({"id": ids, "worker": [worker] * ROWS_PER_WRITER})
        barrier.wait(120)  # all four commit at once
        store.write("race/", frame, format="delta", mode="append")
        results.put({"worker": worker, "pid": os.getpid()})
    except BaseException as exc:
        results.put({"worker": worker, "error": repr(exc)})
        raise


def test_four_processes_appending_at_once_make_four_commits_with_every_row_once(s3_store: AutoStore) -> None:
    s3_store.write("race/", pl.DataFrame({"id": [-1], "worker": [-1]}), format="delta")
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_append_worker, args=(s3_store, w, barrier, results)) for w in range(4)]
    for p in procs:
        p.start()
    got = drain(results, 4, timeout=240)
    for p in procs:
        p.join(30)
        if p.is_alive():
            p.kill()
    assert sorted(r["worker"] for r in got) == [0, 1, 2, 3], got
    assert not [r for r in got if "error" in r], got
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    history = s3_store.history("race/")
    assert [v.version for v in history] == [4, 3, 2, 1, 0]
    assert [v.parameters.get("mode") for v in history[:4]] == ["Append"] * 4
    rows = s3_store["race/"].collect()
    assert sorted(rows["id"].to_list()) == [-1, *range(4 * ROWS_PER_WRITER)]  # every row, once
    assert rows.group_by("worker").len().sort("worker")["len"].to_list() == [1] + [ROWS_PER_WRITER] * 4


# -- other backends ------------------------------------------------------------------------------------------
@pytest.fixture
def az_store(azurite: Azurite) -> Iterator[AutoStore]:
    container = "delta" + uuid.uuid4().hex[:8]
    azurite.create_container(container)
    with AutoStore(f"az://{container}/data/", options=AzureOptions(**azurite.options_kwargs())) as store:  # type: ignore[arg-type]
        yield store


def test_delta_tables_on_azure(az_store: AutoStore, azurite: Azurite) -> None:
    """Two commits only: from the third on, deltalake 1.6.6 fails on Azurite ("Invalid table
    version: 1") because Azurite ignores the list offset (startFrom) delta-rs asks for."""
    az_store.write("sales/", SALES, format="delta")
    az_store.write("sales/", pl.DataFrame({"id": [2, 4], "region": ["us", "eu"], "amount": [99.0, 1.0]}),
                   format="delta", mode="merge", on="id")  # fmt: skip
    assert _sorted(az_store["sales/"])["amount"].to_list() == [10.0, 99.0, 30.0, 1.0]
    assert_frame_equal(_sorted(az_store.read("sales/", version=0)), SALES)
    assert [v.operation for v in az_store.history("sales/")] == ["MERGE", "WRITE"]
    opts = az_store.storage_options(engine="delta")
    assert opts["account_name"] == "devstoreaccount1" and opts["allow_http"] == "true"
    container = az_store.primary_backend.bucket
    table = deltalake.DeltaTable(f"az://{container}/data/sales", storage_options=opts)
    assert table.version() == 1
    az_store.write("other/", SALES, format="delta", partition_by="region")
    az_store.write("other/", SALES.head(1), format="delta", mode="append")
    assert _sorted(az_store["other/"])["id"].to_list() == [1, 1, 2, 3]


def test_delta_on_backends_deltalake_cannot_reach_is_refused() -> None:
    store = AutoStore(f"memory://m{uuid.uuid4().hex[:8]}/")
    with pytest.raises(UnsupportedOperation, match="local disk, an S3-compatible store or Azure"):
        store.write("t/", SALES, format="delta")
    assert store.keys() == []


def test_missing_deltalake_raises_missing_dependency_naming_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['deltalake'] = None  # as if not installed: import fails, find_spec finds nothing\n"
        "import polars as pl\n"
        "from autostore import AutoStore, MissingDependency\n"
        "store = AutoStore(sys.argv[1])\n"
        "store['plain/'] = pl.DataFrame({'a': [1]})\n"
        "assert store['plain/'].collect().height == 1\n"  # plain datasets need no deltalake
        "try:\n"
        "    store.write('t/', pl.DataFrame({'a': [1]}), format='delta')\n"
        "except MissingDependency as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d")], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert 'pip install "autostore[delta]"' in out.stdout
    assert not (tmp_path / "d" / "t").exists()
    assert issubclass(MissingDependency, ImportError)


# -- command line -------------------------------------------------------------------------------------------
def test_cli_lists_table_history_and_shows_old_versions(s3_server: S3Server, s3_store: AutoStore) -> None:
    import json

    s3_store.write("cli/", SALES, format="delta")
    s3_store.write("cli/", SALES.head(1), format="delta", mode="overwrite")
    env = base_env(**s3_server.env())

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "autostore", *args], capture_output=True, text=True, env=env,
                              timeout=120)  # fmt: skip

    listed = run("--json", "versions", s3_store.uri + "cli/")
    assert listed.returncode == 0, listed.stderr
    assert [(c["version"], c["operation"], c["rows_added"]) for c in json.loads(listed.stdout)] == [
        (1, "WRITE", 1),
        (0, "WRITE", 3),
    ]
    shown = run("--json", "cat", s3_store.uri + "cli", "--version", "0")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["format"] == "delta" and sorted(r["id"] for r in report["head"]) == [1, 2, 3]
    restored = run("restore", s3_store.uri + "cli/", "--version", "0")
    assert restored.returncode == 0 and "new version 2" in restored.stdout
    assert _sorted(s3_store["cli/"])["id"].to_list() == [1, 2, 3]
    bad = run("cat", s3_store.uri + "cli/", "--version", "9")
    assert bad.returncode == 3 and "no version 9" in bad.stderr
