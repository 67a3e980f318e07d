"""Copy or move one object between any two backends: the one implementation behind
``AutoStore.copy/move``, ``AutoPath.copy_to/move_to`` (and friends) and ``autostore cp/mv``.

How bytes travel (memory stays bounded):

- same backend: a server-side copy (or a local copy); a local move is one atomic rename;
- local source: the destination uploads the file (multipart, streamed from disk);
- local destination: the source streams a download into a temporary file renamed into place;
- object store to object store: one GET streamed in ``CHUNK``-sized pieces into a multipart
  writer, with nothing staged on disk.

What a move promises: the source is read fresh from its backend, never from the download cache
(another writer may have changed it since it was cached), and it is deleted only if it is still
the version that was copied — same ETag (object stores), same inode, size and modification time
(local files). Otherwise ``SourceChanged`` is raised and the source is kept. A local source is
checked after it was renamed aside, so the check and the delete see the same file; on object
stores a write landing between the final check (a HEAD) and the DELETE, a few milliseconds,
would still be lost (S3 has no conditional delete).

Every cache sharing a directory with the stores involved learns about the destination written
and the source removed, so no store serves the old content afterwards.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .backends.base import Backend, ObjectMeta, ProgressCallback
from .errors import InvalidKey, NotFound, SourceChanged
from .streams import Writer

if TYPE_CHECKING:
    from .store import AutoStore

__all__ = ["CHUNK", "copy_key", "copy_object", "remove_empty_folders", "removed", "transfer_object"]

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Version:
    """What identifies the version of a source that was copied."""

    size: int
    etag: str | None = None
    modified: float | None = None
    file: tuple[int, int, int, int] | None = None  # local: (st_dev, st_ino, st_size, st_mtime_ns)


def transfer_object(
    src_store: AutoStore,
    src: Backend,
    src_key: str,
    dst_store: AutoStore,
    dst: Backend,
    dst_key: str,
    *,
    move: bool,
    size: int | None = None,
    progress: ProgressCallback | None = None,
) -> None:
    """Copy (``move``: move) ``src_key`` of ``src`` to ``dst_key`` of ``dst``, and tell the
    stores' caches. ``size`` (the source's, when known) feeds ``progress`` only. NotFound when
    the source does not exist; SourceChanged when a moved source changed after it was copied."""
    if src is dst and src_key == dst_key:
        return  # the caller decides whether naming one file twice is an error
    rename = getattr(src, "rename", None)
    if move and src is dst and rename is not None:
        rename(src_key, dst_key)  # local: one atomic os.replace, nothing can come between
        if progress is not None:
            total = size if size is not None else os.path.getsize(str(dst.local_path(dst_key)))
            progress(total, total)
        dst_store.core.after_write(dst, dst_key)
        removed(src_store, src, src_key)
        return
    tmp = dst_store.core.tmp
    copied = copy_object(src, src_key, dst, dst_key, size=size, tmp_dir=tmp, progress=progress, check=move)
    dst_store.core.after_write(dst, dst_key)
    if move:
        assert copied is not None
        _delete_if_unchanged(src, src_key, copied, dst.uri(dst_key))
        removed(src_store, src, src_key)


def copy_key(store: AutoStore, src: str, dst: str, *, move: bool) -> str:
    """``store.copy(src, dst)`` (``move``: ``store.move``): keys or URIs, extensions resolved as
    reads and writes do; returns the stored destination key as the store names it."""
    core = store.core
    sb, sfull = core.target(src)
    stored_src = core.resolve(sb, sfull)
    db, dfull = core.target(dst)
    if not dfull or dfull.endswith("/"):
        example = dst.rstrip("/") + "/" + sfull.rpartition("/")[2]
        raise InvalidKey(f"Destination {dst!r} names a folder; give the full key, e.g. {example!r}.")
    ext = core.handlers.known_extension(stored_src.rpartition("/")[2]) or ""
    explicit = core.handlers.known_extension(dfull.rpartition("/")[2])
    stored_dst = dfull if explicit else dfull + ext
    if sb is db and stored_src == stored_dst:
        # Onto itself: nothing to do, but only for a value that exists (what `src` resolved to
        # before may have been removed by another writer).
        try:
            sb.head(stored_src)
        except NotFound:
            core.index.forget(sb, sfull)
            raise NotFound(f"Key {src!r} not found at {sb.uri(stored_src)}; check store.keys().") from None
    else:
        # Shared with AutoPath and the CLI: reads the source fresh (never a stale cache
        # entry) and deletes a moved source only if it is still what was copied.
        transfer_object(store, sb, stored_src, store, db, stored_dst, move=move)
        if explicit is None:
            core.replace_siblings(db, dfull, stored_dst)
        if move:
            core.forget(sb, sfull, stored_src)
    return core.display_key(db, stored_dst)


def removed(store: AutoStore, backend: Backend, key: str) -> None:
    """``key`` was deleted from ``backend``: drop it from ``store``'s cache and key index."""
    store.core.path_deleted(backend, key)


