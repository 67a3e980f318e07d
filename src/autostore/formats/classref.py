"""The JSON envelope of ``.pydantic.json`` and ``.dataclass.json`` files, shared by both handlers.

A file holds ``{"class": "package.module:Qual.Name", "data": {...fields...}}``. Reading imports
``package.module`` and rebuilds an instance when the class is importable and accepts the data;
otherwise it returns the ``data`` dict and warns (the bytes stay readable without the code).

Importing a module runs its code, and the file names the module. So with ``allow_pickle`` off
only modules that are already imported are used (the caller's own classes, once their module
is loaded); a file naming any other module gives the ``data`` dict and a warning, and nothing is
imported.
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from typing import Any

from ..errors import CorruptData, FormatError
from .base import unsafe_loads_allowed

__all__ = ["class_path", "dump", "fallback", "import_class", "load"]


def class_path(cls: type) -> str:
    """``module:qualname`` of ``cls``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def import_class(path: str) -> tuple[type | None, str]:
    """The class named by ``module:qualname``, or (None, why not)."""
    module_name, _, qualname = path.partition(":")
    if not module_name or not qualname:
        return None, f"{path!r} is not a module:qualname class path"
    if "<locals>" in qualname:
        return None, f"{path} is defined inside a function, so it cannot be imported"
    first, _, rest = qualname.partition(".")
    obj: Any
    if not unsafe_loads_allowed():
        module = sys.modules.get(module_name)
        if module is None:
            return None, (
                f"module {module_name!r} is not imported and allow_pickle is off, so a file may not import it "
                f"(import {module_name} before reading to get {qualname} instances, or allow_pickle=True "
                "for trusted files)"
            )
        # The module's own namespace: a module-level __getattr__ could import more.
        obj = vars(module).get(first)
    else:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # an ImportError, or the module failed while importing
            return None, f"module {module_name!r} cannot be imported ({type(exc).__name__}: {exc})"
        obj = getattr(module, first, None)
    for part in rest.split(".") if rest else ():
        if obj is None:
            break
        obj = getattr(obj, part, None) if isinstance(obj, type) else None
    if obj is None:
        return None, f"module {module_name!r} has no {qualname!r}"
    if not isinstance(obj, type):
        return None, f"{path} is not a class"
    return obj, ""


def dump(cls: type, fields: Any, what: str) -> bytes:
    """The envelope for an instance of ``cls`` whose JSON-ready fields are ``fields``."""
    try:
        return json.dumps({"class": class_path(cls), "data": fields}, ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise FormatError(f"{what} {cls.__qualname__} cannot be written as JSON ({exc}); use .pkl.") from None


def load(data: bytes) -> tuple[str | None, Any]:
    """(class path, fields) of an envelope; (None, the JSON value) for a file without one."""
    try:
        payload = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptData(f"Invalid JSON: {exc}.") from None
    if isinstance(payload, dict) and set(payload) == {"class", "data"} and isinstance(payload["class"], str):
        return payload["class"], payload["data"]
    return None, payload


def fallback(fields: Any, why: str) -> Any:
    """Return ``fields`` as stored, with a warning saying why no instance was built."""
    message = f"{why}; returning the stored fields as a {type(fields).__name__} instead of an instance."
    warnings.warn(message, UserWarning, stacklevel=4)
    return fields
