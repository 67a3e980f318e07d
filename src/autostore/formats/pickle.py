"""Pickle (``.pkl``): the fallback for any Python object. Loading runs code: it can be refused
with ``Options(allow_pickle=False)`` or ``AUTOSTORE_ALLOW_PICKLE=0``."""

from __future__ import annotations

import pickle
from typing import Any

from ..errors import CorruptData, FormatError
from .base import BytesHandler

__all__ = ["PickleHandler"]


class PickleHandler(BytesHandler):
    """Any picklable object <-> ``.pkl`` / ``.pickle`` (lowest priority: the fallback)."""

    unsafe = True

    @property
    def extensions(self) -> list[str]:
        return [".pkl", ".pickle"]

    @property
    def priority(self) -> int:
        return 0

    def can_handle_extension(self, extension: str) -> bool:
        return extension in (".pkl", ".pickle")

    def can_handle_data(self, data: Any) -> bool:
        return True

    def write_to_bytes(self, data: Any, file_extension: str) -> bytes:
        try:
            return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise FormatError(f"Value of type {type(data).__name__} cannot be pickled: {exc}.") from None

    def read_from_bytes(self, data: bytes, file_extension: str) -> Any:
        try:
            return pickle.loads(data)
        except Exception as exc:
            raise CorruptData(f"Invalid pickle data: {type(exc).__name__}: {exc}.") from None
