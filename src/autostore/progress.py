"""Progress reporting for long transfers: a user callback, or a rich progress bar.

``progress=callback`` is called as ``callback(done_bytes, total_bytes)``; ``progress=True`` draws
a rich bar on stderr when it is a terminal or in Jupyter, and stays silent otherwise (logs,
pipes, CI). rich is imported only then.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .backends.base import ProgressCallback

__all__ = ["Progress", "bar_columns", "progress_reporter", "scaled"]

Progress = ProgressCallback | bool | None
"""What ``progress=`` accepts: a callback ``(done_bytes, total_bytes)``, True (a bar), or None/False."""


@contextlib.contextmanager
def progress_reporter(progress: Progress, description: str) -> Iterator[ProgressCallback | None]:
    """Yield the callback to give a transfer: ``progress`` itself, a bar's updater, or None."""
    if progress is None or progress is False:
        yield None
        return
    if progress is True:
        with _rich_bar(description) as update:
            yield update
        return
    if not callable(progress):
        raise TypeError(f"progress= takes a callback (done_bytes, total_bytes) or True, not {type(progress).__name__}.")
    yield progress


@contextlib.contextmanager
def _rich_bar(description: str) -> Iterator[ProgressCallback | None]:
    from rich.console import Console

    console = Console(stderr=True)
    if not (console.is_terminal or console.is_jupyter):
        yield None
        return
    from rich.progress import Progress

    with Progress(*bar_columns(), console=console) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def bar_columns(*, binary_units: bool = False) -> tuple[Any, ...]:
    """The columns of every autostore transfer bar (library and CLI): name, bar, bytes, speed, ETA."""
    from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    return (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=binary_units),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )


def scaled(callback: ProgressCallback | None, offset: int, total: int) -> ProgressCallback | None:
    """A per-file callback reporting into a callback for a whole folder (``offset`` bytes already done)."""
    if callback is None:
        return None

    def report(done: int, _file_total: int) -> None:
        callback(offset + done, total)

    return report
