"""Many keys at once: ``get_many``/``put_many`` with bounded concurrency, order preserved.

Threads, not asyncio: obstore releases the GIL while a request is in flight, and on this
workload a 16-thread pool of sync requests measured as fast as ``asyncio.gather`` over obstore's
async API (0.14 s vs 0.18 s for 500 small GETs) while also working inside a running event loop
(Jupyter) and for local disk. The async methods are thin wrappers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .errors import BatchError

__all__ = ["run_many"]

T = TypeVar("T")
R = TypeVar("R")


def run_many(func: Callable[[T], R], items: Sequence[T], names: Sequence[str], workers: int) -> list[R]:
    """``[func(x) for x in items]`` on up to ``workers`` threads; BatchError naming every failure."""
    if not items:
        return []
    results: list[Any] = [None] * len(items)
    errors: dict[str, BaseException] = {}

    def one(index: int) -> None:
        try:
            results[index] = func(items[index])
        except Exception as exc:
            errors[names[index]] = exc

    if workers <= 1 or len(items) == 1:
        for i in range(len(items)):
            one(i)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="autostore") as pool:
            list(pool.map(one, range(len(items))))
    if errors:
        failed = sorted(errors)
        shown = "; ".join(f"{k!r}: {errors[k]}" for k in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        raise BatchError(f"{len(failed)} of {len(items)} keys failed: {shown}{more}", errors)
    return results
