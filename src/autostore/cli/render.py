"""What the command line prints: JSON on stdout, previews of decoded values, tables, progress bars.

Owns every rendering choice: ``emit_json`` (``--json``), ``show_value`` / ``show_unknown`` (what
``cat`` shows for a frame, JSON value, text, image, array or anything else), ``print_table`` and
``print_mapping`` (rich tables and ``key  value`` lines), and ``ProgressBar`` (one rich bar over all
bytes of a transfer, shown in a terminal for transfers over ``PROGRESS_MIN_BYTES``). rich and the
value libraries are touched only when something is shown.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .app import Settings

__all__ = [
    "PROGRESS_MIN_BYTES",
    "ProgressBar",
    "emit_json",
    "iso",
    "print_mapping",
    "print_table",
    "show_progress",
    "show_unknown",
    "show_value",
    "stdout_console",
]

PROGRESS_MIN_BYTES = 4 * 1024 * 1024  # transfers below this finish before a bar is worth drawing


def iso(when: datetime | None) -> str | None:
    """``when`` in ISO 8601, None stays None."""
    return when.isoformat() if when else None


def emit_json(value: Any) -> None:
    """``value`` as indented JSON on stdout (what ``--json`` prints)."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def stdout_console() -> Any:
    """A rich console on stdout (no highlighting, no soft wrap)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def show_unknown(uri: str, data: bytes, s: Settings) -> None:
    """A file of no known format: its text, or a one-line note for binary data."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if s.json:
            emit_json({"uri": uri, "format": None, "size": len(data), "binary": True})
        else:
            sys.stdout.write(f"{uri}: binary data, {len(data)} bytes (no format for this extension; --raw prints it)\n")
        return
    if s.json:
        emit_json({"uri": uri, "format": None, "text": text})
    else:
        sys.stdout.write(text)


def show_value(uri: str, fmt: str, value: Any, rows: int, s: Settings) -> None:
    """A decoded value, previewed by its type (``rows`` rows/items of a frame or list)."""
    kind = type(value).__module__.split(".", 1)[0] + "." + type(value).__name__
    if kind in ("polars.DataFrame", "polars.LazyFrame"):
        _show_frame(uri, fmt, value, rows, s)
    elif isinstance(value, (dict, list, int, float, bool)) or value is None:
        shown: Any = value
        more = 0
        if isinstance(value, list) and len(value) > rows and not s.json:
            shown, more = value[:rows], len(value) - rows
        if s.json:
            emit_json(value)
            return
        console = stdout_console()
        if console.is_terminal:
            console.print_json(json.dumps(shown, ensure_ascii=False, default=str))
        else:
            sys.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False, default=str) + "\n")
        if more:
            sys.stdout.write(f"... {more} more item(s); -n shows more\n")
    elif isinstance(value, str):
        if s.json:
            emit_json(value)
        else:
            sys.stdout.write(value if value.endswith("\n") or not value else value + "\n")
    elif hasattr(value, "size") and hasattr(value, "mode") and kind.startswith("PIL."):
        width, height = value.size
        info = {"uri": uri, "format": fmt, "width": width, "height": height, "mode": value.mode}
        if s.json:
            emit_json(info)
        else:
            sys.stdout.write(f"{uri}: {fmt} image, {width}x{height}, mode {value.mode}\n")
    elif hasattr(value, "shape") and hasattr(value, "dtype"):
        info = {"uri": uri, "format": fmt, "shape": list(value.shape), "dtype": str(value.dtype)}
        if s.json:
            emit_json(info)
        else:
            sys.stdout.write(f"{uri}: array shape {tuple(value.shape)}, dtype {value.dtype}\n{value!r}\n")
    else:
        text = repr(value)
        if s.json:
            emit_json({"uri": uri, "format": fmt, "type": kind, "repr": text[:10000]})
        else:
            sys.stdout.write(f"{uri}: {kind}\n{text[:10000]}\n")


def _show_frame(uri: str, fmt: str, frame: Any, rows: int, s: Settings) -> None:
    lazy = type(frame).__name__ == "LazyFrame"
    schema = frame.collect_schema() if lazy else frame.schema
    head = frame.head(rows).collect() if lazy else frame.head(rows)
    total = None if lazy else frame.height
    if s.json:
        emit_json(
            {
                "uri": uri,
                "format": fmt,
                "rows": total,
                "columns": len(schema),
                "schema": {name: str(dtype) for name, dtype in schema.items()},
                "head": head.to_dicts(),
            }
        )
        return
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for name in head.columns:
        table.add_column(name, overflow="fold")
    for row in head.iter_rows():
        table.add_row(*("null" if v is None else str(v) for v in row))
    console = stdout_console()
    size = f"{total} rows" if total is not None else "rows: not counted (folder)"
    console.print(f"{uri}  ({fmt}, {size}, {len(schema)} columns)")
    console.print(table)
    console.print("schema: " + ", ".join(f"{name}: {dtype}" for name, dtype in schema.items()))


def print_table(title: str, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """``rows`` as a rich table of ``columns`` under ``title`` (``-`` for missing values)."""
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*("-" if row.get(c) is None else str(row[c]) for c in columns))
    console = stdout_console()
    console.print(title)
    console.print(table)


def print_mapping(title: str | None, data: dict[str, Any], indent: str = "  ") -> None:
    """``key  value`` lines, keys padded to one width, under ``title`` (None: no title line)."""
    width = max(len(k) for k in data)
    shown = "".join(f"{indent}{k:<{width}}  {'-' if v is None else v}\n" for k, v in data.items())
    sys.stdout.write(shown if title is None else title + "\n" + shown)


def show_progress(s: Settings, total: int) -> bool:
    """Whether a transfer of ``total`` bytes draws a bar: ``--progress/--no-progress``, else a
    terminal on stderr, no ``--json`` and at least ``PROGRESS_MIN_BYTES``."""
    if s.progress is not None:
        return s.progress
    if s.json or total < PROGRESS_MIN_BYTES:
        return False
    from rich.console import Console

    return bool(Console(stderr=True).is_terminal)


class ProgressBar:
    """A rich progress bar over all bytes of one command, or nothing."""

    def __init__(self, total: int, label: str, show: bool) -> None:
        self._progress: Any = None
        self._task: Any = None
        if show:
            from rich.console import Console
            from rich.progress import Progress

            from ..progress import bar_columns

            self._progress = Progress(*bar_columns(binary_units=True), console=Console(stderr=True))
            self._task = self._progress.add_task(label, total=total)
            self._progress.start()

    def file_callback(self) -> Callable[[int, int], None] | None:
        """A ``(done, total)`` callback for one file that advances the overall bar."""
        if self._progress is None:
            return None
        last = [0]

        def callback(done: int, _total: int) -> None:
            if done > last[0]:
                self._progress.advance(self._task, done - last[0])
                last[0] = done

        return callback

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def echo(self, line: str) -> None:
        """Print ``line``: above the bar (on its stderr console) while one is drawn, else on stdout."""
        if self._progress is not None:
            self._progress.console.print(line, highlight=False)
        else:
            sys.stdout.write(line + "\n")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
