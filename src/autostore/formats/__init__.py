"""Format handlers, one small module each; each imports its library lazily."""

from __future__ import annotations

from .base import DataHandler, HandlerRegistry

__all__ = ["DataHandler", "HandlerRegistry", "default_registry"]

_default: HandlerRegistry | None = None


def _builtin_handlers() -> list[DataHandler]:
    from .csv import CSVHandler
    from .json import JSONHandler
    from .jsonl import JSONLHandler
    from .parquet import ParquetHandler
    from .pickle import PickleHandler
    from .text import TextHandler

    return [PickleHandler(), JSONHandler(), TextHandler(), JSONLHandler(), ParquetHandler(), CSVHandler()]


def default_registry() -> HandlerRegistry:
    """The process-wide registry new stores copy (built-ins plus ``autostore.register_handler``)."""
    global _default
    if _default is None:
        _default = HandlerRegistry(_builtin_handlers())
    return _default
