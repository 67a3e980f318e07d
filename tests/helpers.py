"""Small helpers shared by the reliability tests."""

from __future__ import annotations

import functools
import importlib
import inspect
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from autostore import DataHandler
from autostore.testing import S3Server


def require(module: str) -> ModuleType:
    """Import ``module``, a library of the ``test`` extra. A missing one FAILS the test (never
    skips it): CI installs ``.[test]``, so a skip would hide a broken install or a dropped pin."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(
            f"{module} is needed by this test and is part of the 'test' extra ({exc}); "
            "install it with: pip install -e '.[test]'",
            pytrace=False,
        )


def boto_client(server: S3Server) -> Any:
    """A boto3 client straight to the server (no proxy): what is really stored. It reads no
    AWS_* variable, so the decoy environment (conftest) cannot redirect it."""
    return server.client()


CLOUD_PREFIXES = ("AWS_", "AZURE_", "AZURITE_", "GOOGLE_", "AUTOSTORE_", "STORAGE_EMULATOR_HOST")
_CHILD_TIMEOUT = 120.0


def in_child(env: dict[str, str], body: Callable[..., None], *args: Any, clear: bool = True) -> None:
    """Run ``body(*args)`` in a spawned child whose cloud variables are ``env`` (added to the
    suite's decoys when ``clear`` is False) and fail with the child's traceback if it fails.

    Why a child: changing the environment of the test process while obstore's and polars' native
    threads of earlier tests call getenv can crash it (glibc's environ is not thread-safe; adding
    variables back reallocates it), and it did once. A spawned child sets its environment before
    any native thread starts."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child_main, args=(env, clear, body, args, send))
    child.start()
    send.close()
    try:
        outcome = receive.recv() if receive.poll(_CHILD_TIMEOUT) else f"no answer in {_CHILD_TIMEOUT} s"
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
            child.join()
    assert outcome == "ok", outcome
    assert child.exitcode == 0


def _child_main(env: dict[str, str], clear: bool, body: Callable[..., None], args: tuple[Any, ...], send: Any) -> None:
    import traceback

    if clear:
        for key in [k for k in os.environ if k.startswith(CLOUD_PREFIXES)]:
            del os.environ[key]
    os.environ.update(env)
    try:
        body(*args)
        send.send("ok")
    except BaseException:
        send.send(traceback.format_exc())


def env_test(setup: Callable[[pytest.MonkeyPatch], None]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate a test that changes the environment on purpose: its body runs in a spawned child
    (see :func:`in_child`) with a ``monkeypatch`` of its own, after ``setup(monkeypatch)`` (a
    module-level function). The test's other fixtures are handed to the child, so they must pickle."""

    def decorate(test: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(test)
        def run(**fixtures: Any) -> None:
            fixtures.pop("monkeypatch", None)
            in_child({}, _run_test, test.__module__, test.__name__, setup, fixtures, clear=False)

        return run

    return decorate


def _run_test(
    module: str, name: str, setup: Callable[[pytest.MonkeyPatch], None], fixtures: dict[str, Any]
) -> None:
    test = getattr(importlib.import_module(module), name).__wrapped__
    with pytest.MonkeyPatch.context() as monkeypatch:
        setup(monkeypatch)
        if "monkeypatch" in inspect.signature(test).parameters:
            fixtures["monkeypatch"] = monkeypatch
        test(**fixtures)


def clear_cloud_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every cloud and ``AUTOSTORE_*`` variable (the decoys conftest sets for each test):
    for tests that read the environment on purpose."""
    for name in list(os.environ):
        if name.startswith(CLOUD_PREFIXES):
            monkeypatch.delenv(name)


class SlowBytes(DataHandler):
    """bytes <-> ``.slow`` files, written in 1 MiB steps with a pause after each (when ``pause``),
    the way a file-based format (parquet, numpy, torch) fills its file. Prints "started" once
    2 MiB are written, so a test knows when to kill the writer."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause

    @property
    def extensions(self) -> list[str]:
        return [".slow"]

    def can_handle_extension(self, extension: str) -> bool:
        return extension == ".slow"

    def can_handle_data(self, data: Any) -> bool:
        return isinstance(data, bytes)

    def read_from_file(self, file_path: Path, file_extension: str) -> Any:
        return Path(file_path).read_bytes()

    def write_to_file(self, data: Any, file_path: Path, file_extension: str) -> None:
        step = 1 << 20
        with open(file_path, "wb") as f:
            for i in range(0, len(data), step):
                f.write(data[i : i + step])
                f.flush()
                if self.pause:
                    if i == 2 * step:
                        print("started", flush=True)
                    time.sleep(self.pause)


WRITE_ID = re.compile(r"part-[0-9a-f]{16}-")


def plain_part_names(keys: list[str]) -> list[str]:
    """Stored names without the write id every dataset write puts in them (``part-<id>-0`` ->
    ``part-0``; tests/test_dataset_overwrite.py checks the ids themselves)."""
    return [WRITE_ID.sub("part-", k) for k in keys]


def named_part(keys: list[str], plain: str) -> str:
    """The stored key whose name without its write id is ``plain``."""
    (key,) = [k for k in keys if WRITE_ID.sub("part-", k) == plain]
    return key


_CLEAN_PREFIXES = ("AWS_", "AUTOSTORE_", "AZURE_", "GOOGLE_", "STORAGE_EMULATOR")


def base_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess: no cloud or AUTOSTORE_* variable (not even the
    decoys), this checkout's source first on the path, no configuration file, then ``extra``."""
    import autostore

    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLEAN_PREFIXES)}
    env.update(PYTHONPATH=str(Path(autostore.__file__).resolve().parent.parent), AUTOSTORE_CONFIG="")
    env.update(COLUMNS="200", NO_COLOR="1")
    env.update(extra)
    return env


def pathlib_walk(
    top: Path, top_down: bool = True, on_error: Any = None, follow_symlinks: bool = False
) -> Iterator[Any]:
    """Python 3.12's Path.walk, for Python 3.11 (the algorithm of CPython's Lib/pathlib.py)."""
    if hasattr(Path, "walk"):
        yield from top.walk(top_down=top_down, on_error=on_error, follow_symlinks=follow_symlinks)
        return
    paths: list[Any] = [top]
    while paths:
        path = paths.pop()
        if isinstance(path, tuple):
            yield path
            continue
        try:
            scandir_it = os.scandir(path)
        except OSError as error:
            if on_error is not None:
                on_error(error)
            continue
        with scandir_it:
            dirnames, filenames = [], []
            for entry in scandir_it:
                try:
                    is_dir = entry.is_dir(follow_symlinks=follow_symlinks)
                except OSError:
                    is_dir = False
                (dirnames if is_dir else filenames).append(entry.name)
        if top_down:
            yield path, dirnames, filenames
        else:
            paths.append((path, dirnames, filenames))
        paths += [path / d for d in reversed(dirnames)]
