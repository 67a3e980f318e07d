"""Storage backends: local disk and obstore-based object stores."""

from __future__ import annotations

from . import forksafe as _forksafe  # noqa: F401 - registers the at-fork hook as soon as autostore loads
from .base import Backend, ObjectMeta, ProgressCallback

__all__ = ["Backend", "ObjectMeta", "ProgressCallback"]
