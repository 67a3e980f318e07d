"""A small counting HTTP/1.1 proxy for tests: 127.0.0.1:<port> -> an upstream server.

It forwards bytes unchanged (so AWS signatures stay valid), parses both directions just enough to
record every request (method, path, conditional or not) and its response (status, body bytes),
and can throttle responses so a test can interrupt a transfer midway::

    with CountingProxy(server.endpoint_url) as proxy:
        store = AutoStore("s3://bucket/", options=S3Options(endpoint_url=proxy.url, ...))
        store["k.json"]
        assert proxy.count("GET", "/bucket/k.json") == 1
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = ["CountingProxy", "Exchange"]


@dataclass
class Exchange:
    """One request and (once it arrived) its response."""

    method: str
    path: str  # unquoted, without the query string
    query: str
    conditional: bool  # carried If-None-Match / If-Match
    status: int | None = None
    body_bytes: int = 0
    ranged: bool = False  # carried a Range header
    copy_source: bool = False  # carried x-amz-copy-source (a server-side copy)
    request_bytes: int = 0  # request body (Content-Length)


class _Parser:
    """Incremental HTTP/1.1 message framing (heads, Content-Length and chunked bodies)."""

    def __init__(self, on_head, on_done) -> None:  # type: ignore[no-untyped-def]
        self.buf = bytearray()
        self.state = "head"
        self.remaining = 0
        self.body = 0
        self.on_head = on_head  # (start_line, headers) -> body mode: "none" | "length:<n>" | "chunked" | "close"
        self.on_done = on_done  # (body_bytes) -> None

    def feed(self, data: bytes) -> None:
        self.buf += data
        while self._step():
            pass

    def _line(self) -> bytes | None:
        i = self.buf.find(b"\r\n")
        if i < 0:
            return None
        line = bytes(self.buf[:i])
        del self.buf[: i + 2]
        return line

    def _step(self) -> bool:
        if self.state == "head":
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return False
            head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            del self.buf[: end + 4]
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            mode = self.on_head(head[0], headers)
            self.body = 0
            if mode == "none":
                self.on_done(0)
            elif mode == "chunked":
                self.state = "chunk-size"
            elif mode == "close":
                self.state = "close"
            else:
                self.remaining = int(mode.split(":")[1])
                self.state = "length"
                if self.remaining == 0:
                    self.state = "head"
                    self.on_done(0)
            return True
        if self.state == "length":
            if not self.buf:
                return False
            take = min(self.remaining, len(self.buf))
            del self.buf[:take]
            self.remaining -= take
            self.body += take
            if self.remaining == 0:
                self.state = "head"
                self.on_done(self.body)
            return True
        if self.state == "chunk-size":
            line = self._line()
            if line is None:
                return False
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.state = "trailer"
            else:
                self.body += size
                self.remaining = size + 2  # data + CRLF
                self.state = "chunk-data"
            return True
        if self.state == "chunk-data":
            if not self.buf:
                return False
            take = min(self.remaining, len(self.buf))
            del self.buf[:take]
            self.remaining -= take
            if self.remaining == 0:
                self.state = "chunk-size"
            return True
        if self.state == "trailer":
            line = self._line()
            if line is None:
                return False
            if line == b"":
                self.state = "head"
                self.on_done(self.body)
            return True
        if self.state == "close":  # body runs until the connection closes
            self.body += len(self.buf)
            self.buf.clear()
            return False
        return False

    def eof(self) -> None:
        if self.state == "close":
            self.state = "head"
            self.on_done(self.body)


def _body_mode(headers: dict[str, str], *, allow_close: bool) -> str:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return "chunked"
    if "content-length" in headers:
        return f"length:{int(headers['content-length'])}"
    return "close" if allow_close else "none"


class CountingProxy:
    """Forward ``127.0.0.1:<port>`` to ``upstream`` (``http://host:port``) and record traffic.

    ``throttle`` limits each response to that many bytes per second (None: full speed); it can
    be changed while the proxy runs.
    """

    def __init__(self, upstream: str, *, throttle: float | None = None) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.throttle = throttle
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        #: response bytes forwarded so far (all connections), updated as they flow
        self.response_bytes = 0
        self._accept_thread = threading.Thread(target=self._accept, daemon=True, name="counting-proxy")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- records ------------------------------------------------------------------------------
    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def count(self, method: str | None = None, path: str | None = None, *, status: int | None = None) -> int:
        """Requests seen with this method / exact path (unquoted) / response status."""
        return sum(
            1
            for e in self.exchanges
            if (method is None or e.method == method)
            and (path is None or e.path == path)
            and (status is None or e.status == status)
        )

    def reset(self) -> None:
        with self._lock:
            self._exchanges.clear()

    # -- lifetime -----------------------------------------------------------------------------
    def start(self) -> CountingProxy:
        self._accept_thread.start()
        return self

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() call
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            socks = list(self._sockets)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
        self._accept_thread.join(timeout=5)
        for t in list(self._threads):
            t.join(timeout=5)

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=30)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets |= {client, server}
            pending: deque[Exchange] = deque()
            for target in (self._requests, self._responses):
                t = threading.Thread(target=target, args=(client, server, pending), daemon=True)
                self._threads.append(t)
                t.start()

    def _requests(self, client: socket.socket, server: socket.socket, pending: deque[Exchange]) -> None:
        def on_head(start: str, headers: dict[str, str]) -> str:
            method, _, rest = start.partition(" ")
            target = rest.rpartition(" ")[0]
            path, _, query = target.partition("?")
            exchange = Exchange(method, unquote(path), query, "if-none-match" in headers or "if-match" in headers)
            exchange.ranged = "range" in headers
            exchange.copy_source = "x-amz-copy-source" in headers
            mode = _body_mode(headers, allow_close=False)
            exchange.request_bytes = int(mode.split(":")[1]) if mode.startswith("length:") else 0
            with self._lock:
                self._exchanges.append(exchange)
                pending.append(exchange)
            return mode

        parser = _Parser(on_head, lambda n: None)
        self._pump(client, server, parser, throttled=False)

    def _responses(self, client: socket.socket, server: socket.socket, pending: deque[Exchange]) -> None:
        current: list[Exchange] = []

        def on_head(start: str, headers: dict[str, str]) -> str:
            status = int(start.split(" ")[1])
            if 100 <= status < 200:
                return "none"  # interim (100 Continue): the real response follows
            with self._lock:
                exchange = pending.popleft() if pending else Exchange("?", "?", "", False)
            exchange.status = status
            current[:] = [exchange]
            if exchange.method == "HEAD" or status in (204, 304):
                return "none"
            return _body_mode(headers, allow_close=True)

        def on_done(n: int) -> None:
            if current:
                current[0].body_bytes = n
                current.clear()

        parser = _Parser(on_head, on_done)
        self._pump(server, client, parser, throttled=True)

    def _pump(self, src: socket.socket, dst: socket.socket, parser: _Parser, throttled: bool) -> None:
        try:
            while True:
                throttle = self.throttle if throttled else None  # may be changed while running
                data = src.recv(65536 if throttle is None else max(1, min(65536, int(throttle / 20))))
                if not data:
                    break
                with contextlib.suppress(Exception):  # counting must never break the traffic
                    parser.feed(data)
                dst.sendall(data)
                if throttled:
                    self.response_bytes += len(data)
                if throttle is not None:
                    time.sleep(len(data) / throttle)
        except OSError:
            pass
        finally:
            with contextlib.suppress(Exception):
                parser.eof()
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
