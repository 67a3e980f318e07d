"""safetensors (``.safetensors``): a flat dict of torch tensors or numpy arrays, with no code run
on load (so it loads with ``allow_pickle=False``).

Written with the ``safetensors`` library; the header's ``__metadata__["format"]`` records the
kind (``"pt"`` for torch, the Hugging Face convention, ``"np"`` for numpy) so a file reads back
as what was written. Files from elsewhere without ``"pt"`` read as numpy arrays (bfloat16 and
float8, which numpy lacks, as torch tensors when torch is installed). Chosen by extension only:
the type default for tensors stays ``.pt``.

``mmap=True`` maps the file instead of reading it: numpy files give read-only ``np.memmap``
arrays, torch files tensors over a private (copy-on-write) mapping, as safetensors itself does.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

from ..errors import CorruptData, FormatError, MissingDependency
from .base import DataHandler, first_line, might_be, read_option, require

__all__ = ["SafetensorsHandler"]

_MAX_HEADER = 100 * 1024 * 1024  # the limit the safetensors library enforces
#: safetensors dtype -> numpy dtype (little endian); absent ones have no numpy type
_NUMPY_DTYPES = {
    "BOOL": "|b1",
    "U8": "|u1",
    "I8": "|i1",
    "U16": "<u2",
    "I16": "<i2",
    "F16": "<f2",
    "U32": "<u4",
    "I32": "<i4",
    "F32": "<f4",
    "U64": "<u8",
    "I64": "<i8",
    "F64": "<f8",
    "C64": "<c8",
}
_SUGGEST = "store it as .pt (torch.save) instead, or keep only tensors in the dict"


def _safetensors(part: str) -> Any:
    return require(f"safetensors.{part}", "safetensors", "safetensors files (.safetensors)")


def _torch() -> Any:
    return require("torch", "torch", "safetensors files written from torch")


def read_header(path: Path) -> tuple[dict[str, Any], int]:
    """(header, offset of the data) of a safetensors file; CorruptData when the file is not
    one or is shorter than its header says."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CorruptData(f"Not a safetensors file ({size} bytes, shorter than its 8-byte header length).")
        (length,) = struct.unpack("<Q", head)
        if length > min(_MAX_HEADER, size - 8):
            raise CorruptData(f"Not a safetensors file (header length {length} does not fit in {size} bytes).")
        raw = f.read(length)
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptData(f"Not a safetensors file (header is not JSON: {exc}).") from None
    if not isinstance(header, dict):
        raise CorruptData("Not a safetensors file (header is not a JSON object).")
    start = 8 + length
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            end = max(end, int(info["data_offsets"][1]))
        except (TypeError, KeyError, IndexError, ValueError):
            raise CorruptData(f"Invalid safetensors header: entry {name!r} has no data_offsets.") from None
    if start + end > size:
        raise CorruptData(f"Truncated safetensors file: its header needs {start + end} bytes, the file has {size}.")
    return header, start


def _written_from_torch(header: dict[str, Any]) -> bool:
    meta = header.get("__metadata__")
    return isinstance(meta, dict) and meta.get("format") == "pt"


