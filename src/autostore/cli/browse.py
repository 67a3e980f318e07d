"""Looking at stored files: ``autostore ls``, ``cat`` and ``info``.

``ls`` lists a folder (or every file below it with ``-r``), ``cat`` previews a file decoded by its
format (``--raw`` for its bytes; ``--version``/``--as-of`` hand over to ``versions.cat_version``),
``info`` shows a file's metadata or a folder's totals. Decoding goes through ``AutoStore.read``;
what is printed is decided in ``render``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import typer

from .. import objects
from ..errors import FormatError, NotFound, UnsafeLoad, UnsupportedFormat
from .app import (
    AsOfOpt,
    DebugOpt,
    EndpointOpt,
    JsonOpt,
    ProfileOpt,
    VersionOpt,
    app,
    apply_settings,
)
from .render import emit_json, iso, print_mapping, show_unknown, show_value
from .session import folder, format_of, open_session, stat

__all__ = ["cat_command", "info_command", "ls_command"]


@app.command("ls")
def ls_command(
    uri: Annotated[str, typer.Argument(help="A folder or file: ./data, s3://bucket/prefix/, az://container/...")],
    long: Annotated[bool, typer.Option("-l", "--long", help="Show size and modification time.")] = False,
    recursive: Annotated[bool, typer.Option("-r", "--recursive", help="List every file below the folder.")] = False,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List a folder (immediate files and sub-folders, or every file with -r)."""
    s = apply_settings(json_out, profile, endpoint_url, debug)
    with open_session() as session:
        t = session.open(uri)
        prefix = folder(t.key)
        dirs: list[str] = []
        # The objects' listing: it carries size/mtime/etag and sub-folders, which the store's
        # key listings (keys(), list_files()) leave out.
        if recursive:
            files = list(objects.list_objects(t.store, prefix))
        else:
            files, dirs = objects.list_dir(t.store, prefix)
        if not files and not dirs and t.key:
            if t.key.endswith("/"):
                raise NotFound(f"Nothing at {t.text}: the folder is empty or does not exist.")
            meta = stat(t)  # a single file
            files, prefix = [meta], meta.key.rpartition("/")[0] + "/" if "/" in meta.key else ""
        rows = [
            {"name": d[len(prefix) :], "uri": t.uri(d), "type": "dir", "size": None, "modified": None, "etag": None}
            for d in dirs
        ] + [
            {
                "name": m.key[len(prefix) :],
                "uri": t.uri(m.key),
                "type": "file",
                "size": m.size,
                "modified": iso(m.modified_time),
                "etag": m.etag,
            }
            for m in files
        ]
        rows.sort(key=lambda r: str(r["name"]))
    if s.json:
        emit_json(rows)
        return
    out = []
    for r in rows:
        if long:
            when = datetime.fromisoformat(str(r["modified"])).strftime("%Y-%m-%d %H:%M:%S") if r["modified"] else ""
            size = "DIR" if r["type"] == "dir" else str(r["size"])
            out.append(f"{when:19}  {size:>12}  {r['name']}")
        else:
            out.append(str(r["name"]))
    if out:
        sys.stdout.write("\n".join(out) + "\n")


@app.command("cat")
def cat_command(
    uri: Annotated[str, typer.Argument(help="A file; the extension may be left out (config -> config.json).")],
    rows: Annotated[int, typer.Option("-n", "--rows", min=1, help="Rows/items to preview.")] = 10,
    raw: Annotated[bool, typer.Option("--raw", help="Write the stored bytes unchanged.")] = False,
    allow_pickle: Annotated[
        bool,
        typer.Option(
            "--allow-pickle",
            help="Also load pickle files and whole torch modules, which run code when loaded: only for trusted files.",
        ),
    ] = False,
    version: VersionOpt = None,
    as_of: AsOfOpt = None,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Preview a file decoded by its format: table head and schema, pretty JSON, text, image size/mode.

    Pickle files and whole torch modules are refused unless --allow-pickle is given (loading
    them runs code); --raw prints any file's bytes without loading it. --version ID / --as-of TIME
    show an older version (S3 with versioning; Delta tables)."""
    s = apply_settings(json_out, profile, endpoint_url, debug)
    if version is not None or as_of is not None:
        from .versions import cat_version  # here, so `versions` registers its commands after these

        cat_version(uri, version, as_of, rows, raw, s, allow_pickle=allow_pickle)
        return
    with open_session(allow_pickle=allow_pickle) as session:
        t = session.open(uri)
        meta = stat(t)
        fmt = format_of(meta.key)
        if raw:
            # The stored bytes, undecoded: the store has no raw-bytes read (store.read decodes).
            sys.stdout.buffer.write(objects.get_bytes(t.store, meta.key))
            sys.stdout.flush()
            return
        unknown = object()
        try:
            value = t.store.read(meta.key)  # no known extension: read by content (0.1.x files)
        except UnsupportedFormat:
            if fmt is not None:
                raise
            value = unknown
        except UnsafeLoad:
            raise UnsafeLoad(
                f"Refusing to load {t.uri(meta.key)}: loading it would run code (a pickle, or a whole torch "
                f"module). If you trust the file: autostore cat --allow-pickle {uri} (or --raw for its bytes)."
            ) from None
        except FormatError as exc:
            shown = t.uri(meta.key)
            if shown in str(exc):
                raise
            raise type(exc)(f"{shown}: {exc}") from exc
        if fmt is None and (value is unknown or isinstance(value, str)):  # binary, or text shown as it is
            show_unknown(t.uri(meta.key), objects.get_bytes(t.store, meta.key), s)
            return
        show_value(t.uri(meta.key), fmt or "no extension", value, rows, s)


@app.command("info")
def info_command(
    uri: Annotated[str, typer.Argument(help="A file (extension optional) or a folder.")],
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Size, ETag, modification time and format of a file (file count and total size of a folder)."""
    s = apply_settings(json_out, profile, endpoint_url, debug)
    with open_session() as session:
        t = session.open(uri)
        try:
            meta = stat(t)
        except NotFound:
            prefix = folder(t.key)
            items = list(objects.list_objects(t.store, prefix)) if t.location.kind != "http" else []
            if not items:
                raise
            result: dict[str, Any] = {
                "uri": t.uri(prefix),
                "type": "dir",
                "files": len(items),
                "size": sum(m.size for m in items),
                "modified": iso(max((m.modified_time for m in items if m.modified_time), default=None)),
            }
        else:
            result = {
                "uri": t.uri(meta.key),
                "type": "file",
                "size": meta.size,
                "etag": meta.etag,
                "modified": iso(meta.modified_time),
                "format": format_of(meta.key),
            }
    if s.json:
        emit_json(result)
        return
    print_mapping(None, result, indent="")
