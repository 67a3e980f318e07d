"""The typer app of the ``autostore`` command line, its global options and the error → exit-code mapping.

Owns: the ``app`` object (sub-apps ``cache`` and ``memo`` are added by their modules), the
``Settings`` every command shares (``--json``, ``--profile``, ``--endpoint-url``, ``--debug``,
``--progress``), the option types the commands reuse, and ``main``: run the app, print an error as
one line on stderr and exit with the code of its class (``EXIT_CODES``; ``--debug`` shows the
traceback). typer and rich are imported by the CLI only, so ``import autostore`` stays light.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from dataclasses import dataclass
from typing import Annotated

import typer

from .. import __version__
from .. import config as config_module
from ..errors import (
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
    UnsupportedOperation,
)

__all__ = [
    "EXIT_CODES",
    "AsOfOpt",
    "DebugOpt",
    "EndpointOpt",
    "JsonOpt",
    "ProfileOpt",
    "ProgressOpt",
    "Settings",
    "VersionOpt",
    "app",
    "apply_settings",
    "current_settings",
    "exit_code_for",
    "main",
]

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
    (UnsupportedOperation, 13),
    (AutoStoreError, 1),
)

app = typer.Typer(
    name="autostore",
    help="Typed data on local disk and any object store: list, preview, copy, move and remove files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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


def current_settings() -> Settings:
    """The settings of the command being run (reset by ``main`` for every run)."""
    return _settings


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
VersionOpt = Annotated[
    str | None,
    typer.Option(
        "--version",
        help="A version id (S3 with bucket versioning) or a Delta table version number.",
        show_default=False,
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="The version current at this moment: ISO 8601, e.g. 2026-01-31T12:00 (local time) or ...+00:00.",
        show_default=False,
    ),
]


def apply_settings(
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
    apply_settings(json_out, profile, endpoint_url, debug)


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
    """Console-script entry point: run the app, turn errors into one line and an exit code.

    The commands register themselves on ``app`` when ``autostore.cli`` is imported (which
    importing this module always does first)."""
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
        from ..metrics import process_stats

        sys.stderr.write("".join(f"autostore stats: {line}\n" for line in str(process_stats()).splitlines()))
    raise SystemExit(code)
