"""Compatibility module of 0.1.x: ``from autostore.s3 import S3Options``.

It is also the backend name passed to ``AutoStore.register_scheme("minio", "autostore.s3")``.
"""

from __future__ import annotations

from .options import S3Options

__all__ = ["S3Options"]
