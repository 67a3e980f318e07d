"""PyTorch checkpoints: ``.pt`` / ``.pth`` through ``torch.save`` / ``torch.load`` on the local file.

Tensors, state dicts and other checkpoints of plain data always load with
``weights_only=True`` (no code runs). A file that needs more (a whole ``nn.Module``, any custom
class) is a pickle: it loads with ``weights_only=False`` only when ``allow_pickle`` is on, else
``UnsafeLoad`` names the classes it would import.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

from ..errors import CorruptData
from .base import DataHandler, first_line, is_os_error, might_be, refuse_unsafe, require, unsafe_loads_allowed

__all__ = ["TorchHandler", "holds_tensors"]

_MAX_DEPTH = 4
_PLAIN = (str, int, float, bool, type(None))


def _torch() -> Any:
    return require("torch", "torch", "PyTorch checkpoints (.pt/.pth)")


def holds_tensors(value: Any, depth: int = 0) -> bool:
    """A dict or list holding a torch object somewhere inside (a model or optimizer state dict)."""
    if depth > _MAX_DEPTH or "torch" not in sys.modules:  # no torch imported: no tensor exists
        return False
    if isinstance(value, dict):
        items: Any = value.values()
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return False
    for v in items:
        if type(v) in _PLAIN:
            continue
        if isinstance(v, (dict, list, tuple)):
            if holds_tensors(v, depth + 1):
                return True
        elif might_be(v, "torch"):
            return True
    return False


class TorchHandler(DataHandler):
    """torch tensor / state dict / ``nn.Module`` <-> ``.pt`` / ``.pth``; explicit ``.pt`` takes
    anything ``torch.save`` can write."""

    @property
    def extensions(self) -> list[str]:
        return [".pt", ".pth"]

    @property
    def priority(self) -> int:
        return 8

    def can_handle_extension(self, extension: str) -> bool:
        return extension in (".pt", ".pth")

    def can_handle_data(self, data: Any) -> bool:
        if might_be(data, "torch"):
            torch = _torch()
            return isinstance(data, (torch.Tensor, torch.nn.Module))
        return holds_tensors(data)

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        torch = _torch()
        try:
            return torch.load(file_path, weights_only=True)
        except pickle.UnpicklingError as exc:
            weights_error: BaseException = exc
        except (RuntimeError, EOFError, OSError, ValueError) as exc:
            if is_os_error(exc):
                raise
            raise CorruptData(f"Invalid PyTorch checkpoint: {first_line(exc)}.") from None
        # weights_only refused something: a class to import (a whole module), or garbage.
        finder = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)  # torch >= 2.5
        try:
            needed = finder(file_path) if finder else ["classes torch < 2.5 cannot list"]
        except Exception:
            needed = None  # not a zip checkpoint: legacy torch.save format, or not torch at all
        if needed == []:
            raise CorruptData(f"Invalid PyTorch checkpoint: {first_line(weights_error)}.")
        if not unsafe_loads_allowed():
            if needed is None:
                raise CorruptData(
                    "Not a zip-format PyTorch checkpoint (files in the legacy torch.save format are "
                    "pickles: they load only with allow_pickle=True)."
                )
            shown = ", ".join(needed[:5]) + (", ..." if len(needed) > 5 else "")
            raise refuse_unsafe(f"This checkpoint holds Python objects beyond tensors ({shown})")
        try:
            return torch.load(file_path, weights_only=False)
        except Exception as exc:
            raise CorruptData(f"Invalid PyTorch checkpoint: {type(exc).__name__}: {first_line(exc)}.") from None

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        _torch().save(data, file_path)
