"""A short real job on a local folder: ``python -m autostore.demo [FOLDER]``.

Writes several data types, reads them back, checks them, lists keys and shows metadata.
"""

from __future__ import annotations

import sys
import time


def main(argv: list[str] | None = None) -> int:
    import polars as pl

    from autostore import AutoStore

    args = sys.argv[1:] if argv is None else argv
    folder = args[0] if args else "./demo-data"
    started = time.perf_counter()
    with AutoStore(folder) as store:
        sales = pl.DataFrame({"region": ["north", "south", "north", "east"], "sales": [120.0, 80.5, 99.9, 42.0]})
        values: dict[str, object] = {
            "sales": sales,
            "config": {"model": "transformer", "layers": 12},
            "logs": [{"event": "start"}, {"event": "stop"}],
            "notes": "Demo written by autostore.\n",
            "reports/summary.csv": sales.group_by("region").agg(pl.col("sales").sum()).sort("region"),
        }
        for key, value in values.items():
            stored = store.write(key, value)
            print(f"wrote  {key:<22} -> {stored}")
        for key, value in values.items():
            got = store[key]
            same = got.equals(value) if isinstance(value, pl.DataFrame) else got == value
            if not same:
                print(f"MISMATCH reading {key!r}: {got!r}", file=sys.stderr)
                return 1
            print(f"read   {key:<22} -> {type(got).__name__} ok")
        print(f"keys   {store.keys()}")
        meta = store.get_metadata("sales")
        print(f"meta   sales: {meta.size} bytes, etag {meta.etag}, modified {meta.modified_time:%Y-%m-%d %H:%M:%S}")
        store.copy("config", "backup/config")
        print(f"copied config -> backup/config: {store['backup/config'] == values['config']}")
        print(f"done in {time.perf_counter() - started:.2f}s; files are in {store.uri}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
