"""``autostore migrate``: rename the extensionless files autostore 0.1.x wrote to ``KEY.<ext>``.

The plan and the renames are the library's (``autostore.migrate.plan`` / ``apply``); this module
parses the arguments and prints one line per file (rename, renamed or skip with the reason).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from .. import migrate as migration
from .app import DebugOpt, EndpointOpt, JsonOpt, ProfileOpt, app, apply_settings
from .render import emit_json
from .session import Target, folder, open_session

__all__ = ["migrate_command"]


@app.command("migrate")
def migrate_command(
    uri: Annotated[str, typer.Argument(help="A store written by autostore 0.1.x: ./data, s3://bucket/prefix/.")],
    apply: Annotated[bool, typer.Option("--apply", help="Rename the files (default: only list the plan).")] = False,
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Rename the extensionless files autostore 0.1.x wrote (cfg holding JSON, df holding parquet)
    to KEY.<ext>, the format found in their content. A dry run unless --apply is given."""
    s = apply_settings(json_out, profile, endpoint_url, debug)
    with open_session() as session:
        t = session.open(uri)
        prefix = folder(t.key)
        planned = migration.plan(t.store, prefix)
        done = {r.key for r in migration.apply(t.store, planned)} if apply else set()
    rows = [_migration_row(t, r, apply, done) for r in planned]
    if s.json:
        emit_json(rows)
        return
    lines = []
    for row in rows:
        shown = f" -> {row['target']}" if row["action"] != "skip" else f" ({row['reason']})"
        lines.append(f"{row['action']}: {row['uri']}{shown}")
    count = sum(row["action"] != "skip" for row in rows)
    if apply:
        lines.append(f"{count} file(s) renamed.")
    else:
        lines.append(f"{count} file(s) to rename (dry run: nothing changed; add --apply to rename them).")
    sys.stdout.write("\n".join(lines) + "\n")


def _migration_row(t: Target, item: migration.Rename, applied: bool, done: set[str]) -> dict[str, Any]:
    """One line of ``migrate``: rename (planned), renamed (done) or skip with the reason."""
    action, reason = "rename", item.reason
    if item.target is None:
        action = "skip"
    elif applied:
        action, reason = ("renamed", "") if item.key in done else ("skip", "the target appeared meanwhile")
    return {
        "uri": t.uri(item.key),
        "target": t.uri(item.target) if item.target else None,
        "action": action,
        "reason": reason,
    }
