"""Faults a test can make the server answer with, for the next requests.

Each kind of fault is one class below, and all it does is there: it may answer instead of the
server (``on_request``), change a ZIP's entries (``on_archive``) or spoil the reply on its way
out (``on_reply``). ``Fault.<kind>(...)`` builds one; ``FAULT_KINDS`` names them all, for the
control endpoint of a server running in another process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .http import Reply

__all__ = ["FAULT_KINDS", "Fault", "FaultQueue"]

_HTML_ERROR_PAGE = (
    b"<html><head><title>Service Unavailable</title></head>"
    b"<body><h1>The server is temporarily unable to service your request.</h1></body></html>"
)

Entries = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Fault:
    """How to spoil one response. Build one with the class methods below."""

    def on_request(self) -> Reply | None:
        """A reply to send instead of the real one, or ``None``."""
        return None

    def on_archive(self, entries: Entries) -> Entries:
        """The entries of a ZIP the server is about to send."""
        return entries

    def on_reply(self, reply: Reply) -> Reply:
        """The reply, on its way out."""
        return reply

    @classmethod
    def http_status(
        cls, status: int, *, retry_after: float | None = None, body: bytes = b""
    ) -> Fault:
        """A 429, 500, 503, ... (with ``Retry-After`` when given)."""
        return HttpStatus(status, retry_after, body)

    @classmethod
    def rate_limited(cls, retry_after: float = 1.0) -> Fault:
        return HttpStatus(429, retry_after, b"")

    @classmethod
    def html_error_page(cls) -> Fault:
        """A 200 whose body is a proxy's HTML error page."""
        return HtmlErrorPage()

    @classmethod
    def wrong_content_type(cls, content_type: str = "text/html") -> Fault:
        return WrongContentType(content_type)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return Slow(seconds)

    @classmethod
    def drop_connection(cls, after_bytes: int = 0) -> Fault:
        return DropConnection(after_bytes)

    @classmethod
    def truncated(cls, to_bytes: int) -> Fault:
        """Only this many bytes of the body, in an otherwise well-formed response."""
        return Truncated(to_bytes)

    @classmethod
    def corrupted(cls) -> Fault:
        """Bytes flipped in the middle of the body."""
        return Corrupted()

    @classmethod
    def zip_entry(cls, name: str, data: bytes = b"planted") -> Fault:
        """A ZIP with one more entry, such as ``../outside.txt`` or ``/etc/passwd``."""
        return ZipEntry(name, data)

    @classmethod
    def tampered_image(cls) -> Fault:
        """A well-formed ZIP whose first image no longer matches md5hashes.csv."""
        return TamperedImage()


@dataclass(frozen=True)
class HttpStatus(Fault):
    status: int
    retry_after: float | None = None
    body: bytes = b""

    def on_request(self) -> Reply:
        headers = {"Retry-After": f"{self.retry_after:g}"} if self.retry_after is not None else {}
        return Reply(self.status, self.body, "text/plain", headers)


@dataclass(frozen=True)
class HtmlErrorPage(Fault):
    def on_request(self) -> Reply:
        return Reply(200, _HTML_ERROR_PAGE, "text/html")


@dataclass(frozen=True)
class WrongContentType(Fault):
    content_type: str = "text/html"

    def on_reply(self, reply: Reply) -> Reply:
        return reply.with_(content_type=self.content_type)


@dataclass(frozen=True)
class Slow(Fault):
    seconds: float

    def on_request(self) -> None:
        time.sleep(self.seconds)


@dataclass(frozen=True)
class DropConnection(Fault):
    after_bytes: int = 0

    def on_reply(self, reply: Reply) -> Reply:
        return reply.with_(drop_after=self.after_bytes)


@dataclass(frozen=True)
class Truncated(Fault):
    to_bytes: int

    def on_reply(self, reply: Reply) -> Reply:
        return reply.with_(body=reply.body[: self.to_bytes])


@dataclass(frozen=True)
class Corrupted(Fault):
    def on_reply(self, reply: Reply) -> Reply:
        body = reply.body
        if not body:
            return reply
        middle = len(body) // 2
        span = min(64, len(body) - middle)
        flipped = bytes(b ^ 0xFF for b in body[middle : middle + span])
        return reply.with_(body=body[:middle] + flipped + body[middle + span :])


@dataclass(frozen=True)
class ZipEntry(Fault):
    name: str
    data: bytes = b"planted"

    def on_archive(self, entries: Entries) -> Entries:
        return [*entries, (self.name, self.data)]


@dataclass(frozen=True)
class TamperedImage(Fault):
    def on_archive(self, entries: Entries) -> Entries:
        """The first image changed after hashing: the same length (sizes still agree), other
        bytes."""
        for index, (name, data) in enumerate(entries):
            if name.endswith(".dcm") and data:
                changed = data[:-1] + bytes([data[-1] ^ 0xFF])
                return [*entries[:index], (name, changed), *entries[index + 1 :]]
        return entries


FAULT_KINDS: Mapping[str, Callable[..., Fault]] = {
    name: getattr(Fault, name)
    for name, member in vars(Fault).items()
    if isinstance(member, classmethod)
}
"""Each fault by name, with the arguments of its ``Fault.<kind>`` constructor."""


def fault_from_order(order: Mapping[str, Any]) -> Fault:
    """A fault from ``{"kind": ..., <constructor arguments>}``, its arguments type-checked, so a
    bad order is refused when it is given, not when a response is spoiled. Raises ``ValueError``."""
    from pydantic import ValidationError, validate_call

    arguments = dict(order)
    kind = arguments.pop("kind", None)
    constructor = FAULT_KINDS.get(str(kind))
    if constructor is None:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(FAULT_KINDS)}")
    if isinstance(arguments.get("body"), str):
        arguments["body"] = arguments["body"].encode()
    if isinstance(arguments.get("data"), str):
        arguments["data"] = arguments["data"].encode()
    checked = validate_call(config={"strict": True, "arbitrary_types_allowed": False})(constructor)
    try:
        fault = checked(**arguments)
    except ValidationError as error:
        first = error.errors()[0]
        raise ValueError(f"{kind}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    if isinstance(fault, HttpStatus) and not 100 <= fault.status <= 599:
        raise ValueError(f"http_status: status {fault.status} is not an HTTP status (100-599)")
    return fault


class FaultQueue:
    """Faults waiting for the next requests, per query or for any query."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[str | None, Fault]] = []

    def add(self, fault: Fault, *, query: str | None = None, times: int = 1) -> None:
        with self._lock:
            self._pending.extend([(query, fault)] * times)

    def take(self, query: str | None) -> Fault | None:
        """The first fault meant for ``query`` (or for any query), removed from the queue."""
        with self._lock:
            for index, (target, fault) in enumerate(self._pending):
                if target is None or target == query:
                    del self._pending[index]
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)
