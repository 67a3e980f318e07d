"""Scale benchmark (on demand, not CI): a hive-partitioned parquet dataset of --size bytes on a
local S3 server, queried through ``store["folder/"]`` and through ``pl.scan_parquet`` directly
with the same storage options, then handed to a Dask LocalCluster.

    python bench/scale.py                 # 10 GB (needs ~2x that in free disk for SeaweedFS)
    python bench/scale.py --size 1GB --rounds 3

The dataset is generated with polars into SeaweedFS's data folder (a temporary folder, or
--data-dir; never the repository) as ``region=r0..r9/day=0..9/part-N.parquet``: 100 partitions,
columns id (int64), x, y (float64, random: incompressible), cat (string, 20 values).

Queries (each timed in a fresh subprocess that reports its peak RSS; variants interleaved; the
package's bytecode is written first, as an installed package has it):
- filter 1 %: ``region == "r3" and day == 7`` (one partition of 100), all columns;
- full aggregation: ``group_by("cat").agg(sum(x), mean(y), len())`` over every row.
Targets: time ratio autostore / polars <= 1.0, peak RSS < 1 GB. Requests: what autostore counted
(``store.stats()``) and, in an untimed pass through tests/counting_proxy.py, everything the server
saw (polars' own requests included); --no-count skips that pass (slow for 10 GB).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REGIONS = [f"r{i}" for i in range(10)]
DAYS = list(range(10))
CATS = [f"c{i:02d}" for i in range(20)]
ROW_BYTES = 17  # what a row costs in the files: x, y random; id and cat compress well
FILE_TARGET = 128 * 1024 * 1024  # bytes per file at most


def parse_size(text: str) -> int:
    from autostore.options import parse_size as parse

    value = parse(text, "--size")
    assert value is not None
    return value


# -- generation ------------------------------------------------------------------------------------
def generate(store: Any, folder: str, size: int, workers: int) -> tuple[int, int]:
    """Write the dataset (about ``size`` bytes) below ``folder``; returns (files, rows)."""
    import numpy as np
    import polars as pl

    partitions = [(r, d) for r in REGIONS for d in DAYS]
    per_partition = size // len(partitions)
    files_per = max(1, -(-per_partition // FILE_TARGET))
    rows_per_file = max(1, per_partition // files_per // ROW_BYTES)
    backend = store.primary_backend

    def one(task: tuple[int, str, int, int]) -> None:
        index, region, day, part = task
        rng = np.random.default_rng(index)
        start = index * rows_per_file
        frame = pl.DataFrame(
            {
                "id": np.arange(start, start + rows_per_file, dtype=np.int64),
                "x": rng.random(rows_per_file),
                "y": rng.normal(size=rows_per_file),
                "cat": pl.Series(rng.choice(CATS, size=rows_per_file)).cast(pl.Categorical).cast(pl.String),
            }
        )
        buf = io.BytesIO()
        frame.write_parquet(buf, statistics=True)
        backend.put_bytes(f"{folder}region={region}/day={day}/part-{part}.parquet", buf.getbuffer())

    tasks = []
    for i, (region, day) in enumerate(partitions):
        for part in range(files_per):
            tasks.append((i * files_per + part, region, day, part))
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        for n, _ in enumerate(pool.map(one, tasks), 1):
            if n % max(1, len(tasks) // 10) == 0:
                print(f"  generated {n}/{len(tasks)} files ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return len(tasks), len(tasks) * rows_per_file


# -- one query in a child process ----------------------------------------------------------------
CHILD = r"""
import json, sys, time
import polars as pl
spec = json.loads(sys.argv[1])
from autostore import AutoStore, S3Options
store = AutoStore(spec["uri"], options=S3Options(**spec["options"]))
def query(lf):
    if spec["query"] == "filter":
        return lf.filter((pl.col("region") == "r3") & (pl.col("day") == 7)).collect()
    return lf.group_by("cat").agg(pl.col("x").sum(), pl.col("y").mean(), pl.len()).sort("cat").collect()
start = time.perf_counter()
if spec["variant"] == "autostore":
    lf = store[spec["folder"]]
else:
    lf = pl.scan_parquet(spec["uri"] + spec["folder"] + "**/*.parquet", hive_partitioning=True,
                         storage_options=store.storage_options())
out = query(lf)
seconds = time.perf_counter() - start
stats = store.stats()
print(json.dumps({
    "seconds": seconds,
    # this process's own peak (ru_maxrss would include the parent's, inherited across exec)
    "rss": next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")),
    "rows": out.height,
    # float sums depend on the order rows were added in: compare them rounded
    "digest": (json.dumps([[r[0], round(r[1], 2), round(r[2], 9), r[3]] for r in out.rows()])
               if spec["query"] == "agg" else [out.height, int(out["id"].sum())]),
    "requests": stats.total_requests,
    "by_kind": {k: n for k, n in stats.requests.items() if n},
}))
"""


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(spec)], env=env, capture_output=True, text=True, timeout=7200
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def count_requests(server: Any, spec: dict[str, Any]) -> dict[str, int]:
    """Every request the server saw for one query of ``spec`` (through a counting proxy)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from collections import Counter

    from counting_proxy import CountingProxy

    with CountingProxy(server.endpoint_url) as proxy:
        counted = dict(spec, options=dict(spec["options"], endpoint_url=proxy.url))
        run_child(counted)
        kinds = Counter(
            "LIST" if "list-type" in e.query else "ranged GET" if e.ranged else e.method for e in proxy.exchanges
        )
        return dict(kinds, total=len(proxy.exchanges), bytes=sum(e.body_bytes for e in proxy.exchanges))


