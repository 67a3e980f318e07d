"""Storage backends: local disk and obstore-based object stores."""

from __future__ import annotations

from .base import Backend, ObjectMeta, ProgressCallback

__all__ = ["Backend", "ObjectMeta", "ProgressCallback"]
