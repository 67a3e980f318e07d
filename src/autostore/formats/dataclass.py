"""Dataclass instances (``.dataclass.json``): fields as JSON plus the class path.

Reading rebuilds an equal instance when the class is importable, following the field type
hints for nested dataclasses, lists/tuples/sets/dicts of them, ``Optional``, enums, dates and
times, ``UUID``, ``Decimal`` and paths; otherwise it returns the fields as a dict, with a warning.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import types
import typing
import uuid
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from ..errors import FormatError
from . import classref
from .base import BytesHandler

__all__ = ["DataclassHandler"]

_MAX_DEPTH = 64


def _is_instance(data: Any) -> bool:
    return dataclasses.is_dataclass(data) and not isinstance(data, type)


def to_json(value: Any, depth: int = 0) -> Any:
    """JSON-ready copy of ``value`` (nested dataclasses become dicts)."""
    if depth > _MAX_DEPTH:
        raise FormatError("Dataclass nesting is too deep (a cycle?) to be written as JSON; use .pkl.")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, enum.Enum):
        return to_json(value.value, depth + 1)
    if _is_instance(value):
        return {f.name: to_json(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {_key(k): to_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_json(v, depth + 1) for v in items]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Decimal, PurePath)):
        return str(value)
    raise FormatError(f"A field of type {type(value).__qualname__} cannot be written as JSON; use .pkl.")


def _key(key: Any) -> str | int | float | bool | None:
    if isinstance(key, enum.Enum):
        key = key.value
    if key is None or isinstance(key, (str, int, float, bool)):
        return key
    raise FormatError(f"A dict key of type {type(key).__qualname__} cannot be written as JSON; use .pkl.")


def from_json(tp: Any, value: Any) -> Any:
    """Rebuild a value of type ``tp`` from its JSON form; unknown types pass through unchanged."""
    if value is None or tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _from_union(args, value)
    if origin is typing.Annotated:
        return from_json(args[0], value)
    if origin in (list, set, frozenset, tuple) and isinstance(value, list):
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(from_json(args[0], v) for v in value)
            if args and len(args) == len(value):
                return tuple(from_json(a, v) for a, v in zip(args, value, strict=True))
            return tuple(value)
        inner = args[0] if args else Any
        return origin(from_json(inner, v) for v in value)
    if origin is dict and isinstance(value, dict):
        kt, vt = args if len(args) == 2 else (Any, Any)
        return {_from_key(kt, k): from_json(vt, v) for k, v in value.items()}
    if isinstance(origin, type) and dataclasses.is_dataclass(origin) and isinstance(value, dict):
        return _build(origin, value)  # a generic dataclass, Box[int]
    if not isinstance(tp, type):
        return value
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return _build(tp, value)
    if issubclass(tp, enum.Enum):
        return tp(value)
    if tp in (list, set, frozenset, tuple) and isinstance(value, list):
        return tp(value)
    if isinstance(value, str):
        if issubclass(tp, (dt.datetime, dt.date, dt.time)):
            return tp.fromisoformat(value)
        if issubclass(tp, (uuid.UUID, Decimal, PurePath)):
            return tp(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _from_key(tp: Any, key: str) -> Any:
    # JSON object keys are strings: give int/float/enum keys their type back.
    if tp in (int, float):
        try:
            return tp(key)
        except ValueError:
            return key
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(key)
        except ValueError:
            members = {str(m.value): m for m in tp}
            return members.get(key, key)
    return key


def _from_union(args: tuple[Any, ...], value: Any) -> Any:
    options = [a for a in args if a is not type(None)]
    for arg in options:  # an exact type match first, then the first one that converts
        if isinstance(arg, type) and not dataclasses.is_dataclass(arg) and type(value) is arg:
            return value
    for arg in options:
        try:
            return from_json(arg, value)
        except (TypeError, ValueError, KeyError):
            continue
    return value


def _build(cls: type, fields: dict[str, Any]) -> Any:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # unresolvable forward references: rebuild without them
        hints = {}
    kwargs = {
        f.name: from_json(hints.get(f.name, Any), fields[f.name])
        for f in dataclasses.fields(cls)
        if f.init and f.name in fields
    }
    return cls(**kwargs)


class DataclassHandler(BytesHandler):
    """dataclass instance <-> ``.dataclass.json``."""


    @property
    def extensions(self) -> list[str]:
        return [".dataclass.json"]

    @property
    def priority(self) -> int:
        return 7

    def can_handle_extension(self, extension: str) -> bool:
        return extension == ".dataclass.json"

    def can_handle_data(self, data: Any) -> bool:
        return _is_instance(data)

    def write_to_bytes(self, data: Any, file_extension: str) -> bytes:
        if not _is_instance(data):
            raise FormatError(f".dataclass.json files hold a dataclass instance, not {type(data).__name__}.")
        return classref.dump(type(data), to_json(data), "Dataclass")

    def read_from_bytes(self, data: bytes, file_extension: str) -> Any:
        path, fields = classref.load(data)
        if path is None:
            return classref.fallback(fields, "This .dataclass.json file names no class")
        cls, why = classref.import_class(path)
        if cls is None:
            return classref.fallback(fields, f"Dataclass {why}")
        if not dataclasses.is_dataclass(cls) or not isinstance(fields, dict):
            return classref.fallback(fields, f"{path} is not a dataclass")
        try:
            return _build(cls, fields)
        except (TypeError, ValueError, KeyError) as exc:  # the class changed since writing
            return classref.fallback(fields, f"The stored fields no longer fit {path} ({exc})")
