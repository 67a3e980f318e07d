"""Plain text (``.txt``, ``.md``, ``.html``, ...): str written as is, UTF-8."""

from __future__ import annotations

from typing import Any

from ..errors import CorruptData, FormatError
from .base import BytesHandler

__all__ = ["TextHandler"]

TEXT_EXTENSIONS = [".txt", ".md", ".html", ".htm", ".log", ".rst", ".xml", ".svg", ".sql", ".ini", ".cfg"]


class TextHandler(BytesHandler):
    """str <-> text files, byte for byte (never JSON-quoted)."""


    @property
    def extensions(self) -> list[str]:
        return list(TEXT_EXTENSIONS)

    @property
    def priority(self) -> int:
        return 5

    def can_handle_extension(self, extension: str) -> bool:
        return extension in TEXT_EXTENSIONS

    def can_handle_data(self, data: Any) -> bool:
        return isinstance(data, str)

    def write_to_bytes(self, data: Any, file_extension: str) -> bytes:
        if not isinstance(data, str):
            raise FormatError(f"{file_extension} files hold text; got {type(data).__name__}.")
        return data.encode()

    def read_from_bytes(self, data: bytes, file_extension: str) -> Any:
        try:
            return data.decode()
        except UnicodeDecodeError as exc:
            raise CorruptData(f"Not UTF-8 text: {exc}.") from None
