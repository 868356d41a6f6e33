"""A hostile TCIA look-alike on loopback: each request gets whatever raw bytes a test scripts.

The bundled server behaves; this one lies (wrong lengths, endless bodies, gzip bombs, redirects
elsewhere, echoed secrets, trickles), so the tests can hold the client to its promises.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self


@dataclass(frozen=True)
class Seen:
    """One request as the hostile server received it."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    """One scripted response."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | Callable[[], Iterator[bytes]] = b""
    """The body, or a generator of its pieces (for endless or trickled bodies)."""
    chunked: bool = False
    content_length: int | None = None
    """Announce this length instead of the body's real one."""
    pause: float = 0.0
    """Seconds between pieces of a generated body."""
    drop_after: int | None = None
    """Close the connection after this many body bytes."""

    def head(self, length: int | None) -> bytes:
        lines = [f"HTTP/1.1 {self.status} Hostile"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.chunked:
            lines.append("Transfer-Encoding: chunked")
        elif self.content_length is not None or length is not None:
            lines.append(
                f"Content-Length: {self.content_length if self.content_length is not None else length}"
            )
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class HostileServer:
    """``with HostileServer(script) as hostile:`` then point a client at ``hostile.url``. The
    n-th request gets ``script[n]`` (the last one again once the script runs out)."""

    script: list[Answer] | Callable[[Seen], Answer]
    seen: list[Seen] = field(default_factory=list)
    _socket: socket.socket = field(init=False)
    _thread: threading.Thread | None = field(init=False, default=None)
    _stopping: threading.Event = field(init=False, default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.1)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    @property
    def url(self) -> str:
        return self.origin + "/services/TCIA/TCIA/query"

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self._socket.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            connection.settimeout(5)
            seen = _read_request(connection)
            if seen is None:
                return
            self.seen.append(seen)
            if callable(self.script):
                answer = self.script(seen)
            else:
                answer = self.script[min(len(self.seen) - 1, len(self.script) - 1)]
            _write(connection, answer, self._stopping)


def _read_request(connection: socket.socket) -> Seen | None:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = connection.recv(65536)
        if not piece:
            return None
        data += piece
        if len(data) > 1 << 20:
            return None
    head, _, body = data.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _ = [*request_line.split(" "), "", ""][:3]
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < length:
        piece = connection.recv(65536)
        if not piece:
            break
        body += piece
    return Seen(method, target, headers, body)


def _pieces(answer: Answer) -> Iterator[bytes]:
    if callable(answer.body):
        yield from answer.body()
    elif answer.body:
        yield answer.body


def _write(connection: socket.socket, answer: Answer, stopping: threading.Event) -> None:
    fixed = None if callable(answer.body) or answer.chunked else len(answer.body)
    connection.sendall(answer.head(fixed))
    sent = 0
    for piece in _pieces(answer):
        if stopping.is_set():
            return
        if answer.drop_after is not None and sent + len(piece) > answer.drop_after:
            connection.sendall(piece[: answer.drop_after - sent])
            return
        connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if answer.chunked else piece)
        sent += len(piece)
        if answer.pause:
            time.sleep(answer.pause)
    if answer.chunked:
        connection.sendall(b"0\r\n\r\n")


def gzip_bomb(inflated: int, *, member: int = 16 << 20) -> bytes:
    """A gzip body of a few kilobytes per member that inflates to ``inflated`` bytes of zeros
    (concatenated members, as RFC 1952 allows)."""
    one = gzip.compress(b"\0" * member, compresslevel=9)
    return one * max(1, inflated // member)


def endless(piece: bytes = b"[" * 65536) -> Callable[[], Iterator[bytes]]:
    def generate() -> Iterator[bytes]:
        while True:
            yield piece

    return generate


def trickle(body: bytes, *, step: int = 1) -> Callable[[], Iterator[bytes]]:
    def generate() -> Iterator[bytes]:
        for start in range(0, len(body), step):
            yield body[start : start + step]

    return generate
