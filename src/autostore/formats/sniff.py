"""What a file without a known extension holds, judged by its bytes.

autostore 0.1.x stored every value under its bare key (``cfg`` holding JSON, ``df`` holding
parquet), so such files are read by their content: parquet, ``.npy``, zip-based ``.npz`` or
torch checkpoints, pickle, PNG/JPEG/GIF/WebP/TIFF by their magic bytes; anything else that parses
as JSON is JSON, else UTF-8 text without NUL or other control characters. Only the bytes are
looked at: nothing is loaded or imported here (whether a pickle may be loaded is the store's
decision).
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

__all__ = ["from_head", "sniff"]

HEAD_BYTES = 16
# NUL and the control characters text does not use (tab, newlines, form feed, escape are fine):
# valid UTF-8, yet binary data.
_BINARY_CONTROLS = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_TEXT_PROBE = 64 * 1024

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PAR1", ".parquet"),
    (b"\x93NUMPY", ".npy"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
    (b"II*\x00", ".tiff"),
    (b"MM\x00*", ".tiff"),
)
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")


def from_head(head: bytes) -> str | None:
    """The extension the first bytes of a file prove (``".zip"`` for any zip archive: look
    inside with :func:`sniff`), or None when they prove nothing."""
    for magic, ext in _MAGIC:
        if head.startswith(magic):
            return ext
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    if head.startswith(_ZIP):
        return ".zip"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # pickle protocol 2-5 (0.1.x used 4)
        return ".pkl"
    return None


def sniff(path: Path) -> str | None:
    """The extension whose handler reads the file at ``path`` (``".parquet"``, ``".json"``,
    ``".txt"``, ...), or None for binary data of no known kind."""
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    ext = from_head(head)
    if ext == ".zip":
        return _zip_kind(path)
    if ext is not None:
        return ext
    return _text_kind(path)


def _zip_kind(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return None
    if any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
        return ".pt"  # torch.save's zip format: <archive>/data.pkl + tensor storages
    if names and all(name.endswith(".npy") for name in names):
        return ".npz"  # np.savez / scipy.sparse.save_npz
    return None


def _text_kind(path: Path) -> str | None:
    with open(path, "rb") as f:
        probe = f.read(_TEXT_PROBE)
        try:
            probe.decode("utf-8")
        except UnicodeDecodeError as exc:
            if len(probe) < _TEXT_PROBE or exc.start < len(probe) - 3:  # not a character cut in two
                return None
        data = probe + f.read()
    try:
        json.loads(data)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        pass
    else:
        return ".json"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _BINARY_CONTROLS.search(data) else ".txt"
