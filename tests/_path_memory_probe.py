"""Run by test_path_transfer.py in a fresh process: move a big file local -> S3 -> other S3
bucket -> local through AutoPath and print the peak RSS growth (MiB) as JSON.

argv: size_mib bucket1 bucket2 workdir. S3 settings come from the AWS_* environment."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import time


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sha(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def main() -> None:
    size_mib, bucket1, bucket2, work = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    from autostore import AutoPath, AutoStore

    src = os.path.join(work, "big.bin")
    block = os.urandom(1 << 20)
    with open(src, "wb") as f:
        for i in range(size_mib):
            f.write(block[:-8] + i.to_bytes(8, "little"))
    digest = sha(src)
    store = AutoStore(work)
    warm = AutoPath(f"s3://{bucket1}/warm.bin", store=store)
    warm.write_bytes(b"warm")  # start obstore's runtime and connection pool before measuring
    warm.read_bytes()
    warm.unlink()
    base = peak_mib()
    start = time.monotonic()
    calls: list[tuple[int, int]] = []
    a = AutoPath(src, store=store)
    legs = []
    b = a.move_to(f"s3://{bucket1}/big.bin", progress=lambda d, t: calls.append((d, t)))
    legs.append(peak_mib() - base)
    c = b.move_to(f"s3://{bucket2}/big.bin")
    legs.append(peak_mib() - base)
    d = c.move_to(os.path.join(work, "back.bin"))
    legs.append(peak_mib() - base)
    elapsed = time.monotonic() - start
    print(
        json.dumps(
            {
                "growth_mib": peak_mib() - base,
                "legs_mib": legs,
                "seconds": elapsed,
                "same": sha(str(d)) == digest,
                "sources_gone": not (a.exists() or b.exists() or c.exists()),
                "last_progress": calls[-1] if calls else None,
                "size": size_mib << 20,
            }
        )
    )


if __name__ == "__main__":
    main()
