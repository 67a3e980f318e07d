"""Plain text (``.txt``, ``.md``, ``.html``, ...): str written as is, UTF-8."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CorruptData, FormatError
from .base import DataHandler

__all__ = ["TextHandler"]

TEXT_EXTENSIONS = [".txt", ".md", ".html", ".htm", ".log", ".rst", ".xml", ".svg", ".sql", ".ini", ".cfg"]


class TextHandler(DataHandler):
    """str <-> text files, byte for byte (never JSON-quoted)."""

    supports_bytes = True

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

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        with open(file_path, "rb") as f:
            return self.read_from_bytes(f.read(), file_extension)

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        payload = self.write_to_bytes(data, file_extension)
        with open(file_path, "wb") as f:
            f.write(payload)
