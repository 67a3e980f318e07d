"""AutoPath's transfers: ``copy_to``, ``move_to``, ``rename``/``replace``, ``upload_from`` and
``download_to``, for a file or a whole folder. Each file goes through
:func:`autostore.transfer.transfer_object`, the one copy/move implementation shared with
``AutoStore.copy/move`` and ``autostore cp/mv``; this module walks folders and keeps pathlib's
rules (rename never merges into a non-empty folder, a folder never moves into itself)."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING, Self

from . import localpath
from .errors import (
    DirectoryNotEmpty,
    InvalidTarget,
    NotADirectory,
    NotFound,
)
from .metrics import traced
from .pathio import PathIO
from .progress import Progress, progress_reporter, scaled

if TYPE_CHECKING:
    from .path import AutoPath

__all__ = ["PathTransfers"]


class PathTransfers(PathIO):
    """Copies and moves of an AutoPath (a base of AutoPath)."""

    __slots__ = ()

    # -- transfers ----------------------------------------------------------------------------
    @traced("copy_to")
    def copy_to(self, target: str | os.PathLike[str] | AutoPath, *, progress: Progress = None) -> Self:
        """Copy this file (or folder, recursively) to ``target``, on any backend; returns the target.

        Same backend: a server-side copy. Between backends: streamed, memory stays bounded.
        ``progress``: a callback ``(done_bytes, total_bytes)`` or True for a progress bar.
        """
        return self._transfer(self._coerce(target), progress, move=False)

    @traced("move_to")
    def move_to(self, target: str | os.PathLike[str] | AutoPath, *, progress: Progress = None) -> Self:
        """Move this file or folder to ``target`` (copy, then delete the source); returns the target."""
        return self._transfer(self._coerce(target), progress, move=True)

    def rename(self, target: str | os.PathLike[str] | AutoPath) -> Self:
        """pathlib's ``rename`` (POSIX): an existing target file is replaced; a folder may replace
        an empty folder, never a non-empty one (DirectoryNotEmpty: use :meth:`move_to` to merge)
        nor be moved into itself (InvalidTarget, an OSError EINVAL). On local disk one
        ``os.rename``; elsewhere copy then delete. Missing parent folders of the target are made."""
        return self._rename(self._coerce(target))

    def replace(self, target: str | os.PathLike[str] | AutoPath) -> Self:
        """pathlib's ``replace``: the same as :meth:`rename` (which replaces files, as on POSIX)."""
        return self._rename(self._coerce(target))

    def _rename(self, target: Self) -> Self:
        src, dst = self._local(), target._local()
        if src is not None and dst is not None:
            try:
                localpath.rename(*src, *dst)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                return self._transfer(target, None, move=True, strict=True)  # another filesystem: copy
            self._deleted(*src)
            target._wrote(*dst)
            return target
        return self._transfer(target, None, move=True, strict=True)

    @traced("upload_from")
    def upload_from(self, source: str | os.PathLike[str] | AutoPath, *, progress: Progress = None) -> Self:
        """Copy the local file or folder ``source`` to this path; returns this path."""
        src = source if isinstance(source, PathTransfers) else self._on_disk(source)
        src._transfer(self, progress, move=False)
        return self

    @traced("download_to")
    def download_to(self, dest: str | os.PathLike[str], *, progress: Progress = None) -> Path:
        """Copy this file or folder to the local path ``dest``; returns it as a ``pathlib.Path``."""
        target = self._on_disk(dest)
        self._transfer(target, progress, move=False)
        return Path(str(target))

    def _transfer(self, target: Self, progress: Progress, *, move: bool, strict: bool = False) -> Self:
        """Copy or move this file or folder to ``target``. ``strict`` (rename/replace): a folder
        never merges into a non-empty folder."""
        from .transfer import transfer_object

        src_backend, src_key = self._io()
        dst_backend, dst_key = target._io()
        meta = self._head()
        if meta is not None:
            if target == self and src_backend is dst_backend:
                return target
            target._check_writable()
            with progress_reporter(progress, f"{'move' if move else 'copy'} {self.name}") as report:
                transfer_object(
                    self._store, src_backend, src_key, target._store, dst_backend, dst_key,
                    move=move, size=meta.size, progress=report,
                )  # fmt: skip
            return target
        verb = "move" if move else "copy"
        if not src_key or not self._dir_exists():
            raise NotFound(f"No file or folder {self} to {verb}; check the path.")
        if target == self and move:
            return target  # as os.rename(folder, folder): nothing to do
        if target == self or target.is_relative_to(self):
            raise InvalidTarget(f"Cannot {verb} folder {self} into itself ({target}); choose a target outside it.")
        if target.is_file():
            raise NotADirectory(f"Cannot {verb} folder {self} onto the file {target}.")
        src_local, dst_local = self._local(), target._local()
        if move and src_local is not None and dst_local is not None:
            # A local folder moves with one rename (atomic, no copy) when the target is free or
            # an empty folder; move_to() merges into a non-empty one below.
            try:
                localpath.rename(*src_local, *dst_local)
            except DirectoryNotEmpty:
                if strict:
                    raise
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
            else:
                with progress_reporter(progress, f"move {self.name}/") as report:
                    if report is not None:
                        total = sum(m.size for _, m in target._walk() if m is not None)
                        report(total, total)
                return target
        elif strict and target._content() is not None:
            raise DirectoryNotEmpty(
                f"Cannot rename folder {self} to {target}: the target folder is not empty; "
                "remove it first, or use move_to() to merge into it."
            )
        entries = list(self._walk())
        files = [(rel, m) for rel, m in entries if m is not None]
        if target.is_local:  # local folders exist on their own: empty ones are copied too
            for rel, m in entries:
                if m is None:
                    dst_backend.make_dir(target._with_parts((*target._parts, *rel.split("/"))).key + "/")
        total = sum(m.size for _, m in files)
        done = 0
        with progress_reporter(progress, f"{'move' if move else 'copy'} {self.name}/") as report:
            for rel, m in files:
                dst_file = target._with_parts((*target._parts, *rel.split("/")))
                transfer_object(
                    self._store, src_backend, m.key, target._store, dst_backend, dst_file.key,
                    move=move, size=m.size, progress=scaled(report, done, total),
                )  # fmt: skip
                done += m.size
            if report is not None:
                report(total, total)
        if move:
            self._remove_emptied_folder()
        return target

    def _remove_emptied_folder(self) -> None:
        """After a folder move: remove the folders (and folder markers) it left, but no file
        written into it meanwhile (each moved file was removed by its own checked move)."""
        backend, key = self._io()
        if self.is_local:
            from .transfer import remove_empty_folders

            remove_empty_folders(str(self))
            return
        left = list(backend.list_objects(key + "/"))
        if all(m.size == 0 and self._is_marker(backend, m.key) for m in left):
            backend.remove_dir(key + "/", recursive=True)
