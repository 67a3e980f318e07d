"""NumPy arrays: ``.npy`` (one array) and ``.npz`` (a dict of arrays, one array, or a scipy
sparse matrix).

One array written to ``.npz`` is stored as ``np.savez(f, array)`` stores it: a single member
``arr_0``; an archive holding only ``arr_0`` reads back as that array (so does a dict whose only
key is ``"arr_0"``: the two files are identical).

numpy reads and writes the local file itself (no bytes copy in between). Arrays of Python
objects are pickles inside: writing them by type goes to ``.pkl``, and reading one from a
``.npy``/``.npz`` file follows ``allow_pickle``. ``store.read("x.npy", mmap=True)`` returns a
read-only ``np.memmap`` of the local file (or of the download cache's entry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CorruptData, FormatError
from .base import DataHandler, might_be, read_option, refuse_unsafe, require, unsafe_loads_allowed

__all__ = ["NumpyHandler"]

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
SINGLE = "arr_0"  # np.savez's name for its first positional array


def _np() -> Any:
    return require("numpy", "science", "NumPy arrays (.npy/.npz)")


def is_plain_array(value: Any) -> bool:
    """An ``ndarray`` (not a masked array or matrix subclass) that numpy saves without pickle."""
    if not might_be(value, "numpy"):
        return False
    np = _np()
    return type(value) is np.ndarray and not value.dtype.hasobject


def is_array_dict(value: Any) -> bool:
    """A non-empty dict of plain arrays with string keys (what ``np.savez`` stores)."""
    if not isinstance(value, dict) or not value or not is_plain_array(next(iter(value.values()))):
        return False  # the common case (a dict for JSON) decided by its first value
    return all(isinstance(k, str) and is_plain_array(v) for k, v in value.items())


def _check_magic(path: Path, magics: tuple[bytes, ...], what: str) -> None:
    # np.load treats any file it does not recognise as a pickle; say "corrupt" instead.
    with open(path, "rb") as f:
        head = f.read(8)
    if not any(head.startswith(m) for m in magics):
        raise CorruptData(f"Not a {what} file (starts with {head[:8]!r}).")


class NumpyHandler(DataHandler):
    """ndarray <-> ``.npy`` (dtype and shape kept); dict of arrays <-> ``.npz`` (uncompressed,
    like ``np.savez``); a scipy sparse matrix written to ``.npz`` uses ``scipy.sparse.save_npz``
    content and reads back sparse."""

    read_options = ("mmap",)

    @property
    def extensions(self) -> list[str]:
        return [".npy", ".npz"]

    @property
    def priority(self) -> int:
        return 8

    def can_handle_extension(self, extension: str) -> bool:
        return extension in (".npy", ".npz")

    def can_handle_data(self, data: Any) -> bool:
        return is_plain_array(data) or is_array_dict(data)

    def extension_for(self, data: Any) -> str:
        return ".npz" if isinstance(data, dict) else ".npy"

    # -- reading ------------------------------------------------------------------------------
    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        if read_option("mmap"):
            return self._read_mapped(file_path, file_extension)
        if file_extension == ".npz":
            return self._read_npz(file_path)
        np = _np()
        _check_magic(file_path, (NPY_MAGIC,), ".npy")
        try:
            return np.load(file_path, allow_pickle=False)
        except ValueError as exc:
            if "allow_pickle" not in str(exc):
                raise CorruptData(f"Invalid .npy file: {exc}.") from None
        if not unsafe_loads_allowed():
            raise refuse_unsafe("This .npy file holds an array of Python objects (pickled)")
        return np.load(file_path, allow_pickle=True)

    def _read_mapped(self, file_path: Path, file_extension: str) -> Any:
        if file_extension != ".npy":
            raise FormatError(
                "mmap=True maps .npy files (one array); a .npz archive is read into memory (drop mmap=True)."
            )
        np = _np()
        try:
            # open_memmap checks the magic itself and opens the file twice (header, then map),
            # where np.load opens it a third time to sniff the format; a str path skips
            # memmap's Path.resolve() (a realpath walk per open).
            return np.lib.format.open_memmap(str(file_path), mode="r")
        except ValueError as exc:
            if "object" in str(exc) or "allow_pickle" in str(exc):
                raise FormatError(
                    "This .npy file holds Python objects (pickled), which cannot be memory-mapped; drop mmap=True."
                ) from None
            raise CorruptData(f"Invalid .npy file: {exc}.") from None

    def _read_npz(self, file_path: Path) -> Any:
        np = _np()
        _check_magic(file_path, ZIP_MAGICS, ".npz (zip)")
        from . import sparse

        if sparse.is_sparse_npz(file_path):
            return sparse.load(file_path)
        try:
            with np.load(file_path, allow_pickle=False) as archive:
                return _unwrap({name: archive[name] for name in archive.files})
        except ValueError as exc:
            if "allow_pickle" not in str(exc):
                raise CorruptData(f"Invalid .npz file: {exc}.") from None
        if not unsafe_loads_allowed():
            raise refuse_unsafe("This .npz file holds arrays of Python objects (pickled)")
        with np.load(file_path, allow_pickle=True) as archive:
            return _unwrap({name: archive[name] for name in archive.files})

    # -- writing ------------------------------------------------------------------------------
    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        if file_extension == ".npz":
            self._write_npz(data, file_path)
            return
        np = _np()
        if not (might_be(data, "numpy") and isinstance(data, np.ndarray)):
            raise FormatError(f".npy files hold one numpy array, not {type(data).__name__}.")
        if data.dtype.hasobject:
            raise FormatError(".npy cannot hold an array of Python objects without pickle; write it to .pkl.")
        # A file object, not the path: np.save appends ".npy" to paths named otherwise.
        with open(file_path, "wb") as f:
            try:
                np.save(f, data, allow_pickle=False)
            except OSError as exc:
                if exc.errno is None:  # numpy's C write reports "N requested and M written" only
                    _raise_errno(f, exc)
                raise

    def _write_npz(self, data: Any, file_path: Path) -> None:
        from . import sparse

        if sparse.is_sparse(data):
            sparse.save(data, file_path)
            return
        np = _np()
        if might_be(data, "numpy") and isinstance(data, np.ndarray):
            data = {SINGLE: data}  # what np.savez(f, array) writes
        if not (isinstance(data, dict) and data and all(isinstance(k, str) for k in data)):
            raise FormatError(
                f".npz files hold a numpy array, a dict of numpy arrays (str keys) or a scipy sparse "
                f"matrix, not {type(data).__name__}."
            )
        arrays = {k: np.asanyarray(v) for k, v in data.items()}
        bad = [k for k, a in arrays.items() if a.dtype.hasobject]
        if bad:
            raise FormatError(f".npz values must be numeric/str arrays; {bad[:3]} hold Python objects (use .pkl).")
        write_npz(file_path, arrays)


def _unwrap(arrays: dict[str, Any]) -> Any:
    """The array of a one-array archive (``np.savez(f, array)``), else the dict."""
    return arrays[SINGLE] if list(arrays) == [SINGLE] else arrays


def _raise_errno(f: Any, short_write: OSError) -> None:
    """After a short write, find out why: one more byte at the end of the file fails with the
    system's reason (ENOSPC, EFBIG, EDQUOT), which becomes the error."""
    import os

    try:
        os.pwrite(f.fileno(), b"\0", os.fstat(f.fileno()).st_size)
    except OSError as exc:
        raise OSError(exc.errno, f"{exc.strerror} ({short_write})") from short_write


def write_npz(file_path: Path, arrays: dict[str, Any]) -> None:
    """What ``np.savez`` writes (one ``name.npy`` member per array, stored uncompressed), without
    its keyword clash for arrays named ``file`` or ``allow_pickle``."""
    import zipfile

    np = _np()
    with zipfile.ZipFile(file_path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
