"""Moving data around: ``autostore cp``, ``mv`` and ``rm``.

Owns planning a copy/move (which source object goes to which destination key, ``-r`` for folders,
the source's extension kept when the destination names none), running it through the library's
``autostore.objects.transfer`` (the one implementation, ``transfer.transfer_object``) with one
progress bar over all bytes, and removing files the way the store does (its cache entries and key
index follow). Empty local folders left behind by ``mv -r``/``rm -r`` are pruned.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from .. import objects
from ..errors import AlreadyExists, InvalidKey, NotFound
from ..formats import default_registry
from ..objects import ObjectMeta
from .app import DebugOpt, EndpointOpt, JsonOpt, ProfileOpt, ProgressOpt, Settings, app, apply_settings
from .render import ProgressBar, emit_json, show_progress
from .session import Target, folder, open_session, stat

__all__ = ["cp_command", "mv_command", "rm_command"]


def plan(src: Target, dst: Target, recursive: bool) -> list[tuple[ObjectMeta, str]]:
    """(source object, destination key) pairs of a copy or move."""
    if recursive:
        prefix = folder(src.key)
        items = list(objects.list_objects(src.store, prefix))
        if not items:
            if src.key and not src.key.endswith("/"):
                return plan(src, dst, recursive=False)
            raise NotFound(f"Nothing to copy at {src.text}: the folder is empty or does not exist.")
        base = folder(dst.key)
        return [(m, base + m.key[len(prefix) :]) for m in items]
    meta = stat(src)
    target = dst.key
    name = meta.key.rpartition("/")[2]
    if not target or target.endswith("/") or (dst.local and objects.is_dir(dst.store, target)):
        target = folder(target) + name
    else:
        ext = default_registry().known_extension(name)
        if ext and meta.key != src.key and not default_registry().known_extension(target.rpartition("/")[2]):
            target += ext  # `cp config backup/config` copies config.json to backup/config.json
    return [(meta, target)]


def run_transfer(src: Target, dst: Target, pairs: list[tuple[ObjectMeta, str]], s: Settings, *, move: bool) -> None:
    """Copy (``move``: move) every pair, printing one line per file (or JSON at the end)."""
    same = objects.same_backend(src.store, dst.store)
    for meta, target in pairs:
        if same and meta.key == target:
            raise AlreadyExists(f"{src.uri(meta.key)} and {dst.uri(target)} are the same file.")
    total = sum(m.size for m, _ in pairs)
    bar = ProgressBar(total, "move" if move else "copy", show_progress(s, total))
    done: list[dict[str, Any]] = []
    try:
        for meta, target in pairs:
            # The library's implementation: the source is read fresh, a moved source is deleted
            # only if unchanged, and caches sharing the directory drop what they held for both keys.
            objects.transfer(
                src.store, meta.key, dst.store, target, move=move, size=meta.size, progress=bar.file_callback()
            )
            done.append({"src": src.uri(meta.key), "dst": dst.uri(target), "size": meta.size})
            if not s.json:
                bar.echo(f"{'move' if move else 'copy'}: {done[-1]['src']} -> {done[-1]['dst']}")
    finally:
        bar.close()
    if move and src.local and len(pairs) > 1:
        objects.prune_empty_folders(src.store, folder(src.key))
    if s.json:
        emit_json(done)


@app.command("cp")
def cp_command(
    src: Annotated[str, typer.Argument(help="Source file (or folder with -r).")],
    dst: Annotated[str, typer.Argument(help="Destination file, or folder ending with '/'.")],
    recursive: Annotated[bool, typer.Option("-r", "--recursive", help="Copy every file below SRC into DST.")] = False,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    debug: DebugOpt = False,
    progress: ProgressOpt = None,
) -> None:
    """Copy files between local disk and object stores (server-side within one bucket).

    With -r the files below SRC go below DST (as `aws s3 cp --recursive`)."""
    s = apply_settings(json_out, profile, endpoint_url, debug, progress)
    _copy_or_move(src, dst, recursive, s, move=False)


@app.command("mv")
def mv_command(
    src: Annotated[str, typer.Argument(help="Source file (or folder with -r).")],
    dst: Annotated[str, typer.Argument(help="Destination file, or folder ending with '/'.")],
    recursive: Annotated[bool, typer.Option("-r", "--recursive", help="Move every file below SRC into DST.")] = False,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    debug: DebugOpt = False,
    progress: ProgressOpt = None,
) -> None:
    """Move files: copy, then remove each source once its copy is complete."""
    s = apply_settings(json_out, profile, endpoint_url, debug, progress)
    _copy_or_move(src, dst, recursive, s, move=True)


def _copy_or_move(src: str, dst: str, recursive: bool, s: Settings, *, move: bool) -> None:
    with open_session() as session:
        source, target = session.open(src), session.open(dst)
        run_transfer(source, target, plan(source, target, recursive), s, move=move)


@app.command("rm")
def rm_command(
    uri: Annotated[str, typer.Argument(help="A file (or a folder with -r).")],
    recursive: Annotated[bool, typer.Option("-r", "--recursive", help="Remove the folder and all in it.")] = False,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Remove a file, or a whole folder with -r."""
    s = apply_settings(json_out, profile, endpoint_url, debug)
    with open_session() as session:
        t = session.open(uri)
        removed: list[str]
        if recursive:
            prefix = folder(t.key)
            if t.local and prefix in ("", "/"):
                raise InvalidKey("Refusing to remove the root directory '/'.")
            items = [m.key for m in objects.list_objects(t.store, prefix)]
            if not items:
                if t.key and not t.key.endswith("/"):
                    items = [delete_one(t)]
                else:
                    raise NotFound(f"Nothing to remove at {t.text}: the folder is empty or does not exist.")
            else:
                # One batched delete (the store deletes one key at a time), then the store is told.
                objects.delete_many(t.store, items)  # caches sharing the directory follow
                if t.local:
                    objects.prune_empty_folders(t.store, prefix)
            removed = [t.uri(k) for k in items]
        else:
            removed = [t.uri(delete_one(t))]
    if s.json:
        emit_json(removed)
    else:
        sys.stdout.write("".join(f"removed: {u}\n" for u in removed))


def delete_one(t: Target) -> str:
    """Delete the file ``t`` names, as the store does (its cache entry goes too)."""
    key = stat(t).key
    objects.delete(t.store, key)
    return key
