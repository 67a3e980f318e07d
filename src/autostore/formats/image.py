"""Images through Pillow: ``.png`` (chosen for PIL images), ``.jpg``/``.jpeg``, ``.webp``, ``.bmp``,
``.tiff``/``.tif``, ``.gif``. Pillow reads and writes the local file itself, with its own defaults
(JPEG and WebP are lossy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CorruptData, FormatError
from .base import DataHandler, is_os_error, might_be, require

__all__ = ["ImageHandler"]

_PIL_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tiff": "TIFF",
    ".tif": "TIFF",
    ".gif": "GIF",
}


def _image_module() -> Any:
    return require("PIL.Image", "images", "Images (.png/.jpg/...)")


class ImageHandler(DataHandler):
    """PIL image <-> image files; reading returns a loaded ``PIL.Image.Image`` (first frame of
    multi-frame files; ``seek()`` reaches the others)."""

    @property
    def extensions(self) -> list[str]:
        return list(_PIL_FORMATS)

    @property
    def priority(self) -> int:
        return 8

    def can_handle_extension(self, extension: str) -> bool:
        return extension in _PIL_FORMATS

    def can_handle_data(self, data: Any) -> bool:
        return might_be(data, "PIL") and isinstance(data, _image_module().Image)

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        image = _image_module()
        try:
            img = image.open(file_path)
            img.load()  # decode now: the file may be a temporary download
        except (OSError, SyntaxError, ValueError) as exc:  # UnidentifiedImageError is an OSError
            if is_os_error(exc):
                raise
            raise CorruptData(f"Not a readable {file_extension} image: {exc}.") from None
        return img

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        image = _image_module()
        if not (might_be(data, "PIL") and isinstance(data, image.Image)):
            raise FormatError(f"{file_extension} files hold a PIL image, not {type(data).__name__}.")
        fmt = _PIL_FORMATS[file_extension]
        try:
            data.save(file_path, format=fmt)
        except (OSError, ValueError, KeyError) as exc:
            if is_os_error(exc):  # a full disk, not the image
                raise
            raise FormatError(
                f"Pillow cannot write a mode {data.mode} image as {fmt}: {exc} "
                f"(convert it first, e.g. img.convert('RGB'), or use .png)."
            ) from None
