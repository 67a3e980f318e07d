"""Compatibility module of 0.1.x: ``from autostore.autostore import DataHandler``."""

from __future__ import annotations

from .formats.base import DataHandler
from .options import Options, S3Options
from .store import AutoStore

__all__ = ["AutoStore", "DataHandler", "Options", "S3Options"]
