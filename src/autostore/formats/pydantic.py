"""Pydantic models (``.pydantic.json``): the model's JSON fields plus its class path.

Reading returns an equal instance of the same class when it is importable and validates the
data; otherwise the fields as a dict, with a warning. See :mod:`autostore.formats.classref`.
"""

from __future__ import annotations

from typing import Any

from ..errors import FormatError
from . import classref
from .base import BytesHandler, might_be, require

__all__ = ["PydanticHandler"]


def _base_model() -> Any:
    return require("pydantic", "pydantic", "Pydantic models (.pydantic.json)").BaseModel


class PydanticHandler(BytesHandler):
    """pydantic ``BaseModel`` instance <-> ``.pydantic.json``."""


    @property
    def extensions(self) -> list[str]:
        return [".pydantic.json"]

    @property
    def priority(self) -> int:
        return 8

    def can_handle_extension(self, extension: str) -> bool:
        return extension == ".pydantic.json"

    def can_handle_data(self, data: Any) -> bool:
        return might_be(data, "pydantic") and isinstance(data, _base_model())

    def write_to_bytes(self, data: Any, file_extension: str) -> bytes:
        if not (might_be(data, "pydantic") and isinstance(data, _base_model())):
            raise FormatError(f".pydantic.json files hold a pydantic model, not {type(data).__name__}.")
        try:
            fields = data.model_dump(mode="json")
        except Exception as exc:  # pydantic_core.PydanticSerializationError
            raise FormatError(f"Model {type(data).__qualname__} cannot be dumped as JSON: {exc}.") from None
        return classref.dump(type(data), fields, "Model")

    def read_from_bytes(self, data: bytes, file_extension: str) -> Any:
        path, fields = classref.load(data)
        if path is None:
            return classref.fallback(fields, "This .pydantic.json file names no model class")
        cls, why = classref.import_class(path)
        if cls is None:
            return classref.fallback(fields, f"Model class {why}")
        if not (might_be(cls, "pydantic") and issubclass(cls, _base_model())):
            return classref.fallback(fields, f"{path} is not a pydantic model")
        try:
            return cls.model_validate(fields)  # type: ignore[attr-defined]
        except Exception as exc:  # pydantic.ValidationError: the class changed since writing
            first = str(exc).splitlines()[0]
            return classref.fallback(fields, f"The stored fields no longer validate as {path} ({first})")
