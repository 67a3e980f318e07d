"""Benchmark (not a test): folders read as datasets.

1. 50 parquet files x 40k rows on a local SeaweedFS S3 server: ``store["folder/"].collect()``
   against polars' own ``pl.scan_parquet("s3://.../*.parquet", storage_options=...)``, interleaved
   in the same run; prints both medians and the ratio (goal <= 1.0x).
2. A ~2 GB generated dataset (local folder, or ``--big-on-s3``) filtered to 1 %: the scan runs in
   a fresh subprocess and reports its peak RSS (goal < 500 MB) — a download-first reader would
   need the whole dataset in memory or on disk.

Run: ``PYTHONPATH=src python bench/datasets.py [--reps 9] [--big-gb 2] [--big-on-s3] [--skip-big]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from autostore import AutoStore, S3Options
from autostore.testing import s3_server_running

SMALL_FILES = 50
SMALL_ROWS = 40_000
BIG_FILE_ROWS = 2_500_000  # x 2 float64 + 1 int64 of random data: ~50 MB of parquet per file


def _frame(rows: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "id": np.arange(seed * rows, (seed + 1) * rows, dtype=np.int64),
            "x": rng.random(rows),
            "y": rng.normal(size=rows),
            "cat": rng.choice(["a", "b", "c", "d"], size=rows),
        }
    )


def bench_small(store: AutoStore, reps: int) -> dict[str, Any]:
    folder = "bench-small/"
    backend = store.primary_backend
    tmp = Path(tempfile.mkdtemp(prefix="bench-ds-"))

    def put(i: int) -> None:
        path = tmp / f"{i}.parquet"
        _frame(SMALL_ROWS, i).write_parquet(path)
        backend.upload(f"{folder}part-{i:03d}.parquet", path)
        path.unlink()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(SMALL_FILES)))
    tmp.rmdir()
    size = sum(m.size for m in backend.list_objects(folder))
    opts = store.storage_options()
    glob = store.uri + folder + "*.parquet"

    def ours() -> int:
        return int(store[folder].collect().height)

    def polars_direct() -> int:
        return int(pl.scan_parquet(glob, storage_options=opts).collect().height)

    assert ours() == polars_direct() == SMALL_FILES * SMALL_ROWS  # warm-up + check
    times: dict[str, list[float]] = {"autostore": [], "polars": []}
    pair = [("autostore", ours), ("polars", polars_direct)]
    for rep in range(reps):
        for name, fn in pair if rep % 2 == 0 else pair[::-1]:  # alternate who goes first
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}

    # cache=True: mirror through the download cache (cold once, then warm) and scan local links
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache_dir:
        caching = AutoStore(store.uri, options=store.options.replace(cache_enabled=True, cache_dir=cache_dir))
        t0 = time.perf_counter()
        assert caching.read(folder, cache=True).collect().height == SMALL_FILES * SMALL_ROWS
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(reps):
            t0 = time.perf_counter()
            caching.read(folder, cache=True).collect()
            warm.append(time.perf_counter() - t0)
        # a selective query: in place fetches one column, the mirror needs every file first
        sel_in_place = _timed(lambda: store[folder].select(pl.col("x").sum()).collect(), reps)
        sel_cached = _timed(lambda: caching.read(folder, cache=True).select(pl.col("x").sum()).collect(), reps)
        caching.close()
    return {
        "files": SMALL_FILES,
        "rows": SMALL_FILES * SMALL_ROWS,
        "mb": round(size / 1e6, 1),
        "autostore_s": round(med["autostore"], 4),
        "polars_s": round(med["polars"], 4),
        "ratio_of_medians": round(med["autostore"] / med["polars"], 3),
        # each rep runs both back to back: the median of per-rep ratios cancels load drifts
        "median_paired_ratio": round(
            statistics.median(a / b for a, b in zip(times["autostore"], times["polars"], strict=True)), 3
        ),
        "best_ratio": round(min(times["autostore"]) / min(times["polars"]), 3),
        "cache_cold_s": round(cold, 4),
        "cache_warm_s": round(statistics.median(warm), 4),
        "one_column_in_place_s": round(sel_in_place, 4),
        "one_column_cache_warm_s": round(sel_cached, 4),
    }


def _timed(fn: Any, reps: int) -> float:
    fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


_CHILD = r"""
import json, resource, sys, time
import polars as pl
from autostore import AutoStore, S3Options
uri, opts, folder = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
store = AutoStore(uri, options=S3Options(**opts) if opts else None)
t0 = time.perf_counter()
lf = store[folder]
out = lf.filter(pl.col("id") % 100 == 0).collect()
elapsed = time.perf_counter() - t0
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": out.height, "seconds": round(elapsed, 2), "peak_rss_mb": round(rss_mb, 1)}))
"""


def bench_big(store: AutoStore, gb: float, s3_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    folder = "bench-big/"
    backend = store.primary_backend
    files = max(1, round(gb * 1e9 / 50e6))
    tmp = Path(tempfile.mkdtemp(prefix="bench-big-"))

    def put(i: int) -> None:
        path = tmp / f"{i}.parquet"
        _frame(BIG_FILE_ROWS, i).write_parquet(path, compression="lz4")
        backend.upload(f"{folder}part-{i:03d}.parquet", path)
        path.unlink()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(put, range(files)))
    tmp.rmdir()
    written = time.perf_counter() - t0
    size = sum(m.size for m in backend.list_objects(folder))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, store.uri, json.dumps(s3_kwargs or {}), folder],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=True,
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    expected = files * BIG_FILE_ROWS // 100
    assert result["rows"] == expected, (result, expected)
    return {
        "where": "s3" if s3_kwargs else "local",
        "files": files,
        "gb": round(size / 1e9, 2),
        "total_rows": files * BIG_FILE_ROWS,
        "generate_s": round(written, 1),
        "kept_rows": result["rows"],
        "scan_s": result["seconds"],
        "peak_rss_mb": result["peak_rss_mb"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--big-gb", type=float, default=2.0)
    ap.add_argument("--big-on-s3", action="store_true")
    ap.add_argument("--skip-big", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ds-") as data_dir, s3_server_running(data_dir) as server:
        bucket = "bench-" + uuid.uuid4().hex[:8]
        server.create_bucket(bucket)
        kwargs = server.options_kwargs()
        with AutoStore(f"s3://{bucket}/run/", options=S3Options(**kwargs)) as s3_store:  # type: ignore[arg-type]
            print("small:", json.dumps(bench_small(s3_store, args.reps)), flush=True)
            if not args.skip_big and args.big_on_s3:
                print("big:", json.dumps(bench_big(s3_store, args.big_gb, kwargs)), flush=True)
        if not args.skip_big and not args.big_on_s3:
            with tempfile.TemporaryDirectory(prefix="bench-big-local-") as local_dir, AutoStore(local_dir) as local:
                print("big:", json.dumps(bench_big(local, args.big_gb, None)), flush=True)


if __name__ == "__main__":
    main()
