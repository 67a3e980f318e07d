"""Transparent compression by suffix: ``x.json.gz``, ``x.jsonl.zst``, ``x.csv.bz2``, ``x.npy.xz``.

The last suffix picks the codec (gzip, bz2 and xz from the standard library, zstd through
``zstandard``), the one before it the format, whose handler does the encoding. Data is streamed
through the codec in chunks: a format read from bytes (JSON, text, pickle) gets the decompressed
bytes it needs anyway, a format read from a file (parquet, npy, ...) gets a temporary file
decompressed chunk by chunk, so no compressed copy is ever held in memory.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigError, CorruptData
from .base import DataHandler, require

__all__ = ["CODEC_SUFFIXES", "CompressedHandler", "codec_suffix", "compressed_handler", "with_codec"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Codec:
    """One compression codec: how to wrap a binary file for reading and for writing."""

    name: str
    suffix: str
    reader: Callable[[IO[bytes]], Any]  # a binary file object (context manager) to read
    writer: Callable[[IO[bytes]], Any]  # ... and to write; closing it does not close ``raw``
    #: exceptions meaning "this is not (complete) data of this codec"
    errors: Callable[[], tuple[type[BaseException], ...]]


def _gzip_reader(raw: IO[bytes]) -> Any:
    import gzip

    return gzip.GzipFile(fileobj=raw, mode="rb")


def _gzip_writer(raw: IO[bytes]) -> Any:
    import gzip

    # mtime=0: the same data gives the same bytes (stable ETags, content digests).
    return gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0)


def _gzip_errors() -> tuple[type[BaseException], ...]:
    import zlib

    return (EOFError, OSError, zlib.error)


def _bz2_reader(raw: IO[bytes]) -> Any:
    import bz2

    return bz2.BZ2File(raw, mode="rb")


def _bz2_writer(raw: IO[bytes]) -> Any:
    import bz2

    return bz2.BZ2File(raw, mode="wb")


def _xz_reader(raw: IO[bytes]) -> Any:
    import lzma

    return lzma.LZMAFile(raw, mode="rb")


def _xz_writer(raw: IO[bytes]) -> Any:
    import lzma

    return lzma.LZMAFile(raw, mode="wb")


def _lzma_errors() -> tuple[type[BaseException], ...]:
    import lzma

    return (EOFError, OSError, lzma.LZMAError)


def _zstd() -> Any:
    return require("zstandard", "zstd", "zstd compression (.zst)")


def _zstd_reader(raw: IO[bytes]) -> Any:
    zstd = _zstd()
    # zstandard's reader ends quietly on a truncated stream: walk the frame headers first
    # (cheap: it seeks over block contents) so a cut-off file is an error, as with gzip.
    _check_zstd_frames(raw)
    raw.seek(0)
    return zstd.ZstdDecompressor().stream_reader(
        raw, read_size=_CHUNK, read_across_frames=True, closefd=False
    )


def _zstd_writer(raw: IO[bytes]) -> Any:
    zstd = _zstd()
    return zstd.ZstdCompressor(level=3, write_checksum=True).stream_writer(raw, closefd=False)


def _zstd_errors() -> tuple[type[BaseException], ...]:
    return (EOFError, OSError, _zstd().ZstdError)


_ZSTD_MAGIC = 0xFD2FB528


def _check_zstd_frames(raw: IO[bytes]) -> None:
    """Walk the frames of a zstd stream (RFC 8878) without decompressing; EOFError when the
    stream ends inside a frame, OSError when it is not zstd at all."""

    def take(n: int) -> bytes:
        data = raw.read(n)
        if len(data) != n:
            raise EOFError("zstd data ended inside a frame (the file is truncated)")
        return data

    first = True
    while True:
        head = raw.read(4)
        if not head and not first:
            return
        if len(head) != 4:
            if first and not head:
                return  # an empty file: no frames, no content
            raise EOFError("zstd data ended inside a frame header (the file is truncated)")
        first = False
        (magic,) = struct.unpack("<I", head)
        if magic & 0xFFFFFFF0 == 0x184D2A50:  # skippable frame: 4-byte size, then that many bytes
            (size,) = struct.unpack("<I", take(4))
            _skip(raw, size, take)
            continue
        if magic != _ZSTD_MAGIC:
            raise OSError(f"not zstd data (starts with {head!r})")
        (descriptor,) = take(1)
        single_segment = descriptor & 0x20
        fcs_flag = descriptor >> 6
        skip = (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 3]
        skip += (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
        take(skip)
        while True:
            (header,) = struct.unpack("<I", take(3) + b"\0")
            last, block_type, size = header & 1, (header >> 1) & 3, header >> 3
            if block_type == 3:
                raise OSError("corrupt zstd data (reserved block type)")
            _skip(raw, 1 if block_type == 1 else size, take)
            if last:
                break
        if descriptor & 0x04:
            take(4)  # content checksum


def _skip(raw: IO[bytes], size: int, take: Callable[[int], bytes]) -> None:
    """Skip ``size`` bytes of ``raw`` (EOFError through ``take`` when fewer remain)."""
    if size == 0:
        return
    raw.seek(size - 1, io.SEEK_CUR)
    take(1)


CODECS: dict[str, Codec] = {
    ".gz": Codec("gzip", ".gz", _gzip_reader, _gzip_writer, _gzip_errors),
    ".bz2": Codec("bz2", ".bz2", _bz2_reader, _bz2_writer, _lzma_errors),
    ".xz": Codec("xz", ".xz", _xz_reader, _xz_writer, _lzma_errors),
    ".zst": Codec("zstd", ".zst", _zstd_reader, _zstd_writer, _zstd_errors),
}
CODEC_SUFFIXES = tuple(CODECS)
_NAMES = {
    "gzip": ".gz",
    "gz": ".gz",
    "bz2": ".bz2",
    "bzip2": ".bz2",
    "xz": ".xz",
    "lzma": ".xz",
    "zstd": ".zst",
    "zst": ".zst",
}


def codec_suffix(compression: str) -> str:
    """The file suffix of a codec name (``"zstd"`` -> ``".zst"``); ConfigError for others."""
    suffix = _NAMES.get(str(compression).lower().lstrip("."))
    if suffix is None:
        raise ConfigError(f"compression={compression!r} is not known; use one of gzip, bz2, xz, zstd.")
    return suffix


def split_codec(ext: str) -> tuple[str, str]:
    """``".json.gz"`` -> ``(".json", ".gz")``; no codec suffix -> ``(ext, "")``."""
    for suffix in CODECS:
        if ext.endswith(suffix) and len(ext) > len(suffix):
            return ext[: -len(suffix)], suffix
    return ext, ""


def with_codec(ext: str, compression: str) -> str:
    """``ext`` compressed with ``compression`` (``".json"``, ``"zstd"`` -> ``".json.zst"``);
    unchanged when it already names that codec, ConfigError when it names another."""
    suffix = codec_suffix(compression)
    current = split_codec(ext.lower())[1]
    if current == suffix:
        return ext
    if current:
        raise ConfigError(
            f"compression={compression!r} contradicts the {current} suffix of the key; drop one of them."
        )
    return ext + suffix


def compressed_handler(ext: str, lookup: Callable[[str], DataHandler | None]) -> DataHandler | None:
    """The handler for ``<format ext><codec suffix>`` (``lookup`` finds the format's handler),
    or None when ``ext`` is no such pair."""
    inner_ext, suffix = split_codec(ext)
    if not suffix or not inner_ext.startswith(".") or len(inner_ext) < 2:
        return None
    inner = lookup(inner_ext)
    if inner is None:
        return None
    return CompressedHandler(inner, CODECS[suffix], inner_ext)


@contextlib.contextmanager
def _binary(source: Path | IO[bytes]) -> Iterator[IO[bytes]]:
    """A binary reader over ``source``: the file at a path (closed after), or the buffer itself."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as f:
            yield f
    else:
        yield source


class CompressedHandler(DataHandler):
    """Another handler's format inside a gzip/bz2/xz/zstd stream (``.json.gz``, ``.npy.zst``)."""

    reads_buffers = True  # small remote objects arrive as an in-memory buffer

    def __init__(self, inner: DataHandler, codec: Codec, inner_ext: str) -> None:
        self.inner = inner
        self.codec = codec
        self.inner_ext = inner_ext
        self.unsafe = inner.unsafe  # a .pkl.gz is as unsafe as a .pkl
        # A compressed stream cannot be memory-mapped; the format's other options pass through.
        self.read_options = tuple(o for o in inner.read_options if o != "mmap")

    @property
    def extensions(self) -> list[str]:
        return [self.inner_ext + self.codec.suffix]

    @property
    def priority(self) -> int:
        return self.inner.priority

    def can_handle_extension(self, extension: str) -> bool:
        return extension == self.inner_ext + self.codec.suffix

    def can_handle_data(self, data: Any) -> bool:
        return False  # chosen by extension (or compression=) only

    def _corrupt(self, exc: BaseException) -> CorruptData:
        detail = str(exc).strip() or type(exc).__name__
        return CorruptData(f"Truncated or corrupt {self.codec.name} data ({self.codec.suffix}): {detail}.")

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        errors = self.codec.errors()
        with _binary(file_path) as raw:
            if self.inner.supports_bytes:
                try:
                    with self.codec.reader(raw) as stream:
                        payload = stream.read()
                except errors as exc:
                    raise self._corrupt(exc) from None
                return self.inner.read_from_bytes(payload, self.inner_ext)
            with tempfile.TemporaryDirectory(prefix="autostore-") as folder:
                plain = Path(folder) / ("data" + self.inner_ext)  # named for libraries that look
                try:
                    with self.codec.reader(raw) as stream, open(plain, "wb") as out:
                        shutil.copyfileobj(stream, out, _CHUNK)
                except errors as exc:
                    raise self._corrupt(exc) from None
                return self.inner.read_from_file(plain, self.inner_ext)

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        if self.inner.supports_bytes:
            payload = self.inner.write_to_bytes(data, self.inner_ext)
            with open(file_path, "wb") as raw, self.codec.writer(raw) as stream:
                view = memoryview(payload)
                for start in range(0, len(view), _CHUNK):
                    stream.write(view[start : start + _CHUNK])
            return
        with tempfile.TemporaryDirectory(prefix="autostore-") as folder:
            plain = Path(folder) / ("data" + self.inner_ext)
            self.inner.write_to_file(data, plain, self.inner_ext)
            with open(plain, "rb") as source, open(file_path, "wb") as raw, self.codec.writer(raw) as stream:
                shutil.copyfileobj(source, stream, _CHUNK)

    def __repr__(self) -> str:
        return f"CompressedHandler({self.inner!r}, codec={self.codec.name!r})"
