"""Arrow IPC / Feather (``.arrow``, ``.feather``, ``.ipc``): polars DataFrame <-> IPC file.

Written with polars (``write_ipc``, uncompressed, so files can be mapped). Read from a path (a
local file, a cache entry) the file is memory-mapped through pyarrow and handed to polars
without a copy: reading costs no memory until columns are touched. polars itself copies IPC
files into memory, so without pyarrow (extra ``arrow``) reads fall back to ``pl.read_ipc``.
Both the IPC file format and the IPC stream format are read.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ..errors import CorruptData, FormatError, MissingDependency
from .base import DataHandler, first_line, read_option, require

__all__ = ["IPC_EXTENSIONS", "IpcHandler"]

IPC_EXTENSIONS = (".arrow", ".feather", ".ipc")


def _pl() -> Any:
    return require("polars", None, "Arrow IPC files")


def _pyarrow() -> Any | None:
    try:
        return require("pyarrow", "arrow", "Memory-mapped Arrow IPC reads")
    except MissingDependency:
        return None


class IpcHandler(DataHandler):
    """polars DataFrame/LazyFrame <-> Arrow IPC file. Never chosen by value type (frames default
    to parquet): name the extension, or ``format="ipc"``."""

    reads_buffers = True
    read_options = ("mmap",)

    @property
    def extensions(self) -> list[str]:
        return list(IPC_EXTENSIONS)

    @property
    def priority(self) -> int:
        return 10

    def can_handle_extension(self, extension: str) -> bool:
        return extension in IPC_EXTENSIONS

    def can_handle_data(self, data: Any) -> bool:
        return False

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        pl = _pl()
        if isinstance(file_path, (str, Path)):
            pa = _pyarrow()
            if pa is not None:
                return self._read_mapped(pa, pl, Path(file_path))
            if read_option("mmap"):
                require("pyarrow", "arrow", "Memory-mapped Arrow IPC reads (mmap=True)")
        try:
            return pl.read_ipc(file_path)
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            error: BaseException = exc
        if isinstance(file_path, io.IOBase):
            file_path.seek(0)
        try:
            return pl.read_ipc_stream(file_path)
        except (pl.exceptions.PolarsError, OSError, ValueError):
            raise CorruptData(f"Invalid Arrow IPC file: {first_line(error)}.") from None

    def _read_mapped(self, pa: Any, pl: Any, path: Path) -> Any:
        import pyarrow.ipc

        source = pa.memory_map(str(path), "r")
        try:
            table = pyarrow.ipc.open_file(source).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            error: BaseException = exc
        else:
            # rechunk=False: polars keeps arrow's buffers, i.e. the mapped pages (zero copy).
            return pl.from_arrow(table, rechunk=False)
        source.seek(0)
        try:
            table = pyarrow.ipc.open_stream(source).read_all()
        except (pa.ArrowInvalid, OSError):
            raise CorruptData(f"Invalid Arrow IPC file: {first_line(error)}.") from None
        return pl.from_arrow(table, rechunk=False)

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        pl = _pl()
        if isinstance(data, pl.LazyFrame):
            data.sink_ipc(file_path)
        elif isinstance(data, pl.DataFrame):
            data.write_ipc(file_path)
        else:
            raise FormatError(
                f"Only polars DataFrame/LazyFrame can be written as Arrow IPC, not {type(data).__name__}."
            )
