"""SciPy sparse matrices and arrays: ``.sparse`` (also ``.sparse.npz``, the name 0.1.4+ used).

On disk a ``.sparse`` file is exactly what ``scipy.sparse.save_npz(f, m, compressed=False)``
writes (an npz zip holding ``format``, ``shape``, ``data``, ``indices``/``indptr`` or ``row``/``col``
or ``offsets``, and ``_is_array`` for sparse arrays), so ``scipy.sparse.load_npz`` opens it too.
``lil`` and ``dok``, which ``save_npz`` cannot store, are saved as ``csr`` plus one extra member,
``autostore_format.npy``, naming the original format; reading converts back. The type (matrix
or array) and the format (csr, csc, coo, bsr, dia, lil, dok) survive the round trip.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from ..errors import CorruptData, FormatError
from .base import DataHandler, is_os_error, might_be, require

__all__ = ["SparseHandler", "is_sparse", "is_sparse_npz", "load", "save"]

_SAVEABLE = ("csr", "csc", "coo", "bsr", "dia")
_FORMAT_MEMBER = "autostore_format.npy"


def _sp() -> Any:
    return require("scipy.sparse", "science", "SciPy sparse matrices (.sparse)")


def is_sparse(value: Any) -> bool:
    """A scipy sparse matrix or array (tested without importing scipy for other values)."""
    return might_be(value, "scipy") and bool(_sp().issparse(value))


def is_sparse_npz(file_path: Path) -> bool:
    """True when the npz file at ``file_path`` has the layout ``scipy.sparse.save_npz`` writes."""
    try:
        with zipfile.ZipFile(file_path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        return False
    return {"format.npy", "shape.npy", "data.npy"} <= names


def save(value: Any, file_path: Path) -> None:
    """Write the sparse ``value`` to ``file_path`` (see the module docstring for the layout)."""
    sp = _sp()
    fmt = value.format
    saveable = value if fmt in _SAVEABLE else value.tocsr()
    # A file object: np.savez (under save_npz) appends ".npz" to paths named otherwise.
    with open(file_path, "wb") as f:
        sp.save_npz(f, saveable, compressed=False)
    if saveable is not value:
        np = require("numpy", "science", "SciPy sparse matrices (.sparse)")
        with zipfile.ZipFile(file_path, "a") as archive, archive.open(_FORMAT_MEMBER, "w") as member:
            np.lib.format.write_array(member, np.array(fmt), allow_pickle=False)


def load(file_path: Path) -> Any:
    """Read a file written by :func:`save` (or by ``scipy.sparse.save_npz``)."""
    sp = _sp()
    try:
        matrix = sp.load_npz(file_path)
        with zipfile.ZipFile(file_path) as archive:
            if _FORMAT_MEMBER not in archive.namelist():
                return matrix
            np = require("numpy", "science", "SciPy sparse matrices (.sparse)")
            with archive.open(_FORMAT_MEMBER) as member:
                fmt = str(np.lib.format.read_array(member, allow_pickle=False))
    except (ValueError, KeyError, OSError, zipfile.BadZipFile, EOFError) as exc:
        if is_os_error(exc):
            raise
        raise CorruptData(f"Invalid sparse matrix file: {type(exc).__name__}: {exc}.") from None
    if fmt not in ("lil", "dok"):
        raise CorruptData(f"Unknown sparse format {fmt!r} recorded in {_FORMAT_MEMBER}.")
    return matrix.asformat(fmt)


class SparseHandler(DataHandler):
    """scipy sparse matrix/array <-> ``.sparse`` (same type and format back)."""

    @property
    def extensions(self) -> list[str]:
        return [".sparse", ".sparse.npz"]

    @property
    def priority(self) -> int:
        return 8

    def can_handle_extension(self, extension: str) -> bool:
        return extension in (".sparse", ".sparse.npz")

    def can_handle_data(self, data: Any) -> bool:
        return is_sparse(data)

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        return load(file_path)

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        if not is_sparse(data):
            raise FormatError(f"{file_extension} files hold a scipy sparse matrix or array, not {type(data).__name__}.")
        save(data, file_path)
