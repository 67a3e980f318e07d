"""The ``autostore`` command line: ``ls``, ``cat``, ``cp``, ``mv``, ``rm``, ``info``, ``migrate`` and ``cache``.

Thin on purpose: it parses arguments, calls the backends and stores, and renders with rich.
typer and rich are imported here only, so ``import autostore`` stays light. Errors print one
line to stderr and exit with a code per error class (see ``EXIT_CODES``); ``--debug`` shows the
traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from . import __version__, migrate
from . import config as config_module
from .backends.base import Backend, ObjectMeta
from .errors import (
    AlreadyExists,
    AmbiguousKey,
    AuthError,
    AutoStoreError,
    BackendError,
    BucketNotFound,
    ConfigError,
    FormatError,
    InvalidKey,
    MissingDependency,
    NotFound,
    UnsafeLoad,
    UnsupportedFormat,
)
from .formats import default_registry
from .options import Options, options_class_for_kind
from .store import AutoStore
from .uri import Location, parse_location

__all__ = ["EXIT_CODES", "app", "main"]

log = logging.getLogger("autostore")

#: Exit codes, most specific class first (click uses 2 for usage errors).
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (NotFound, 3),
    (AmbiguousKey, 4),
    (AlreadyExists, 5),
    (AuthError, 6),
    (BucketNotFound, 7),
    (BackendError, 8),
    (InvalidKey, 9),
    (ConfigError, 10),
    (FormatError, 11),
    (MissingDependency, 12),
    (AutoStoreError, 1),
)
PROGRESS_MIN_BYTES = 4 * 1024 * 1024  # transfers below this finish before a bar is worth drawing

app = typer.Typer(
    name="autostore",
    help="Typed data on local disk and any object store: list, preview, copy, move and remove files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
cache_app = typer.Typer(help="Inspect and prune the local download cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


# -- global settings ---------------------------------------------------------------------------
@dataclass
class Settings:
    """Options that every command accepts (before or after the command name)."""

    json: bool = False
    profile: str | None = None
    endpoint_url: str | None = None
    debug: bool = False
    progress: bool | None = None  # None: on for a terminal and transfers over a few MiB
    stats: bool = False  # print autostore.stats() on stderr at exit


_settings = Settings()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help="A \\[profiles.NAME] table of the config file, else an AWS profile (s3:// URIs).",
        show_default=False,
    ),
]
EndpointOpt = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="Object-store endpoint, e.g. http://127.0.0.1:9000.", show_default=False),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Log requests and show tracebacks on errors.")]
ProgressOpt = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="Force the progress bar on or off (default: on in a terminal for transfers over 4 MiB).",
        show_default=False,
    ),
]


def _apply(
    json_out: bool = False,
    profile: str | None = None,
    endpoint_url: str | None = None,
    debug: bool = False,
    progress: bool | None = None,
) -> Settings:
    """Merge options given after the command name into the global settings."""
    s = _settings
    s.json = s.json or json_out
    s.profile = profile or s.profile
    s.endpoint_url = endpoint_url or s.endpoint_url
    s.debug = s.debug or debug
    s.progress = progress if progress is not None else s.progress
    if s.debug:
        _enable_debug_logging()
    if s.profile is not None and config_module.has_profile(s.profile):
        config_module.use_profile(s.profile)
    return s


def _enable_debug_logging() -> None:
    if not any(getattr(h, "_autostore_cli", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._autostore_cli = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    log.setLevel(logging.DEBUG)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"autostore {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    debug: DebugOpt = False,
    stats: Annotated[
        bool, typer.Option("--stats", help="Print the requests sent, bytes moved and time waited on stderr at exit.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """autostore: typed data on local disk and any object store (s3, gs, az, http, memory)."""
    _settings.stats = stats
    _apply(json_out, profile, endpoint_url, debug)


# -- opening URIs --------------------------------------------------------------------------------
@dataclass
class Target:
    """One command-line location: the backend holding it and the key inside that backend."""

    text: str
    location: Location
    store: AutoStore
    key: str

    @property
    def backend(self) -> Backend:
        return self.store.primary_backend

    @property
    def local(self) -> bool:
        return self.location.is_local

    def uri(self, key: str | None = None) -> str:
        return self.backend.uri(self.key if key is None else key)


@dataclass
class Session:
    """Stores opened by one command (one per scheme + bucket, so same-backend copies are
    server-side), closed at the end."""

    settings: Settings
    stores: dict[tuple[str, str], AutoStore] = field(default_factory=dict)
    #: allow_pickle of the stores opened (None: the options/environment decide)
    allow_pickle: bool | None = None

    def open(self, text: str) -> Target:
        loc = parse_location(text)
        ident = ("file", "/") if loc.is_local else (loc.scheme, loc.bucket)
        store = self.stores.get(ident)
        if store is None:
            extra: dict[str, Any] = {} if self.allow_pickle is None else {"allow_pickle": self.allow_pickle}
            if loc.is_local:
                store = AutoStore("/", **extra)
            else:
                store = AutoStore(f"{loc.scheme}://{loc.bucket}/", options=self._options(loc), **extra)
            self.stores[ident] = store
        return Target(text, loc, store, loc.key)

    def _options(self, loc: Location) -> Options | None:
        s = self.settings
        cls = options_class_for_kind(loc.kind)
        names = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        if s.endpoint_url:
            if "endpoint_url" not in names:
                raise ConfigError(f"--endpoint-url does not apply to {loc.scheme}:// URIs; drop it.")
            kwargs["endpoint_url"] = s.endpoint_url
        if s.profile and not config_module.has_profile(s.profile):
            if "profile_name" not in names:
                where = config_module.config_path()
                raise ConfigError(
                    f"--profile {s.profile!r}: no [profiles.{s.profile}] in {where} and {loc.scheme}:// URIs "
                    "have no AWS profiles; add the table to the config file."
                )
            kwargs["profile_name"] = s.profile
        if not kwargs:
            return None
        return cls(scheme=loc.scheme, **kwargs)

    def close(self) -> None:
        for store in self.stores.values():
            store.close()


@contextlib.contextmanager
def _session(allow_pickle: bool | None = None) -> Iterator[Session]:
    session = Session(_settings, allow_pickle=allow_pickle)
    try:
        yield session
    finally:
        session.close()


def _folder(key: str) -> str:
    return key if not key or key.endswith("/") else key + "/"


def _stat(t: Target) -> ObjectMeta:
    """Metadata of the file ``t`` names: the exact key, else the one ``key.<ext>`` (as the store
    resolves keys). NotFound when neither exists; a folder is reported as such."""
    key = t.key
    if not key or key.endswith("/"):
        raise NotFound(f"{t.text} is a folder; name a file (or use -r where the command has it).")
    try:
        return t.backend.head(key)
    except NotFound:
        if t.location.kind == "http" or default_registry().known_extension(key.rpartition("/")[2]):
            if t.location.kind != "http" and t.backend.is_dir(key):
                raise NotFound(f"{t.text} is a folder; name a file (or use -r where the command has it).") from None
            raise
        try:
            return t.store.get_metadata(key)
        except NotFound:
            if t.backend.is_dir(key):
                raise NotFound(f"{t.text} is a folder; name a file (or use -r where the command has it).") from None
            raise NotFound(f"No such file: {t.text} (nor {key.rpartition('/')[2]}.<ext>).") from None


def _format_of(key: str) -> str | None:
    ext = default_registry().known_extension(key.rpartition("/")[2])
    return ext.lstrip(".") if ext else None


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def _stdout_console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


# -- ls -----------------------------------------------------------------------------------------
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
    s = _apply(json_out, profile, endpoint_url, debug)
    with _session() as session:
        t = session.open(uri)
        prefix = _folder(t.key)
        dirs: list[str] = []
        if recursive:
            files = list(t.backend.list_objects(prefix))
        else:
            files, dirs = t.backend.list_dir(prefix)
        if not files and not dirs and t.key:
            if t.key.endswith("/"):
                raise NotFound(f"Nothing at {t.text}: the folder is empty or does not exist.")
            meta = _stat(t)  # a single file
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
                "modified": _iso(m.modified_time),
                "etag": m.etag,
            }
            for m in files
        ]
        rows.sort(key=lambda r: str(r["name"]))
    if s.json:
        _emit_json(rows)
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


# -- cat ----------------------------------------------------------------------------------------
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
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Preview a file decoded by its format: table head and schema, pretty JSON, text, image size/mode.

    Pickle files and whole torch modules are refused unless --allow-pickle is given (loading
    them runs code); --raw prints any file's bytes without loading it."""
    s = _apply(json_out, profile, endpoint_url, debug)
    with _session(allow_pickle=allow_pickle) as session:
        t = session.open(uri)
        meta = _stat(t)
        fmt = _format_of(meta.key)
        if raw:
            sys.stdout.buffer.write(t.backend.get_bytes(meta.key))
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
            _show_unknown(t.uri(meta.key), t.backend.get_bytes(meta.key), s)
            return
        _show_value(t.uri(meta.key), fmt or "no extension", value, rows, s)


