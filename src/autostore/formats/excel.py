"""Excel workbooks (``.xlsx``): read with polars' calamine engine (fastexcel), written with
xlsxwriter through ``DataFrame.write_excel``.

A DataFrame is one sheet; a dict of DataFrames is one sheet each (the keys name the sheets).
Reading gives the first sheet; ``store.read("book.xlsx", sheet="prices")`` (a name) or
``sheet=1`` (0-based position) picks another, ``sheet="*"`` gives every sheet as a dict
(``*`` cannot appear in a sheet name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CorruptData, FormatError
from .base import DataHandler, first_line, read_option, require

__all__ = ["ExcelHandler"]

ALL_SHEETS = "*"


class ExcelHandler(DataHandler):
    """polars DataFrame (or dict of them) <-> ``.xlsx``; by extension only."""

    read_options = ("sheet",)

    @property
    def extensions(self) -> list[str]:
        return [".xlsx"]

    @property
    def priority(self) -> int:
        return 10

    def can_handle_extension(self, extension: str) -> bool:
        return extension == ".xlsx"

    def can_handle_data(self, data: Any) -> bool:
        return False

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        pl = require("polars", None, "Excel files")
        fastexcel = require("fastexcel", "excel", "Reading Excel files (.xlsx)")
        sheet = read_option("sheet")
        try:
            reader = fastexcel.read_excel(str(file_path))
            names = list(reader.sheet_names)
        except Exception as exc:  # fastexcel's errors have no common public base
            raise CorruptData(f"Not a readable .xlsx workbook: {first_line(exc)}.") from None
        if sheet == ALL_SHEETS:
            wanted = names
        elif sheet is None:
            wanted = names[:1]
        elif isinstance(sheet, bool) or not isinstance(sheet, (str, int)):
            raise FormatError(f"sheet= takes a sheet name, a 0-based position or {ALL_SHEETS!r}, not {sheet!r}.")
        elif isinstance(sheet, int):
            if not -len(names) <= sheet < len(names):
                raise FormatError(f"sheet={sheet} is out of range: the workbook has {len(names)} sheet(s) {names}.")
            wanted = [names[sheet]]
        else:
            if sheet not in names:
                raise FormatError(f"No sheet {sheet!r} in the workbook; its sheets are {names}.")
            wanted = [sheet]
        if not wanted:
            raise CorruptData("The workbook has no sheets.")
        frames = {}
        for name in wanted:
            try:
                frames[name] = pl.read_excel(file_path, sheet_name=name, engine="calamine", raise_if_empty=False)
            except Exception as exc:
                raise CorruptData(f"Cannot read sheet {name!r}: {first_line(exc)}.") from None
        return frames if sheet == ALL_SHEETS else frames[wanted[0]]

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        pl = require("polars", None, "Excel files")
        xlsxwriter = require("xlsxwriter", "excel", "Writing Excel files (.xlsx)")
        if isinstance(data, (pl.DataFrame, pl.LazyFrame)):
            sheets = {"Sheet1": data}
        elif isinstance(data, dict) and data and all(isinstance(v, pl.DataFrame | pl.LazyFrame) for v in data.values()):
            sheets = data
        else:
            raise FormatError(
                f".xlsx files hold a polars DataFrame (one sheet) or a dict of DataFrames (one sheet each), "
                f"not {type(data).__name__}."
            )
        # Our own Workbook on the exact path: given a path, polars would append ".xlsx" to
        # names without that suffix (temporary files are named otherwise).
        workbook = xlsxwriter.Workbook(str(file_path), {"use_zip64": True})
        try:
            for name, frame in sheets.items():
                if not isinstance(name, str):
                    raise FormatError(f"Sheet names are strings; got {name!r}.")
                df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
                try:
                    df.write_excel(workbook=workbook, worksheet=name, autofit=False)
                except Exception as exc:  # InvalidWorksheetName, DuplicateWorksheetName, ...
                    detail = f"{type(exc).__name__}: {first_line(exc)}"
                    raise FormatError(f"Cannot write sheet {name!r}: {detail}.") from None
        finally:
            workbook.close()
