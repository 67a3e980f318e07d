"""Issue 13, point 6: a dataset overwrite that fails midway leaves exactly the old dataset.

New files get names no earlier write used (``part-<write id>-<n>``), old files are removed only
after every new one is in place, and a failed write removes what it placed. The faults are real:
an upload that the S3 server never completes (tests/faultproxy.py), and on local disk a partition
folder the store refuses to write into (a symlink leading outside its root).
"""

from __future__ import annotations

import io
import re
import signal
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from autostore import AutoStore, BackendError, InvalidKey, S3Options
from autostore.testing import S3Server
from conftest import Raw
from faultproxy import FaultProxy, Request

OLD = pl.DataFrame({"k": ["a", "b", "c"], "v": [1, 2, 3]})
NEW = pl.DataFrame({"k": ["a", "b", "c", "d", "e"], "v": [10, 20, 30, 40, 50]})
PART = re.compile(r"part-[0-9a-f]{16}-\d+\.parquet")


def _sorted(lf: Any) -> pl.DataFrame:
    df = lf.collect() if isinstance(lf, pl.LazyFrame) else lf
    return df.select("k", "v").sort("k")


def _snapshot(raw: Raw, folder: str) -> dict[str, bytes]:
    return {k: raw.read(k) for k in raw.keys() if k.startswith(folder)}  # noqa: SIM118 - Raw is not a dict


def test_overwrites_use_new_names_every_time(store: AutoStore, raw: Raw) -> None:
    seen: list[set[str]] = []
    for frame in (OLD, NEW, OLD):
        store.write("ds/", frame, partition_by="k")
        names = {k for k in raw.keys() if k.startswith("ds/")}  # noqa: SIM118 - Raw is not a dict
        assert all(PART.fullmatch(k.rpartition("/")[2]) for k in names), names
        seen.append(names)
        assert_frame_equal(_sorted(store["ds/"]), _sorted(frame))
    assert not (seen[0] & seen[1]) and not (seen[1] & seen[2]) and not (seen[0] & seen[2])
    store["flat/"] = OLD
    first = set(raw.keys()) - set().union(*seen)
    store["flat/"] = NEW
    second = {k for k in raw.keys() if k.startswith("flat/")}  # noqa: SIM118 - Raw is not a dict
    assert len(first) == len(second) == 1 and first != second


def test_failed_upload_midway_leaves_exactly_the_old_dataset(
    s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy
) -> None:
    kwargs: dict[str, Any] = dict(s3_server.options_kwargs(), endpoint_url=fault_proxy.endpoint_url)
    store = AutoStore(
        f"s3://{shared_bucket}/ow-{uuid.uuid4().hex[:8]}/", options=S3Options(**kwargs, max_retries=0)
    )
    raw = Raw(store, s3_server)
    store.write("ds/", OLD, partition_by="k")
    raw.write("ds/README.txt", b"not data")
    before = _snapshot(raw, "ds/")

    def fail_partition_d(req: Request) -> str | None:
        return "500" if req.method == "PUT" and "/ds/k=d/" in unquote(req.path) else None

    fault_proxy.plan = fail_partition_d  # the upload of one new file never succeeds
    with pytest.raises(BackendError) as info:
        store.write("ds/", NEW, partition_by="k")
    assert "k=d/part-" in str(info.value)
    assert fault_proxy.injected["500"] >= 1
    puts = [e for e in fault_proxy.log if e[1] == "PUT" and "/ds/k=" in unquote(e[2]) and e[3] is None]
    assert puts, "other new files were uploaded before the failure was seen"
    fault_proxy.plan = None
    assert _snapshot(raw, "ds/") == before  # byte for byte: no new file left, no old one lost
    assert_frame_equal(_sorted(store.read("ds/", format="parquet")), _sorted(OLD))
    store.close()


def test_ctrl_c_during_the_upload_leaves_exactly_the_old_dataset(
    s3_server: S3Server, shared_bucket: str, fault_proxy: FaultProxy
) -> None:
    kwargs: dict[str, Any] = dict(s3_server.options_kwargs(), endpoint_url=fault_proxy.endpoint_url)
    store = AutoStore(f"s3://{shared_bucket}/int-{uuid.uuid4().hex[:8]}/", options=S3Options(**kwargs))
    raw = Raw(store, s3_server)
    store.write("ds/", OLD, partition_by="k")
    before = _snapshot(raw, "ds/")
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread().ident == main

    def interrupt_on_partition_d(req: Request) -> str | None:
        if req.method == "PUT" and "/ds/k=d/" in unquote(req.path):
            signal.pthread_kill(main, signal.SIGINT)  # Ctrl-C while the uploads are in flight
            return "delay"  # this upload is still running when the interrupt lands
        return None

    fault_proxy.plan = interrupt_on_partition_d
    with pytest.raises(KeyboardInterrupt):
        store.write("ds/", NEW, partition_by="k")
    fault_proxy.plan = None
    assert _snapshot(raw, "ds/") == before
    assert_frame_equal(_sorted(store["ds/"]), _sorted(OLD))
    store.close()


def test_failed_placement_on_local_disk_leaves_exactly_the_old_dataset(tmp_path: Path) -> None:
    store = AutoStore(tmp_path / "data")
    raw = Raw(store, None)
    store.write("ds/", OLD, partition_by="k")
    outside = tmp_path / "outside"
    outside.mkdir()
    # Partition "d" of the new frame cannot be written: its folder is a symlink leading out of the
    # store, which the store refuses. Partitions "a".."c" are placed before it (name order).
    (tmp_path / "data" / "ds" / "k=d").symlink_to(outside)
    before = _snapshot(raw, "ds/")
    with pytest.raises(InvalidKey, match="outside the store root"):
        store.write("ds/", NEW, partition_by="k")
    assert _snapshot(raw, "ds/") == before
    assert list(outside.iterdir()) == []
    assert not [p for p in (tmp_path / "data").rglob("*") if ".autostore-tmp-" in p.name]  # no staging left
    assert_frame_equal(_sorted(store["ds/"]), _sorted(OLD))
    assert sorted(p.name for p in (tmp_path / "data" / "ds").iterdir()) == ["k=a", "k=b", "k=c", "k=d"]


def test_append_names_never_collide_and_keep_write_order(store: AutoStore, raw: Raw) -> None:
    for i in range(3):
        store.write("log/", pl.DataFrame({"k": ["x"], "v": [i]}), mode="append")
    names = sorted(k for k in raw.keys() if k.startswith("log/"))  # noqa: SIM118 - Raw is not a dict
    assert len(names) == 3 and all(PART.fullmatch(n.rpartition("/")[2]) for n in names)
    assert store["log/"].collect()["v"].to_list() == [0, 1, 2]  # ids sort in write order
    one = pl.read_parquet(io.BytesIO(raw.read(names[0])))
    assert one["v"].to_list() == [0]