# -- Dask ----------------------------------------------------------------------------------------------
def dask_handoff(store: Any, folder: str) -> dict[str, Any]:
    """The same aggregation on a Dask LocalCluster, reading through store.storage_options()."""
    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster

    start = time.perf_counter()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        ddf = dd.read_parquet(
            store.uri + folder,
            storage_options=store.storage_options(engine="fsspec"),
            columns=["cat", "x", "y"],
        )
        out = ddf.groupby("cat").agg({"x": "sum", "y": "mean"}).compute()
    return {"seconds": time.perf_counter() - start, "groups": len(out), "x_sum": float(out["x"].sum())}


# -- main ----------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="10GB", help="dataset size, e.g. 1GB, 500MB (default 10GB)")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs of each variant and query")
    parser.add_argument("--data-dir", default=None, help="SeaweedFS data folder (default: a temp folder)")
    parser.add_argument("--workers", type=int, default=4, help="threads generating the dataset")
    parser.add_argument("--no-count", action="store_true", help="skip the request-counting pass")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask hand-off")
    args = parser.parse_args()
    size = parse_size(args.size)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import compile_sources

    compile_sources()

    from autostore import AutoStore, S3Options
    from autostore.testing import s3_server_running

    data_dir = args.data_dir or tempfile.mkdtemp(prefix="autostore-scale-")
    report: dict[str, Any] = {"size_bytes": size}
    with s3_server_running(data_dir) as server:
        server.create_bucket("scale")
        options = {k: v for k, v in server.options_kwargs().items()}
        store = AutoStore("s3://scale/", options=S3Options(**options))  # type: ignore[arg-type]
        folder = "events/"
        t = time.perf_counter()
        files, rows = generate(store, folder, size, args.workers)
        stored = sum(m.size for m in store.primary_backend.list_objects(folder))
        report.update(files=files, rows=rows, stored_bytes=stored, generate_seconds=time.perf_counter() - t)
        print(f"dataset: {files} files, {rows:,} rows, {stored / 1e9:.2f} GB stored", file=sys.stderr)

        for query in ("filter", "agg"):
            results: dict[str, list[dict[str, Any]]] = {"autostore": [], "polars": []}
            for r in range(args.rounds):
                order = ["autostore", "polars"] if r % 2 == 0 else ["polars", "autostore"]
                for variant in order:
                    spec = {"uri": store.uri, "folder": folder, "options": options, "query": query, "variant": variant}
                    results[variant].append(run_child(spec))
                    print(f"  {query} {variant}: {results[variant][-1]}", file=sys.stderr)
            ours, ref = results["autostore"], results["polars"]
            digests = {json.dumps(o["digest"]) for o in ours + ref}
            assert len(digests) == 1, f"results differ: {digests}"
            row = {
                "autostore_seconds": statistics.median(o["seconds"] for o in ours),
                "polars_seconds": statistics.median(o["seconds"] for o in ref),
                "autostore_peak_rss": max(o["rss"] for o in ours),
                "polars_peak_rss": max(o["rss"] for o in ref),
                "rows_out": ours[0]["rows"],
                "autostore_requests_counted_by_store": ours[0]["by_kind"],
            }
            row["ratio"] = row["autostore_seconds"] / row["polars_seconds"]
            if not args.no_count:
                for variant in ("autostore", "polars"):
                    spec = {"uri": store.uri, "folder": folder, "options": options, "query": query, "variant": variant}
                    row[f"{variant}_server_requests"] = count_requests(server, spec)
            report[query] = row
        if not args.no_dask:
            report["dask"] = dask_handoff(store, folder)
            polars_x = sum(row[1] for row in json.loads(results["autostore"][0]["digest"]))  # agg ran last
            assert abs(report["dask"]["x_sum"] - polars_x) <= 1e-6 * abs(polars_x) + 1, (report["dask"], polars_x)
        store.close()
    print(json.dumps(report, indent=2))
    peak = max(report[q]["autostore_peak_rss"] for q in ("filter", "agg"))
    print(
        f"\nfilter 1 %: ratio {report['filter']['ratio']:.2f}, full aggregation: ratio {report['agg']['ratio']:.2f} "
        f"(target <= 1.0); autostore peak RSS {peak / 2**20:.0f} MiB (target < 1024)"
        + (f"; Dask: {report['dask']['seconds']:.1f} s" if "dask" in report else ""),
        file=sys.stderr,
    )
    if args.data_dir is None:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
