"""``autostore memo ls|rm``: the results ``store.memoize`` cached.

Calls ``autostore.memoize.list_results`` / ``remove_results`` on the store the URI names and
prints one line per result (function, created, compute seconds, size, arguments).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .app import DebugOpt, EndpointOpt, JsonOpt, ProfileOpt, app, apply_settings
from .render import emit_json
from .session import folder, open_session

__all__ = ["memo_app"]

memo_app = typer.Typer(help="List and remove results cached by store.memoize.", no_args_is_help=True)
app.add_typer(memo_app, name="memo")


@memo_app.command("ls")
def memo_ls_command(
    uri: Annotated[str, typer.Argument(help="The memoizing store (or a folder in it): ./memo, s3://bucket/memo/")],
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List memoized results: function, created, compute seconds, size and arguments."""
    from ..memoize import list_results

    s = apply_settings(json_out, profile, endpoint_url, debug)
    with open_session() as session:
        t = session.open(uri)
        found = list_results(t.store, folder(t.key))
        rows = [{**info.__dict__, "uri": t.uri(folder(t.key) + info.key)} for info in found]
    if s.json:
        emit_json(rows)
        return
    for r in rows:
        created = str(r["created"] or "")[:19].replace("T", " ")
        args = ", ".join(f"{k}={v}" for k, v in r["args"].items())
        sys.stdout.write(f"{created:19}  {r['seconds'] or 0:>9.3f}s  {r['bytes']:>12}  {r['function']}({args})\n")
    if not rows:
        sys.stderr.write(f"no memoized results in {uri}\n")


@memo_app.command("rm")
def memo_rm_command(
    uri: Annotated[str, typer.Argument(help="The memoizing store (or a folder in it).")],
    function: Annotated[
        str | None, typer.Argument(help="Only this function: module.name, or its name alone.", show_default=False)
    ] = None,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Remove memoized results (every function's, or FUNCTION's) and their files."""
    from ..memoize import remove_results

    s = apply_settings(json_out, profile, endpoint_url, debug)
    with open_session() as session:
        t = session.open(uri)
        removed = [t.uri(folder(t.key) + k) for k in remove_results(t.store, folder(t.key), function)]
    if s.json:
        emit_json(removed)
    else:
        sys.stdout.write(f"removed {len(removed)} memoized result(s) from {uri}\n")
