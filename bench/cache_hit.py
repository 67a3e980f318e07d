"""Cache-hit read of a ~20 MiB parquet from S3 through AutoStore vs polars reading a local file.

Starts a local SeaweedFS server, puts the file through a counting proxy, then times:
  - store["x.parquet"] served from the cache (20 reads), vs pl.read_parquet(local copy),
    interleaved so both see the same machine load; ratio of medians and of totals;
  - requests per hit (counted by the proxy: goal 0);
  - for context: cold reads with and without the cache, and a revalidated read
    (cache_validation="always": one conditional GET answered 304).

Run:  PYTHONPATH=src python bench/cache_hit.py [--reads 20] [--mib 20]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from autostore import AutoStore, S3Options
from autostore.testing import s3_server_running

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from counting_proxy import CountingProxy


def frame(mib: int) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    rows = mib * 1024 * 1024 // 16  # two 8-byte columns of noise: parquet cannot shrink them much
    return pl.DataFrame({"id": rng.integers(0, 2**62, rows), "x": rng.random(rows)})


def timed(fn: object) -> float:
    t = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=20)
    ap.add_argument("--mib", type=int, default=20)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="autostore-bench-"))
    try:
        with s3_server_running() as server, CountingProxy(server.endpoint_url) as proxy:
            server.create_bucket("bench")
            kw = dict(server.options_kwargs(), endpoint_url=proxy.url)
            df = frame(args.mib)
            local = work / "local.parquet"
            df.write_parquet(local)
            size = local.stat().st_size
            AutoStore("s3://bench/", options=S3Options(**kw)).primary_backend.upload("x.parquet", local)

            opts = S3Options(**kw, cache_enabled=True, cache_dir=str(work / "cache"), cache_expiry_hours=0)
            store = AutoStore("s3://bench/", options=opts)
            cold = timed(lambda: store["x.parquet"])
            for _ in range(3):  # warm both paths (page cache, polars thread pool)
                assert store["x.parquet"].height == df.height
                pl.read_parquet(local)

            proxy.reset()
            hits, plain = [], []
            for _ in range(args.reads):
                hits.append(timed(lambda: store["x.parquet"]))
                plain.append(timed(lambda: pl.read_parquet(local)))
            requests = len(proxy.exchanges)

            nocache = AutoStore("s3://bench/", options=S3Options(**kw))
            uncached = [timed(lambda: nocache["x.parquet"]) for _ in range(5)]
            fills = []
            for _ in range(5):
                store.clear_cache()
                fills.append(timed(lambda: store["x.parquet"]))

            always = AutoStore("s3://bench/", options=opts.replace(cache_validation="always"))
            proxy.reset()
            revalidated = [timed(lambda: always["x.parquet"]) for _ in range(5)]
            reval_requests = [(e.method, e.status, e.body_bytes) for e in proxy.exchanges]

        med_hit, med_plain = statistics.median(hits), statistics.median(plain)
        print(f"file: {size / 2**20:.1f} MiB parquet, {df.height} rows; {args.reads} interleaved reads each")
        print(f"polars read_parquet(local file): median {med_plain * 1e3:7.2f} ms  total {sum(plain):.3f} s")
        print(f"store[...] cache hit from S3:    median {med_hit * 1e3:7.2f} ms  total {sum(hits):.3f} s")
        print(f"ratio (median): {med_hit / med_plain:.3f}x   ratio (total): {sum(hits) / sum(plain):.3f}x")
        print(f"overhead per hit (median): {(med_hit - med_plain) * 1e3:+.2f} ms")
        print(f"requests during {args.reads} hits: {requests}  -> {requests / args.reads:g} per hit")
        print(
            f"cold read with cache (download + hash + fsync + commit): first {cold * 1e3:.1f} ms, "
            f"median of 5 {statistics.median(fills) * 1e3:.1f} ms; without cache (temp download): "
            f"median {statistics.median(uncached) * 1e3:.1f} ms"
        )
        print(
            f"revalidated read (cache_validation='always'): median {statistics.median(revalidated) * 1e3:.2f} ms, "
            f"requests: {reval_requests[:2]}..."
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