def _show_unknown(uri: str, data: bytes, s: Settings) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if s.json:
            _emit_json({"uri": uri, "format": None, "size": len(data), "binary": True})
        else:
            sys.stdout.write(f"{uri}: binary data, {len(data)} bytes (no format for this extension; --raw prints it)\n")
        return
    if s.json:
        _emit_json({"uri": uri, "format": None, "text": text})
    else:
        sys.stdout.write(text)


def _show_value(uri: str, fmt: str, value: Any, rows: int, s: Settings) -> None:
    kind = type(value).__module__.split(".", 1)[0] + "." + type(value).__name__
    if kind in ("polars.DataFrame", "polars.LazyFrame"):
        _show_frame(uri, fmt, value, rows, s)
    elif isinstance(value, (dict, list, int, float, bool)) or value is None:
        shown: Any = value
        more = 0
        if isinstance(value, list) and len(value) > rows and not s.json:
            shown, more = value[:rows], len(value) - rows
        if s.json:
            _emit_json(value)
            return
        console = _stdout_console()
        if console.is_terminal:
            console.print_json(json.dumps(shown, ensure_ascii=False, default=str))
        else:
            sys.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False, default=str) + "\n")
        if more:
            sys.stdout.write(f"... {more} more item(s); -n shows more\n")
    elif isinstance(value, str):
        if s.json:
            _emit_json(value)
        else:
            sys.stdout.write(value if value.endswith("\n") or not value else value + "\n")
    elif hasattr(value, "size") and hasattr(value, "mode") and kind.startswith("PIL."):
        width, height = value.size
        info = {"uri": uri, "format": fmt, "width": width, "height": height, "mode": value.mode}
        if s.json:
            _emit_json(info)
        else:
            sys.stdout.write(f"{uri}: {fmt} image, {width}x{height}, mode {value.mode}\n")
    elif hasattr(value, "shape") and hasattr(value, "dtype"):
        info = {"uri": uri, "format": fmt, "shape": list(value.shape), "dtype": str(value.dtype)}
        if s.json:
            _emit_json(info)
        else:
            sys.stdout.write(f"{uri}: array shape {tuple(value.shape)}, dtype {value.dtype}\n{value!r}\n")
    else:
        text = repr(value)
        if s.json:
            _emit_json({"uri": uri, "format": fmt, "type": kind, "repr": text[:10000]})
        else:
            sys.stdout.write(f"{uri}: {kind}\n{text[:10000]}\n")


