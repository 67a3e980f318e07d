"""A backend seen from a store rooted below a bucket's root (``s3://bucket/prefix/``): keys are
relative to the store, as ``store.primary_backend`` was in 0.1.x (``is_dataset("weather/")``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from .base import Backend, ObjectMeta, ProgressCallback

__all__ = ["PrefixedBackend"]


class PrefixedBackend(Backend):
    """``inner`` with every key taken relative to the folder ``prefix`` (ending with "/").
    Other attributes (``kind``, ``options``, ...) are the inner backend's."""

    def __init__(self, inner: Backend, prefix: str) -> None:
        self.inner = inner
        self.prefix = prefix
        self.scheme = inner.scheme
        self.bucket = inner.bucket

    @property
    def identity(self) -> str:
        # computed on each use: an object-store backend settles its identity on first request
        return f"{self.inner.identity}|{self.prefix}"

    @identity.setter
    def identity(self, value: str) -> None:
        raise AttributeError("The identity of a prefixed view follows its backend's.")

    def settled_identity(self) -> str:
        return f"{self.inner.settled_identity()}|{self.prefix}"

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (unpickling): avoid recursing
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _rel(self, meta: ObjectMeta) -> ObjectMeta:
        return replace(meta, key=meta.key[len(self.prefix) :])

    def head(self, key: str) -> ObjectMeta:
        return self._rel(self.inner.head(self.prefix + key))

    def get_bytes(self, key: str) -> bytes:
        return self.inner.get_bytes(self.prefix + key)

    def get_range(self, key: str, start: int, end: int) -> bytes:
        return self.inner.get_range(self.prefix + key, start, end)

    def download(
        self,
        key: str,
        dest: Path,
        *,
        if_none_match: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectMeta | None:
        meta = self.inner.download(self.prefix + key, dest, if_none_match=if_none_match, progress=progress)
        return None if meta is None else self._rel(meta)

    def fetch(self, key: str, dest: Callable[[], Path], *, limit: int) -> bytes | None:
        return self.inner.fetch(self.prefix + key, dest, limit=limit)

    def put_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        return self._rel(self.inner.put_bytes(self.prefix + key, data))

    def upload(self, key: str, src: Path, *, progress: ProgressCallback | None = None) -> ObjectMeta:
        return self._rel(self.inner.upload(self.prefix + key, src, progress=progress))

    def create_bytes(self, key: str, data: bytes | bytearray | memoryview) -> ObjectMeta:
        return self._rel(self.inner.create_bytes(self.prefix + key, data))

    def write_with(self, key: str, write: Callable[[Path], None], tmp_dir: Path) -> ObjectMeta:
        return self._rel(self.inner.write_with(self.prefix + key, write, tmp_dir))

    def delete(self, key: str) -> None:
        self.inner.delete(self.prefix + key)

    def delete_many(self, keys: list[str]) -> None:
        self.inner.delete_many([self.prefix + k for k in keys])

    def copy(self, src: str, dst: str) -> None:
        self.inner.copy(self.prefix + src, self.prefix + dst)

    def list_objects(self, prefix: str = "") -> Iterator[ObjectMeta]:
        for meta in self.inner.list_objects(self.prefix + prefix):
            yield self._rel(meta)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        cut = len(self.prefix)
        for key in self.inner.list_keys(self.prefix + prefix):
            yield key[cut:]

    def list_dir(self, prefix: str = "") -> tuple[list[ObjectMeta], list[str]]:
        files, dirs = self.inner.list_dir(self.prefix + prefix)
        cut = len(self.prefix)
        return [self._rel(m) for m in files], [d[cut:] for d in dirs]

    def list_stem(self, stem: str) -> list[str]:
        cut = len(self.prefix)
        return [k[cut:] for k in self.inner.list_stem(self.prefix + stem)]

    def is_dir(self, prefix: str) -> bool:
        return self.inner.is_dir(self.prefix + prefix)

    def open_read(self, key: str) -> IO[bytes]:
        return self.inner.open_read(self.prefix + key)

    def open_write(self, key: str) -> IO[bytes]:
        return self.inner.open_write(self.prefix + key)

    def read_stream(self, key: str, chunk_size: int = 8 * 1024 * 1024) -> tuple[ObjectMeta, Iterator[bytes]]:
        meta, chunks = self.inner.read_stream(self.prefix + key, chunk_size)
        return self._rel(meta), chunks

    def local_path(self, key: str) -> Path | None:
        return self.inner.local_path(self.prefix + key)

    def uri(self, key: str) -> str:
        return self.inner.uri(self.prefix + key)

    def storage_options(self, engine: str = "polars") -> dict[str, Any]:
        return self.inner.storage_options(engine)

    def polars_scan(self) -> tuple[dict[str, Any], Any]:
        return self.inner.polars_scan()

    def close(self) -> None:
        self.inner.close()
