"""Peak memory (RSS) of writing and reading a 256 MiB ``.npy`` and a 2M-row parquet through
AutoStore, as a ratio to numpy / polars doing the same on a local file directly (goal <= 1.3x).

Every measurement runs in a fresh Python process and reports ``ru_maxrss``. Usage::

    PYTHONPATH=src python bench/formats_memory.py          # local store
    PYTHONPATH=src python bench/formats_memory.py --s3     # also through a local SeaweedFS server
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from typing import Any

NPY_BYTES = 256 * 1024 * 1024
PARQUET_ROWS = 2_000_000


def make_array() -> Any:
    import numpy as np

    return np.arange(NPY_BYTES // 8, dtype=np.float64)


def make_frame() -> Any:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(0)
    return pl.DataFrame(
        {
            "id": np.arange(PARQUET_ROWS, dtype=np.int64),
            "value": rng.random(PARQUET_ROWS),
            "group": rng.integers(0, 1000, PARQUET_ROWS).astype(str),
        }
    )


def open_store(where: str, s3: dict[str, Any] | None) -> Any:
    from autostore import AutoStore, S3Options

    if s3 is None:
        return AutoStore(where)
    return AutoStore(where, options=S3Options(**s3))


def run_case(case: str, where: str, s3: dict[str, Any] | None) -> None:
    """One measurement (in a fresh process): do the work, then print the peak RSS in MiB."""
    if case == "npy-write-direct":
        import numpy as np

        with open(os.path.join(where, "direct.npy"), "wb") as f:
            np.save(f, make_array())
    elif case == "npy-write-store":
        open_store(where, s3)["arr"] = make_array()
    elif case == "npy-read-direct":
        import numpy as np

        assert np.load(os.path.join(where, "direct.npy")).nbytes == NPY_BYTES
    elif case == "npy-read-store":
        assert open_store(where, s3)["arr"].nbytes == NPY_BYTES
    elif case == "parquet-write-direct":
        make_frame().write_parquet(os.path.join(where, "direct.parquet"))
    elif case == "parquet-write-store":
        open_store(where, s3)["frame"] = make_frame()
    elif case == "parquet-read-direct":
        import polars as pl

        assert pl.read_parquet(os.path.join(where, "direct.parquet")).height == PARQUET_ROWS
    elif case == "parquet-read-store":
        assert open_store(where, s3)["frame"].height == PARQUET_ROWS
    else:
        raise SystemExit(f"unknown case {case}")
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KiB on Linux -> MiB


def measure(case: str, where: str, s3: dict[str, Any] | None) -> float:
    args = [sys.executable, __file__, "--case", case, "--where", where]
    if s3 is not None:
        args += ["--s3-json", json.dumps(s3)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=600, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def report(local_dir: str, targets: list[tuple[str, str, dict[str, Any] | None]]) -> None:
    columns = "".join(f"{name + ' MiB':>14}{'ratio':>8}" for name, *_ in targets)
    print(f"{'measurement':<24}{'direct MiB':>12}  {columns}")
    for fmt in ("npy", "parquet"):
        for op in ("write", "read"):
            direct = measure(f"{fmt}-{op}-direct", local_dir, None)
            row = f"{fmt + ' ' + op:<24}{direct:>12.0f}  "
            for _, where, s3 in targets:
                via = measure(f"{fmt}-{op}-store", where, s3)
                row += f"{via:>14.0f}{via / direct:>7.2f}x"
            print(row, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case")
    parser.add_argument("--where")
    parser.add_argument("--s3-json")
    parser.add_argument("--s3", action="store_true", help="also measure a store on a local SeaweedFS server")
    args = parser.parse_args()
    if args.case:
        run_case(args.case, args.where, json.loads(args.s3_json) if args.s3_json else None)
        return
    print(f"npy: {NPY_BYTES // 2**20} MiB float64 array; parquet: {PARQUET_ROWS:,} rows (int64, float64, str)")
    with tempfile.TemporaryDirectory(prefix="autostore-bench-") as local_dir:
        targets: list[tuple[str, str, dict[str, Any] | None]] = [("local", local_dir, None)]
        if not args.s3:
            report(local_dir, targets)
            return
        from autostore.testing import s3_server_running

        with s3_server_running() as server:
            server.create_bucket("bench")
            targets.append(("s3", "s3://bench/formats/", dict(server.options_kwargs())))
            report(local_dir, targets)


if __name__ == "__main__":
    main()
