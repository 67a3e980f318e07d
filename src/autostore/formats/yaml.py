"""YAML (``.yaml`` / ``.yml``): dicts, lists and scalars as YAML text, read with ``safe_load``.

Never chosen by value type (a dict is JSON unless the key says ``.yaml``). Only the safe YAML
subset is written and read: no Python-specific tags, so loading never builds arbitrary objects.
"""

from __future__ import annotations

from typing import Any

from ..errors import CorruptData, FormatError
from .base import BytesHandler, require

__all__ = ["YAMLHandler"]


def _yaml() -> Any:
    return require("yaml", "yaml", "YAML files (.yaml/.yml)")


class YAMLHandler(BytesHandler):
    """dict / list / scalar <-> one YAML document (UTF-8, keys in insertion order)."""


    @property
    def extensions(self) -> list[str]:
        return [".yaml", ".yml"]

    @property
    def priority(self) -> int:
        return 5

    def can_handle_extension(self, extension: str) -> bool:
        return extension in (".yaml", ".yml")

    def can_handle_data(self, data: Any) -> bool:
        return False

    def write_to_bytes(self, data: Any, file_extension: str) -> bytes:
        yaml = _yaml()
        try:
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        except yaml.YAMLError as exc:
            raise FormatError(
                f"Value cannot be written as YAML ({exc}); YAML holds dicts, lists, str, numbers, "
                "bools, None and dates."
            ) from None
        return str(text).encode()

    def read_from_bytes(self, data: bytes, file_extension: str) -> Any:
        yaml = _yaml()
        try:
            return yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise CorruptData(f"Invalid YAML: {' '.join(str(exc).split())}.") from None
