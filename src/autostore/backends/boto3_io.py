"""boto3 responses and file objects for the boto3 transport: object metadata from responses,
a writer that spools to a temp file and uploads on close, and
the request kind (``autostore.metrics``) of an S3 REST request, for counting.

One job: adapt boto3's shapes to autostore's (no requests are made here).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..metrics import COPY, DELETE, GET, HEAD, LIST, MP_COMPLETE, MP_PART, MP_START, PUT, RANGE
from .base import ObjectMeta, TempFileWriter

__all__ = ["SpoolWriter", "list_meta", "object_meta", "request_kind"]


def object_meta(key: str, r: dict[str, Any]) -> ObjectMeta:
    """ObjectMeta from a boto3 HeadObject/GetObject response."""
    return ObjectMeta(key=key, size=int(r["ContentLength"]), etag=r.get("ETag"), modified_time=r.get("LastModified"))


def list_meta(obj: dict[str, Any]) -> ObjectMeta:
    """ObjectMeta from one ``Contents`` entry of a boto3 listing."""
    return ObjectMeta(
        key=obj["Key"], size=int(obj["Size"]), etag=obj.get("ETag"), modified_time=obj.get("LastModified")
    )


class SpoolWriter(TempFileWriter):
    """Buffers writes in a temporary file; the object is uploaded (atomically) on close()."""

    def __init__(self, upload: Callable[[Path], object]) -> None:
        self._upload = upload
        fd, name = tempfile.mkstemp(prefix="autostore-upload-")
        os.close(fd)
        super().__init__(name)

    def _commit(self, tmp_path: str) -> None:
        self._upload(Path(tmp_path))


def request_kind(method: str, url: str, headers: Any) -> int:
    """The request kind (autostore.metrics) of one S3 REST request."""
    query = urlsplit(url).query
    if method == "HEAD":
        return HEAD
    if method == "GET":
        return LIST if "list-type" in query or "prefix=" in query else RANGE if "Range" in headers else GET
    if method == "PUT":
        return MP_PART if "partNumber" in query else COPY if "x-amz-copy-source" in headers else PUT
    if method == "POST":
        if query.startswith("uploads"):
            return MP_START
        return MP_COMPLETE if "uploadId" in query else DELETE
    return DELETE