def remove_empty_folders(root: str) -> None:
    """Remove the empty folders below (and including) the local folder ``root``, deepest first;
    folders that still hold something stay."""
    for folder, _dirs, _files in sorted(os.walk(root), key=lambda w: -len(w[0])):
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def copy_object(
    src: Backend,
    src_key: str,
    dst: Backend,
    dst_key: str,
    *,
    size: int | None = None,
    tmp_dir: Path | Callable[[], Path] | None = None,
    progress: ProgressCallback | None = None,
    check: bool = False,
) -> Version | None:
    """Copy ``src_key`` of ``src`` to ``dst_key`` of ``dst`` (bytes only, no cache). With
    ``check``, returns the version of the source that was copied."""
    if src is dst:
        before = src.head(src_key) if check or (size is None and progress is not None) else None
        if src_key != dst_key:
            src.copy(src_key, dst_key)
        if progress is not None:
            total = before.size if before is not None else size or 0
            progress(total, total)
        return _version(before) if before is not None else None
    local = src.local_path(src_key)
    if local is not None:
        st = _stat_file(local)
        dst.upload(dst_key, local, progress=progress)
        return Version(size=st.st_size, file=(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
    if dst.local_path(dst_key) is not None:
        got: list[ObjectMeta | None] = []
        dst.write_with(dst_key, lambda tmp: got.append(src.download(src_key, tmp, progress=progress)), _tmp(tmp_dir))
        meta = got[0] if got else None
        return _version(meta) if meta is not None else None
    meta, chunks = src.read_stream(src_key, CHUNK)
    total = meta.size
    with Writer(dst.open_write(dst_key), dst.uri(dst_key)) as writer:
        done = 0
        for chunk in chunks:
            writer.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    if progress is not None and done == 0:
        progress(0, total)
    return _version(meta)


def _tmp(tmp_dir: Path | Callable[[], Path] | None) -> Path:
    # A store passes its bound ``core.tmp`` method so that its temporary folder is only created when
    # a backend needs one (local destinations write next to the target instead).
    if callable(tmp_dir):
        return tmp_dir()
    if tmp_dir is not None:
        return tmp_dir
    import tempfile

    return Path(tempfile.gettempdir())


def _stat_file(path: Path) -> os.stat_result:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"No file {str(path)!r}.") from None
    if not stat.S_ISREG(st.st_mode):
        raise NotFound(f"{str(path)!r} is not a file.")
    return st


def _version(meta: ObjectMeta) -> Version:
    modified = meta.modified_time.timestamp() if meta.modified_time is not None else None
    return Version(size=meta.size, etag=_plain_etag(meta.etag), modified=modified)


def _plain_etag(etag: str | None) -> str | None:
    if not etag:
        return None
    return etag.removeprefix("W/").strip('"')


def _same(now: Version, copied: Version) -> bool:
    if now.size != copied.size:
        return False
    if now.etag is not None and copied.etag is not None:
        return now.etag == copied.etag
    return now.modified == copied.modified  # a service without ETags: size + modification time


def _changed(src: Backend, key: str, dst_uri: str) -> SourceChanged:
    return SourceChanged(
        f"{src.uri(key)} changed after it was copied to {dst_uri} (another writer?), so it was kept: "
        f"{dst_uri} holds the version that was copied. Check both, then move again."
    )


def _delete_if_unchanged(src: Backend, key: str, copied: Version, dst_uri: str) -> None:
    """Delete the moved source if it is still the version that was copied."""
    if copied.file is not None:
        _delete_local_if_unchanged(src, key, copied, dst_uri)
        return
    try:
        now = _version(src.head(key))
    except NotFound:
        return  # removed by someone else meanwhile: nothing left to delete
    if not _same(now, copied):
        raise _changed(src, key, dst_uri)
    with contextlib.suppress(NotFound):
        src.delete(key)


def _delete_local_if_unchanged(src: Backend, key: str, copied: Version, dst_uri: str) -> None:
    from .backends.local import temp_sibling

    path = str(src.local_path(key))
    aside = temp_sibling(path)
    try:
        os.rename(path, aside)  # from here on, writers create a new file: check exactly this one
    except FileNotFoundError:
        return
    st = os.stat(aside)
    if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) == copied.file:
        os.unlink(aside)
        return
    try:
        os.link(aside, path)  # put it back, unless a newer file took the name meanwhile
    except FileExistsError:
        pass  # a newer write replaced it anyway, as an overwrite would have
    except OSError:  # no hard links here
        if not os.path.lexists(path):
            os.rename(aside, path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(aside)
    raise _changed(src, key, dst_uri)
