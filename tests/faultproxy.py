"""A fault-injecting HTTP/1.1 proxy on 127.0.0.1, for tests only.

Point a client's endpoint at ``proxy.endpoint_url``; requests are forwarded byte for byte to the
upstream server (SeaweedFS). SigV4 signs the ``Host`` header: the client signs the proxy's
address, the proxy forwards the header unchanged and the server checks the signature against
the Host it receives, so signatures stay valid without rewriting anything.

A *plan* decides, per request, whether to inject a fault::

    with FaultProxy(server.endpoint_url) as proxy:
        proxy.plan = first(2, "503")                    # the first 2 requests answer 503 SlowDown
        proxy.plan = at_random(0.1, ALL_FAULTS, seed=1)  # 10 % of requests get a random fault

Faults (``proxy.injected`` counts the ones really injected; a fault that does not apply to a
request, e.g. ``truncate`` on an empty response, is not injected and not counted):

- ``503`` / ``500``: answered by the proxy (SlowDown / InternalError); the server never sees it.
- ``drop``: the request is read, then the connection is reset without an answer.
- ``cut_request``: half the request body reaches the server, then both connections are reset
  (a torn upload: the server must not store a partial object).
- ``reset``: the server answers, the client gets the head and half the body, then a reset.
- ``truncate``: the server answers; the client gets a Content-Length larger than the bytes sent
  before the connection closes normally.
- ``stall``: the proxy stops reading and answers nothing for ``stall_seconds`` (or until the
  client gives up and disconnects).
- ``stall_body``: the server answers; the client gets the head and half the body, then nothing.
- ``delay``: not a failure, a slow link: the request is forwarded after ``delay_seconds``
  (not part of ``ALL_FAULTS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["ALL_FAULTS", "FaultProxy", "Request", "at_random", "first", "only"]

ALL_FAULTS = ("503", "500", "drop", "cut_request", "reset", "truncate", "stall", "stall_body")
_BODY_FAULTS = {"reset", "truncate", "stall_body"}  # need a response body to cut
_ERROR_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
    "<Resource>{path}</Resource><RequestId>faultproxy</RequestId></Error>"
)
_STATUS = {
    "503": (503, "Service Unavailable", "SlowDown", "Please reduce your request rate."),
    "500": (500, "Internal Server Error", "InternalError", "We encountered an internal error. Please try again."),
}


@dataclass
class Request:
    """What a plan sees of one request."""

    index: int  # 0-based, over the proxy's lifetime (or since reset())
    method: str
    path: str  # request target: path and query
    headers: dict[str, str]  # lower-case names
    body_size: int  # from Content-Length (0 for chunked bodies)
    received: float = 0.0  # time.monotonic() when the head arrived


Plan = Callable[[Request], str | None]


def first(n: int, fault: str, match: Callable[[Request], bool] | None = None) -> Plan:
    """The first ``n`` requests (that ``match``) get ``fault``."""
    _check(fault)
    seen = [0]
    lock = threading.Lock()

    def plan(req: Request) -> str | None:
        if match is not None and not match(req):
            return None
        with lock:
            seen[0] += 1
            return fault if seen[0] <= n else None

    return plan


def at_random(
    rate: float, faults: Iterable[str] = ALL_FAULTS, *, seed: int = 0, match: Callable[[Request], bool] | None = None
) -> Plan:
    """Each request (that ``match``) gets one of ``faults`` with probability ``rate`` (seeded)."""
    kinds = list(faults)
    for f in kinds:
        _check(f)
    rng = random.Random(seed)
    lock = threading.Lock()

    def plan(req: Request) -> str | None:
        if match is not None and not match(req):
            return None
        with lock:
            return rng.choice(kinds) if rng.random() < rate else None

    return plan


def only(*methods: str) -> Callable[[Request], bool]:
    """A ``match`` for ``first``/``at_random``: requests with one of these HTTP methods."""
    wanted = {m.upper() for m in methods}
    return lambda req: req.method in wanted


def _check(fault: str) -> None:
    if fault not in (*ALL_FAULTS, "delay"):
        raise ValueError(f"unknown fault {fault!r}; use one of {ALL_FAULTS} or 'delay'")


@dataclass
class _Stats:
    requests: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    log: list[tuple[float, str, str, str | None, str]] = field(default_factory=list)


class FaultProxy:
    """The proxy; runs its own asyncio loop in a daemon thread. Use as a context manager."""

    def __init__(self, upstream: str, *, stall_seconds: float = 60.0, delay_seconds: float = 0.3) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        self.upstream_host: str = parts.hostname
        self.upstream_port: int = parts.port
        self.stall_seconds = stall_seconds
        self.delay_seconds = delay_seconds
        self.plan: Plan | None = None
        self._stats = _Stats()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing: asyncio.Event | None = None
        self.port = 0

    # -- lifetime ---------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._closing = asyncio.Event()
                self._server = loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # pragma: no cover - bind failure
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="faultproxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    async def _shutdown(self) -> None:
        assert self._server is not None and self._closing is not None
        self._closing.set()
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(15)
            self._loop = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- counters -----------------------------------------------------------------------------
    @property
    def requests(self) -> int:
        return self._stats.requests

    @property
    def injected(self) -> Counter[str]:
        """Faults really injected, by kind."""
        with self._lock:
            return Counter(self._stats.injected)

    @property
    def log(self) -> list[tuple[float, str, str, str | None, str]]:
        """(time.monotonic(), method, path, fault, user agent) of every request, in arrival order."""
        with self._lock:
            return list(self._stats.log)

    def reset(self) -> None:
        """Zero the counters and the request index (the plan is kept)."""
        with self._lock:
            self._stats = _Stats()

    def _count(self, req: Request, fault: str | None) -> None:
        with self._lock:
            if fault is not None:
                self._stats.injected[fault] += 1
            self._stats.log.append((req.received, req.method, req.path, fault, req.headers.get("user-agent", "")))

    # -- one client connection ----------------------------------------------------------------
    async def _handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head = await _read_head(creader)
                if head is None:
                    break
                method, target, headers = _parse_request(head)
                if headers.get("expect", "").lower() == "100-continue":
                    cwriter.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    await cwriter.drain()
                with self._lock:
                    index = self._stats.requests
                    self._stats.requests += 1
                size = int(headers.get("content-length", "0") or 0)
                req = Request(index, method, target, headers, size, time.monotonic())
                plan = self.plan
                fault = plan(req) if plan is not None else None
                if fault == "stall":
                    # Stop reading: a big upload blocks in the client, a small one waits for an answer.
                    self._count(req, fault)
                    await self._stall(creader)
                    _reset(cwriter)
                    break
                body = await _read_body(creader, headers)
                keep = await self._serve(req, head, body, fault, creader, cwriter)
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                cwriter.close()

    async def _stall(self, creader: asyncio.StreamReader) -> None:
        """Wait until the client gives up (closes), the proxy stops, or ``stall_seconds`` pass,
        without reading what the client sends."""
        transport = creader._transport  # type: ignore[attr-defined]
        if transport is not None:
            transport.pause_reading()
        deadline = asyncio.get_running_loop().time() + self.stall_seconds
        while asyncio.get_running_loop().time() < deadline:
            if transport is None or transport.is_closing():
                return
            await asyncio.sleep(0.05)

    async def _serve(
        self,
        req: Request,
        head: bytes,
        body: bytes,
        fault: str | None,
        creader: asyncio.StreamReader,
        cwriter: asyncio.StreamWriter,
    ) -> bool:
        """Answer one request; False when the client connection must end."""
        if fault in _STATUS:
            status, reason, code, message = _STATUS[fault]
            payload = _ERROR_XML.format(code=code, message=message, path=req.path.split("?")[0]).encode()
            self._count(req, fault)
            cwriter.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            await cwriter.drain()
            return True
        if fault == "drop":
            self._count(req, fault)
            _reset(cwriter)
            return False
        delayed = fault == "delay"
        if delayed:
            await asyncio.sleep(self.delay_seconds)
            fault = None
        if fault == "cut_request" and len(body) < 2:
            fault = None  # nothing to cut
        ureader, uwriter = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        try:
            if fault == "cut_request":
                uwriter.write(head + body[: len(body) // 2])
                await uwriter.drain()
                self._count(req, fault)
                await asyncio.sleep(0.01)
                _reset(uwriter)
                _reset(cwriter)
                return False
            uwriter.write(head + body)
            await uwriter.drain()
            rhead, rbody, close = await _read_response(ureader, req.method)
        finally:
            with contextlib.suppress(Exception):
                uwriter.close()
        if fault in _BODY_FAULTS and not rbody:
            fault = None
        if fault is None:
            self._count(req, "delay" if delayed else None)
            cwriter.write(rhead + rbody)
            await cwriter.drain()
            return not close
        # Half the body: the Content-Length (or the chunked terminator) promises more.
        self._count(req, fault)
        cwriter.write(rhead + rbody[: len(rbody) // 2])
        await cwriter.drain()
        if fault == "reset":
            await asyncio.sleep(0.005)
            _reset(cwriter)
        elif fault == "stall_body":
            await self._stall(creader)
            _reset(cwriter)
        else:
            cwriter.close()
        return False


# -- HTTP/1.1 framing ---------------------------------------------------------------------------
async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise
        return None


def _parse_headers(lines: list[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


def _parse_request(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.rstrip(b"\r\n").split(b"\r\n")
    method, target, _version = lines[0].decode("latin-1").split(" ", 2)
    return method.upper(), target, _parse_headers(lines[1:])


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """The raw body bytes (chunk framing kept, so it is forwarded unchanged)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader)
    length = int(headers.get("content-length", "0") or 0)
    return await reader.readexactly(length) if length else b""


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        line = await reader.readuntil(b"\r\n")
        out += line
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while True:  # trailers, then the empty line
                trailer = await reader.readuntil(b"\r\n")
                out += trailer
                if trailer == b"\r\n":
                    return bytes(out)
        out += await reader.readexactly(size + 2)


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[bytes, bytes, bool]:
    """(head, raw body, connection must close) of the upstream's final response."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.rstrip(b"\r\n").split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        if 100 <= status < 200:
            continue  # 100 Continue: the client already got ours
        headers = _parse_headers(lines[1:])
        close = headers.get("connection", "").lower() == "close"
        if method == "HEAD" or status in (204, 304):
            return head, b"", close
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return head, await _read_chunked(reader), close
        if "content-length" in headers:
            length = int(headers["content-length"])
            return head, (await reader.readexactly(length) if length else b""), close
        return head, await reader.read(), True


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of a clean FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
