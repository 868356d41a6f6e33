"""Byte-level HTTP for the test server: a bounded pool of connection threads, and replies
written plainly or chunked, shaped (latency, bandwidth) or cut off (a dropped connection).

Nothing here knows TCIA: ``server.py`` turns a ``Request`` into a ``Reply``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["BoundedHTTPServer", "Reply", "Request", "Shaping"]

_CHUNK = 64 * 1024
_MAX_BODY = 16 << 20
"""Bytes of a request body the server reads (forms and fault orders are small)."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    """The URL path, percent-decoded."""
    params: Mapping[str, str]
    """Query string and, for a form POST, the form."""
    headers: Mapping[str, str]
    """Lower-case names."""
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = "text/plain"
    """``None`` sends no Content-Type (NBIA's ``Response.ok().build()``)."""
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    chunked: bool = False
    drop_after: int | None = None
    """Close the connection after this many bytes of the body."""

    def with_(self, **changes: Any) -> Reply:
        return replace(self, **changes)


@dataclass(frozen=True)
class Shaping:
    latency: float = 0.0
    """Seconds before the first byte of every response."""
    connect_latency: float = 0.0
    """Seconds added to every new connection (what TCP and TLS handshakes cost far away)."""
    bandwidth: float | None = None
    """Bytes per second per connection, or ``None`` for as fast as possible."""


class _ConnectionDropped(Exception):
    pass


class BoundedHTTPServer(HTTPServer):
    """One thread per connection, but at most ``max_connections`` of them: a thousand idle
    (slowloris) connections wait in the listen queue instead of costing a thousand threads,
    and a connection that sends nothing for ``idle_timeout`` seconds is closed."""

    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        app: Callable[[Request], Reply],
        *,
        shaping: Callable[[], Shaping],
        max_connections: int = 256,
        idle_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.shaping = shaping
        self.idle_timeout = idle_timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()  # the accept loop waits here while every slot is taken
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), daemon=True
        )
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: S110 (a broken client connection is that client's problem)
            pass
        finally:
            self.shutdown_request(request)
            self._slots.release()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without TCP_NODELAY every keep-alive response waits ~40 ms on Nagle's algorithm.
    disable_nagle_algorithm = True
    server_version = "tcia-models-test-server"

    @property
    def _server(self) -> BoundedHTTPServer:
        assert isinstance(self.server, BoundedHTTPServer)
        return self.server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self._server.idle_timeout)
        delay = self._server.shaping().connect_latency
        if delay:
            time.sleep(delay)

    def do_GET(self) -> None:
        try:
            reply = self._server.app(self._request())
            self._send(reply)
        except (_ConnectionDropped, BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_POST = do_GET
    do_HEAD = do_GET

    def _request(self) -> Request:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {key.lower(): value for key, value in self.headers.items()}
        try:
            length = min(int(self.headers.get("Content-Length") or 0), _MAX_BODY)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        if self.command == "POST" and "json" not in headers.get("content-type", ""):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return Request(self.command, unquote(url.path), params, headers, body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``server.requests`` instead."""

    def _send(self, reply: Reply) -> None:
        shaping = self._server.shaping()
        if shaping.latency:
            time.sleep(shaping.latency)
        self.send_response(reply.status)
        if reply.content_type is not None:
            self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        self._write_body(reply, shaping.bandwidth)

    def _write_body(self, reply: Reply, bandwidth: float | None) -> None:
        body, limit, chunked = reply.body, reply.drop_after, reply.chunked
        started, sent = time.monotonic(), 0
        for start in range(0, len(body), _CHUNK):
            piece = body[start : start + _CHUNK]
            if limit is not None and sent + len(piece) > limit:
                self._write_piece(piece[: limit - sent], chunked=chunked)
                self._drop()
            self._write_piece(piece, chunked=chunked)
            sent += len(piece)
            if bandwidth:
                ahead = sent / bandwidth - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        if limit is not None:
            self._drop()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _write_piece(self, piece: bytes, *, chunked: bool) -> None:
        if not piece:
            return
        if chunked:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        else:
            self.wfile.write(piece)

    def _drop(self) -> None:
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        raise _ConnectionDropped