def _show_frame(uri: str, fmt: str, frame: Any, rows: int, s: Settings) -> None:
    lazy = type(frame).__name__ == "LazyFrame"
    schema = frame.collect_schema() if lazy else frame.schema
    head = frame.head(rows).collect() if lazy else frame.head(rows)
    total = None if lazy else frame.height
    if s.json:
        _emit_json(
            {
                "uri": uri,
                "format": fmt,
                "rows": total,
                "columns": len(schema),
                "schema": {name: str(dtype) for name, dtype in schema.items()},
                "head": head.to_dicts(),
            }
        )
        return
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for name in head.columns:
        table.add_column(name, overflow="fold")
    for row in head.iter_rows():
        table.add_row(*("null" if v is None else str(v) for v in row))
    console = _stdout_console()
    size = f"{total} rows" if total is not None else "rows: not counted (folder)"
    console.print(f"{uri}  ({fmt}, {size}, {len(schema)} columns)")
    console.print(table)
    console.print("schema: " + ", ".join(f"{name}: {dtype}" for name, dtype in schema.items()))


# -- info ---------------------------------------------------------------------------------------
@app.command("info")
def info_command(
    uri: Annotated[str, typer.Argument(help="A file (extension optional) or a folder.")],
    json_out: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Size, ETag, modification time and format of a file (file count and total size of a folder)."""
    s = _apply(json_out, profile, endpoint_url, debug)
    with _session() as session:
        t = session.open(uri)
        try:
            meta = _stat(t)
        except NotFound:
            prefix = _folder(t.key)
            items = list(t.backend.list_objects(prefix)) if t.location.kind != "http" else []
            if not items:
                raise
            result: dict[str, Any] = {
                "uri": t.uri(prefix),
                "type": "dir",
                "files": len(items),
                "size": sum(m.size for m in items),
                "modified": _iso(max((m.modified_time for m in items if m.modified_time), default=None)),
            }
        else:
            result = {
                "uri": t.uri(meta.key),
                "type": "file",
                "size": meta.size,
                "etag": meta.etag,
                "modified": _iso(meta.modified_time),
                "format": _format_of(meta.key),
            }
    if s.json:
        _emit_json(result)
        return
    width = max(len(k) for k in result)
    sys.stdout.write("".join(f"{k:<{width}}  {'-' if v is None else v}\n" for k, v in result.items()))


# -- transfers ----------------------------------------------------------------------------------
Advance = Callable[[int], None]


class _Bar:
    """A rich progress bar over all bytes of one command, or nothing."""

    def __init__(self, total: int, label: str, show: bool) -> None:
        self._progress: Any = None
        self._task: Any = None
        if show:
            from rich.console import Console
            from rich.progress import Progress

            from .progress import bar_columns

            self._progress = Progress(*bar_columns(binary_units=True), console=Console(stderr=True))
            self._task = self._progress.add_task(label, total=total)
            self._progress.start()

    def file_callback(self) -> Callable[[int, int], None] | None:
        """A ``(done, total)`` callback for one file that advances the overall bar."""
        if self._progress is None:
            return None
        last = [0]

        def callback(done: int, _total: int) -> None:
            if done > last[0]:
                self._progress.advance(self._task, done - last[0])
                last[0] = done

        return callback

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _show_progress(s: Settings, total: int) -> bool:
    if s.progress is not None:
        return s.progress
    if s.json or total < PROGRESS_MIN_BYTES:
        return False
    from rich.console import Console

    return bool(Console(stderr=True).is_terminal)


def _plan(src: Target, dst: Target, recursive: bool) -> list[tuple[ObjectMeta, str]]:
    """(source object, destination key) pairs of a copy or move."""
    if recursive:
        prefix = _folder(src.key)
        items = list(src.backend.list_objects(prefix))
        if not items:
            if src.key and not src.key.endswith("/"):
                return _plan(src, dst, recursive=False)
            raise NotFound(f"Nothing to copy at {src.text}: the folder is empty or does not exist.")
        base = _folder(dst.key)
        return [(m, base + m.key[len(prefix) :]) for m in items]
    meta = _stat(src)
    target = dst.key
    name = meta.key.rpartition("/")[2]
    if not target or target.endswith("/") or (dst.local and dst.backend.is_dir(target)):
        target = _folder(target) + name
    else:
        ext = default_registry().known_extension(name)
        if ext and meta.key != src.key and not default_registry().known_extension(target.rpartition("/")[2]):
            target += ext  # `cp config backup/config` copies config.json to backup/config.json
    return [(meta, target)]


def _transfer(src: Target, dst: Target, pairs: list[tuple[ObjectMeta, str]], s: Settings, *, move: bool) -> None:
    same = src.backend is dst.backend
    for meta, target in pairs:
        if same and meta.key == target:
            raise AlreadyExists(f"{src.uri(meta.key)} and {dst.uri(target)} are the same file.")
    phases = 2 if not same and not src.local and not dst.local else 1
    total = phases * sum(m.size for m, _ in pairs)
    bar = _Bar(total, "move" if move else "copy", _show_progress(s, total))
    done: list[dict[str, Any]] = []
    try:
        for meta, target in pairs:
            _copy_one(src, meta, dst, target, bar, move=move)
            done.append({"src": src.uri(meta.key), "dst": dst.uri(target), "size": meta.size})
            if not s.json:
                bar_print = f"{'move' if move else 'copy'}: {done[-1]['src']} -> {done[-1]['dst']}"
                if bar._progress is not None:
                    bar._progress.console.print(bar_print, highlight=False)
                else:
                    sys.stdout.write(bar_print + "\n")
    finally:
        bar.close()
    if move and src.local and len(pairs) > 1:
        _prune_empty_dirs(src.backend, _folder(src.key))
    if s.json:
        _emit_json(done)


def _copy_one(src: Target, meta: ObjectMeta, dst: Target, target: str, bar: _Bar, *, move: bool) -> None:
    sb, db = src.backend, dst.backend
    if sb is db:
        rename = getattr(sb, "rename", None)
        if move and rename is not None:
            rename(meta.key, target)  # local: one atomic os.replace
            bar.advance(meta.size)
            return
        sb.copy(meta.key, target)  # server-side
        bar.advance(meta.size)
    elif src.local:
        db.upload(target, Path("/" + meta.key), progress=bar.file_callback())
    elif dst.local:
        _download_to(sb, meta.key, db, target, bar)
    else:
        with tempfile.TemporaryDirectory(prefix="autostore-cp-") as tmp:
            path = Path(tmp) / "data"
            sb.download(meta.key, path, progress=bar.file_callback())
            db.upload(target, path, progress=bar.file_callback())
    if move:
        sb.delete(meta.key)


def _download_to(sb: Backend, key: str, db: Backend, target: str, bar: _Bar) -> None:
    from .backends.local import LocalBackend, temp_sibling

    assert isinstance(db, LocalBackend)
    path = db.path(target)
    os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
    tmp = temp_sibling(path)
    try:
        sb.download(key, Path(tmp), progress=bar.file_callback())
        os.replace(tmp, path)  # readers never see half a file
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _prune_empty_dirs(backend: Backend, prefix: str) -> None:
    root = backend.local_path(prefix.rstrip("/"))
    if root is None or not root.is_dir():
        return
    for directory, _subdirs, _files in sorted(os.walk(root), key=lambda w: -len(w[0])):
        with contextlib.suppress(OSError):
            os.rmdir(directory)


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
    s = _apply(json_out, profile, endpoint_url, debug, progress)
    with _session() as session:
        source, target = session.open(src), session.open(dst)
        _transfer(source, target, _plan(source, target, recursive), s, move=False)


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
    s = _apply(json_out, profile, endpoint_url, debug, progress)
    with _session() as session:
        source, target = session.open(src), session.open(dst)
        _transfer(source, target, _plan(source, target, recursive), s, move=True)


# -- rm -----------------------------------------------------------------------------------------
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
    s = _apply(json_out, profile, endpoint_url, debug)
    with _session() as session:
        t = session.open(uri)
        removed: list[str]
        if recursive:
            prefix = _folder(t.key)
            if t.local and prefix in ("", "/"):
                raise InvalidKey("Refusing to remove the root directory '/'.")
            items = [m.key for m in t.backend.list_objects(prefix)]
            if not items:
                if t.key and not t.key.endswith("/"):
                    meta = _stat(t)
                    t.backend.delete(meta.key)
                    removed = [t.uri(meta.key)]
                else:
                    raise NotFound(f"Nothing to remove at {t.text}: the folder is empty or does not exist.")
            else:
                t.backend.delete_many(items)
                if t.local:
                    _prune_empty_dirs(t.backend, prefix)
                removed = [t.uri(k) for k in items]
        else:
            meta = _stat(t)
            t.backend.delete(meta.key)
            removed = [t.uri(meta.key)]
    if s.json:
        _emit_json(removed)
    else:
        sys.stdout.write("".join(f"removed: {u}\n" for u in removed))


# -- migrate ------------------------------------------------------------------------------------
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
    s = _apply(json_out, profile, endpoint_url, debug)
    with _session() as session:
        t = session.open(uri)
        prefix = _folder(t.key)
        planned = migrate.plan(t.store, t.backend, prefix)
        done = {r.key for r in migrate.apply(t.store, t.backend, planned)} if apply else set()
    rows = [_migration_row(t, r, apply, done) for r in planned]
    if s.json:
        _emit_json(rows)
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


def _migration_row(t: Target, item: migrate.Rename, applied: bool, done: set[str]) -> dict[str, Any]:
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


# -- cache --------------------------------------------------------------------------------------
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


def _print_mapping(title: str, data: dict[str, Any]) -> None:
    width = max(len(k) for k in data)
    shown = "".join(f"  {k:<{width}}  {'-' if v is None else v}\n" for k, v in data.items())
    sys.stdout.write(title + "\n" + shown)


@cache_app.command("info")
def cache_info_command(
    cache_dir: CacheDirOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Folder, entries and bytes of the download cache."""
    s = _apply(json_out, None, None, debug)
    with contextlib.closing(_cache_store(cache_dir)) as store:
        data = _cache_summary(store)
    _emit_json(data) if s.json else _print_mapping("cache:", data)


@cache_app.command("clear")
def cache_clear_command(
    cache_dir: CacheDirOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Remove every entry of the download cache."""
    s = _apply(json_out, None, None, debug)
    with contextlib.closing(_cache_store(cache_dir)) as store:
        removed = store.clear_cache()
        data = {"removed": removed, **_cache_summary(store)}
    _emit_json(data) if s.json else _print_mapping("cache cleared:", data)


@cache_app.command("cleanup")
def cache_cleanup_command(
    cache_dir: CacheDirOpt = None,
    verify: Annotated[bool, typer.Option("--verify", help="Also re-hash every entry and drop damaged ones.")] = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Remove expired and broken entries, and evict down to cache_max_size."""
    s = _apply(json_out, None, None, debug)
    with contextlib.closing(_cache_store(cache_dir)) as store:
        removed = store.cleanup_cache(verify=verify)
        data = {"removed": removed, **_cache_summary(store)}
    _emit_json(data) if s.json else _print_mapping("cache cleaned up:", data)


# -- entry point --------------------------------------------------------------------------------
def exit_code_for(exc: BaseException) -> int:
    """The exit code of an error (1 for anything not in ``EXIT_CODES``)."""
    for cls, code in EXIT_CODES:
        if isinstance(exc, cls):
            return code
    return 1


def _is_usage_error(exc: BaseException) -> bool:
    """click's own exceptions (typer vendors click, so match by shape, not by class)."""
    return type(exc).__module__.endswith("click.exceptions") and hasattr(exc, "show") and hasattr(exc, "exit_code")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, turn errors into one line and an exit code."""
    global _settings
    _settings = Settings()
    config_module.use_profile(None)
    code = 0
    try:
        result = app(args=argv, prog_name="autostore", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        sys.stderr.write("autostore: aborted\n")
        code = 130
    except KeyboardInterrupt:
        sys.stderr.write("autostore: interrupted\n")
        code = 130
    except BrokenPipeError:
        # e.g. `autostore cat ... | head`: the reader left; not an error of ours
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        code = 0
    except Exception as exc:
        if _is_usage_error(exc):
            exc.show()  # type: ignore[attr-defined]
            code = int(exc.exit_code)  # type: ignore[attr-defined]
            sys.stdout.flush()
            raise SystemExit(code) from None
        if _settings.debug:
            import traceback

            traceback.print_exc()
        prefix = "" if isinstance(exc, AutoStoreError) else f"unexpected {type(exc).__name__}: "
        sys.stderr.write(f"autostore: error: {prefix}{_one_line(str(exc))}\n")
        code = exit_code_for(exc)
    sys.stdout.flush()
    if _settings.stats:
        from .metrics import process_stats

        sys.stderr.write("".join(f"autostore stats: {line}\n" for line in str(process_stats()).splitlines()))
    raise SystemExit(code)


if __name__ == "__main__":
    main()
