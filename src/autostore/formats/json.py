"""JSON (``.json``): dicts and plain lists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import CorruptData, FormatError
from .base import DataHandler

__all__ = ["JSONHandler"]


class JSONHandler(DataHandler):
    """dict / list <-> ``.json`` (UTF-8, non-ASCII kept as is)."""

    supports_bytes = True

    @property
    def extensions(self) -> list[str]:
        return [".json"]

    @property
    def priority(self) -> int:
        return 5

    def can_handle_extension(self, extension: str) -> bool:
        return extension == ".json"

    def can_handle_data(self, data: Any) -> bool:
        return isinstance(data, (dict, list, tuple))

    def write_to_bytes(self, data: Any, file_extension: str) -> bytes:
        try:
            return json.dumps(data, ensure_ascii=False).encode()
        except (TypeError, ValueError) as exc:
            raise FormatError(f"Value cannot be written as JSON: {exc}.") from None

    def read_from_bytes(self, data: bytes, file_extension: str) -> Any:
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptData(f"Invalid JSON: {exc}.") from None

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        with open(file_path, "rb") as f:
            return self.read_from_bytes(f.read(), file_extension)

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        payload = self.write_to_bytes(data, file_extension)
        with open(file_path, "wb") as f:
            f.write(payload)
