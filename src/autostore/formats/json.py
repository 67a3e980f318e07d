"""JSON (``.json``): dicts and plain lists."""

from __future__ import annotations

import json
from typing import Any

from ..errors import CorruptData, FormatError
from .base import BytesHandler

__all__ = ["JSONHandler"]

# json.dumps(..., ensure_ascii=False) builds a new encoder on every call; one is enough.
_ENCODER = json.JSONEncoder(ensure_ascii=False)


class JSONHandler(BytesHandler):
    """dict / list <-> ``.json`` (UTF-8, non-ASCII kept as is)."""


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
            return _ENCODER.encode(data).encode()
        except (TypeError, ValueError) as exc:
            raise FormatError(f"Value cannot be written as JSON: {exc}.") from None

    def read_from_bytes(self, data: bytes, file_extension: str) -> Any:
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptData(f"Invalid JSON: {exc}.") from None
