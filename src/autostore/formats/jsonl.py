"""JSON Lines (``.jsonl``): a list of dicts, one object per line."""

from __future__ import annotations

import json
from typing import Any

from ..errors import CorruptData, FormatError
from .base import BytesHandler

__all__ = ["JSONLHandler"]


class JSONLHandler(BytesHandler):
    """Non-empty list of dicts <-> ``.jsonl``; reading returns a list of dicts."""


    @property
    def extensions(self) -> list[str]:
        return [".jsonl", ".ndjson"]

    @property
    def priority(self) -> int:
        return 6  # above JSON: a list of dicts is a log/record set

    def can_handle_extension(self, extension: str) -> bool:
        return extension in (".jsonl", ".ndjson")

    def can_handle_data(self, data: Any) -> bool:
        return isinstance(data, list) and bool(data) and all(isinstance(x, dict) for x in data)

    def write_to_bytes(self, data: Any, file_extension: str) -> bytes:
        if not isinstance(data, (list, tuple)):
            raise FormatError(f"JSON Lines needs a list of records, not {type(data).__name__}.")
        try:
            return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in data).encode()
        except (TypeError, ValueError) as exc:
            raise FormatError(f"Value cannot be written as JSON Lines: {exc}.") from None

    def read_from_bytes(self, data: bytes, file_extension: str) -> Any:
        out = []
        for number, line in enumerate(data.splitlines(), 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except (ValueError, UnicodeDecodeError) as exc:
                    raise CorruptData(f"Invalid JSON on line {number}: {exc}.") from None
        return out
