"""Parquet (``.parquet``) through polars: DataFrame / LazyFrame in, DataFrame out."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ..errors import CorruptData, FormatError
from .base import DataHandler, is_os_error, might_be, require

__all__ = ["ParquetHandler"]


class ParquetHandler(DataHandler):
    """polars DataFrame/LazyFrame <-> ``.parquet`` (read back as a DataFrame)."""

    reads_buffers = True

    @property
    def extensions(self) -> list[str]:
        return [".parquet", ".pq"]

    @property
    def priority(self) -> int:
        return 10

    def can_handle_extension(self, extension: str) -> bool:
        return extension in (".parquet", ".pq")

    def can_handle_data(self, data: Any) -> bool:
        if not might_be(data, "polars"):
            return False
        pl = require("polars", None, "Parquet")
        return isinstance(data, (pl.DataFrame, pl.LazyFrame))

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        pl = require("polars", None, "Parquet")
        # polars parses bytes in place; a BytesIO it reads through Python first (slower).
        source = file_path.getvalue() if isinstance(file_path, io.BytesIO) else file_path
        try:
            return pl.read_parquet(source)
        except (pl.exceptions.ComputeError, OSError, ValueError) as exc:
            if is_os_error(exc):
                raise
            raise CorruptData(f"Invalid parquet file: {str(exc).splitlines()[0][:200]}.") from None

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        pl = require("polars", None, "Parquet")
        if isinstance(data, pl.LazyFrame):
            data.sink_parquet(file_path)
        elif isinstance(data, pl.DataFrame):
            data.write_parquet(file_path)
        else:
            raise FormatError(f"Only polars DataFrame/LazyFrame can be written as parquet, not {type(data).__name__}.")
