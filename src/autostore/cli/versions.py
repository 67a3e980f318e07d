"""Object versions on the command line: ``autostore versions``, ``restore`` and ``cat --version``.

``versions`` lists a file's versions (S3 with bucket versioning) or a Delta table's commits,
``restore`` makes an old version current again, and ``cat_version`` is ``cat`` pinned to one version
(``--version ID`` / ``--as-of TIME``). All three call the store (``versions``, ``history``,
``restore``) or ``autostore.versions.pin``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .. import objects
from .app import DebugOpt, EndpointOpt, JsonOpt, ProfileOpt, Settings, app, apply_settings
from .render import emit_json, print_table, show_unknown, show_value
from .session import folder, format_of, open_session

__all__ = ["cat_version", "restore_command", "versions_command"]


def cat_version(
    uri: str, version: str | None, as_of: str | None, rows: int, raw: bool, s: Settings, *, allow_pickle: bool
) -> None:
    """``cat --version`` / ``--as-of``: the key pinned to one version, then shown as ``cat`` does."""
    from ..versions import pin

    with open_session(allow_pickle=allow_pickle) as session:
        t = session.open(uri)
        pinned = pin(t.store, t.key, version=version, as_of=as_of)
        if raw:
            sys.stdout.buffer.write(pinned.read_bytes())
            sys.stdout.flush()
            return
        fmt = "delta" if pinned.table else format_of(pinned.key)
        if fmt is None:
            show_unknown(pinned.uri, pinned.read_bytes(), s)
            return
        show_value(pinned.uri, fmt, pinned.read(), rows, s)


@app.command("versions")
def versions_command(
    uri: Annotated[str, typer.Argument(help="A file (extension optional), or a Delta table folder.")],
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List the versions of a file, newest first (S3 with bucket versioning), or of a Delta table."""
    s = apply_settings(json_out, profile, endpoint_url, debug)
    with open_session() as session:
        t = session.open(uri)
        body = t.key.rstrip("/")
        if t.key.endswith("/") or not body or objects.is_delta_table(t.store, body + "/"):
            commits = [v.as_dict() for v in t.store.history(folder(body))]
            if s.json:
                emit_json(commits)
                return
            columns = ("version", "timestamp", "operation", "rows_added", "rows_updated", "rows_removed")
            print_table(t.uri(folder(body)) + " (Delta table)", columns, commits)
            return
        found = [v.as_dict() for v in t.store.versions(t.key)]
    if s.json:
        emit_json(found)
        return
    for row in found:
        row["state"] = "deleted" if row["is_delete_marker"] else ("current" if row["is_latest"] else "")
    shown = ("version_id", "modified_time", "size", "state", "etag")
    print_table(t.uri(str(found[0]["key"])) if found else t.text, shown, found)


@app.command("restore")
def restore_command(
    uri: Annotated[str, typer.Argument(help="A file (extension optional), or a Delta table folder.")],
    version: Annotated[
        str, typer.Option("--version", help="The version id (or Delta table version number) to make current again.")
    ],
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Make an old version current again (a server-side copy; the versions in between stay)."""
    s = apply_settings(json_out, profile, endpoint_url, debug)
    with open_session() as session:
        t = session.open(uri)
        new = t.store.restore(t.key, version)
        shown = t.uri()
    if s.json:
        emit_json({"uri": shown, "restored": version, "new_version": new})
    else:
        sys.stdout.write(f"restored: {shown} version {version} -> current (new version {new})\n")
