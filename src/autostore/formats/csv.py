"""CSV (``.csv``, ``.tsv``) through polars: real CSV text on disk, DataFrame back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CorruptData, FormatError
from .base import DataHandler, is_os_error, require

__all__ = ["CSVHandler"]


class CSVHandler(DataHandler):
    """polars DataFrame/LazyFrame <-> ``.csv`` / ``.tsv``. Never chosen by value type: name the
    extension (``store["t.csv"] = df``) to write CSV."""

    reads_buffers = True

    @property
    def extensions(self) -> list[str]:
        return [".csv", ".tsv"]

    @property
    def priority(self) -> int:
        return 10

    def can_handle_extension(self, extension: str) -> bool:
        return extension in (".csv", ".tsv")

    def can_handle_data(self, data: Any) -> bool:
        return False

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        pl = require("polars", None, "CSV")
        try:
            return pl.read_csv(file_path, separator="\t" if file_extension == ".tsv" else ",")
        except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError, ValueError) as exc:
            if is_os_error(exc):
                raise
            raise CorruptData(f"Invalid CSV file: {str(exc).splitlines()[0][:200]}.") from None

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        pl = require("polars", None, "CSV")
        sep = "\t" if file_extension == ".tsv" else ","
        if isinstance(data, pl.LazyFrame):
            data.sink_csv(file_path, separator=sep)
        elif isinstance(data, pl.DataFrame):
            data.write_csv(file_path, separator=sep)
        else:
            raise FormatError(f"Only polars DataFrame/LazyFrame can be written as CSV, not {type(data).__name__}.")
