"""``autostore cache info|clear|cleanup``: the local download cache.

Reaches the cache folder (``--cache-dir``, else env/config, else the platform default) through an
``AutoStore`` whose only job is that, and calls its ``cache_info``, ``clear_cache`` and
``cleanup_cache``.
"""

from __future__ import annotations

import contextlib
import tempfile
from typing import Annotated, Any

import typer

from ..errors import ConfigError
from ..store import AutoStore
from .app import DebugOpt, JsonOpt, app, apply_settings
from .render import emit_json, print_mapping

__all__ = ["cache_app"]

cache_app = typer.Typer(help="Inspect and prune the local download cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

CacheDirOpt = Annotated[
    str | None,
    typer.Option("--cache-dir", help="The cache folder (default: config/env, else the platform cache dir)."),
]


def _cache_store(cache_dir: str | None) -> AutoStore:
    """A store whose only job is to reach the cache folder (flag, else env/config, else default)."""
    kwargs: dict[str, Any] = {"cache_enabled": True}
    if cache_dir:
        kwargs["cache_dir"] = cache_dir
    return AutoStore(tempfile.gettempdir(), **kwargs)


def _cache_summary(store: AutoStore) -> dict[str, Any]:
    info = store.cache_info()
    if info.directory is None:
        raise ConfigError("The cache folder is not usable (see the warning above); pass --cache-dir DIR.")
    return {
        "directory": str(info.directory),
        "entries": info.entries,
        "bytes": info.bytes,
        "max_bytes": info.max_bytes,
    }


@cache_app.command("info")
def cache_info_command(
    cache_dir: CacheDirOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Folder, entries and bytes of the download cache."""
    s = apply_settings(json_out, None, None, debug)
    with contextlib.closing(_cache_store(cache_dir)) as store:
        data = _cache_summary(store)
    emit_json(data) if s.json else print_mapping("cache:", data)


@cache_app.command("clear")
def cache_clear_command(
    cache_dir: CacheDirOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Remove every entry of the download cache."""
    s = apply_settings(json_out, None, None, debug)
    with contextlib.closing(_cache_store(cache_dir)) as store:
        removed = store.clear_cache()
        data = {"removed": removed, **_cache_summary(store)}
    emit_json(data) if s.json else print_mapping("cache cleared:", data)


@cache_app.command("cleanup")
def cache_cleanup_command(
    cache_dir: CacheDirOpt = None,
    verify: Annotated[bool, typer.Option("--verify", help="Also re-hash every entry and drop damaged ones.")] = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Remove expired and broken entries, and evict down to cache_max_size."""
    s = apply_settings(json_out, None, None, debug)
    with contextlib.closing(_cache_store(cache_dir)) as store:
        removed = store.cleanup_cache(verify=verify)
        data = {"removed": removed, **_cache_summary(store)}
    emit_json(data) if s.json else print_mapping("cache cleaned up:", data)
