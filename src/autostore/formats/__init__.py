"""Format handlers, one small module each; each imports its library lazily."""

from __future__ import annotations

from .base import DataHandler, HandlerRegistry

__all__ = ["DataHandler", "HandlerRegistry", "default_registry"]

_default: HandlerRegistry | None = None


def _builtin_handlers() -> list[DataHandler]:
    """Every built-in handler. Priorities (higher wins) make writing by type pick: polars frames
    -> parquet (10); numpy, sparse, torch, PIL, pydantic (8); dataclass (7); list of dicts ->
    jsonl (6); dict/list -> json and str -> txt (5); anything else -> pickle (0). CSV, YAML,
    Arrow IPC, Excel and safetensors are only chosen by extension, and ``<ext>.gz/.bz2/.xz/.zst``
    wraps any of them (formats/compression.py). The modules import their libraries only when used."""
    from .csv import CSVHandler
    from .dataclass import DataclassHandler
    from .excel import ExcelHandler
    from .image import ImageHandler
    from .ipc import IpcHandler
    from .json import JSONHandler
    from .jsonl import JSONLHandler
    from .numpy import NumpyHandler
    from .parquet import ParquetHandler
    from .pickle import PickleHandler
    from .pydantic import PydanticHandler
    from .safetensors import SafetensorsHandler
    from .sparse import SparseHandler
    from .text import TextHandler
    from .torch import TorchHandler
    from .yaml import YAMLHandler

    return [
        PickleHandler(),
        JSONHandler(),
        TextHandler(),
        YAMLHandler(),
        JSONLHandler(),
        DataclassHandler(),
        PydanticHandler(),
        NumpyHandler(),
        SparseHandler(),
        TorchHandler(),
        ImageHandler(),
        ParquetHandler(),
        CSVHandler(),
        IpcHandler(),
        ExcelHandler(),
        SafetensorsHandler(),
    ]


def default_registry() -> HandlerRegistry:
    """The process-wide registry new stores copy (built-ins plus ``autostore.register_handler``)."""
    global _default
    if _default is None:
        _default = HandlerRegistry(_builtin_handlers())
    return _default