class SafetensorsHandler(DataHandler):
    """dict of torch tensors / numpy arrays <-> ``.safetensors`` (by extension only)."""

    read_options = ("mmap",)

    @property
    def extensions(self) -> list[str]:
        return [".safetensors"]

    @property
    def priority(self) -> int:
        return 10

    def can_handle_extension(self, extension: str) -> bool:
        return extension == ".safetensors"

    def can_handle_data(self, data: Any) -> bool:
        return False  # tensors and state dicts default to .pt (0.1.x); name .safetensors to use it

    # -- reading ------------------------------------------------------------------------------
    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        header, start = read_header(file_path)
        tensors = {k: v for k, v in header.items() if k != "__metadata__"}
        as_torch = _written_from_torch(header) or (
            any(v.get("dtype") not in _NUMPY_DTYPES for v in tensors.values() if isinstance(v, dict))
            and _torch_available()
        )
        if as_torch:
            _torch()
            return self._load(_safetensors("torch"), file_path)
        if read_option("mmap"):
            return _map_numpy(file_path, tensors, start)
        return self._load(_safetensors("numpy"), file_path)

    def _load(self, module: Any, file_path: Path) -> Any:
        # safetensors.torch maps the file itself (lazily paged, copy-on-write), mmap or not.
        try:
            return module.load_file(str(file_path))
        except Exception as exc:  # SafetensorError, or numpy refusing a dtype
            first = first_line(exc)
            if "dtype" in first.lower() or "not understood" in first:
                raise FormatError(
                    f"This safetensors file holds a dtype numpy has no type for ({first}); "
                    'install torch (pip install "autostore[torch]") to read it as torch tensors.'
                ) from None
            raise CorruptData(f"Invalid safetensors file: {first}.") from None

    # -- writing ------------------------------------------------------------------------------
    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        if not isinstance(data, dict) or not data:
            raise FormatError(
                f".safetensors files hold a non-empty dict of tensors (e.g. a state dict), not "
                f"{type(data).__name__}; wrap a single tensor as {{'weight': t}}, or {_SUGGEST}."
            )
        kinds: dict[str, list[str]] = {}
        for key, value in data.items():
            if not isinstance(key, str):
                raise FormatError(f"safetensors keys are strings; {key!r} is a {type(key).__name__} ({_SUGGEST}).")
            kinds.setdefault(_kind(value), []).append(key)
        other = next((k for k in kinds if k not in ("torch", "numpy")), None)
        if other is not None:
            key = kinds[other][0]
            raise FormatError(f"safetensors holds only tensors: the value at {key!r} is {other}; {_SUGGEST}.")
        if len(kinds) > 1:
            raise FormatError(
                f"safetensors files hold torch tensors or numpy arrays, not both: {kinds['numpy'][0]!r} is a "
                f"numpy array and {kinds['torch'][0]!r} a torch tensor; convert one kind, or {_SUGGEST}."
            )
        if "torch" in kinds:
            _torch()
            save, fmt = _safetensors("torch").save_file, "pt"
        else:
            save, fmt = _safetensors("numpy").save_file, "np"
        try:
            save(data, str(file_path), metadata={"format": fmt})
        except (RuntimeError, ValueError, TypeError) as exc:  # shared storage, object arrays, ...
            first = first_line(exc, 400)
            raise FormatError(f"safetensors cannot store this dict: {first} ({_SUGGEST}).") from None


def _kind(value: Any) -> str:
    if might_be(value, "torch"):
        torch = _torch()
        if isinstance(value, torch.Tensor):
            return "torch"
    if might_be(value, "numpy"):
        np = require("numpy", "science", "safetensors files of numpy arrays")
        if type(value) is np.ndarray and not value.dtype.hasobject:
            return "numpy"
    return f"a {type(value).__module__}.{type(value).__qualname__}".replace("builtins.", "")


def _torch_available() -> bool:
    try:
        _torch()
    except MissingDependency:
        return False
    return True


def _map_numpy(file_path: Path, tensors: dict[str, Any], start: int) -> dict[str, Any]:
    """Read-only ``np.memmap`` views of every tensor of the file (no data read)."""
    np = require("numpy", "science", "safetensors files of numpy arrays")
    out: dict[str, Any] = {}
    for name, info in tensors.items():
        dtype = _NUMPY_DTYPES.get(info.get("dtype"))
        if dtype is None:
            raise FormatError(f"Tensor {name!r} is {info.get('dtype')}, which numpy cannot map; drop mmap=True.")
        shape = tuple(int(n) for n in info["shape"])
        begin, end = (int(n) for n in info["data_offsets"])
        if end - begin != int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize:
            raise CorruptData(f"Invalid safetensors header: tensor {name!r} has {end - begin} bytes for shape {shape}.")
        if end == begin:  # np.memmap cannot map zero bytes
            empty = np.empty(shape, dtype=dtype)
            empty.flags.writeable = False
            out[name] = empty
            continue
        out[name] = np.memmap(file_path, dtype=dtype, mode="r", offset=start + begin, shape=shape)
    return out
