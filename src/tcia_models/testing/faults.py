"""Faults a test can make the server answer with, for the next requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["Fault", "FaultQueue"]

_HTML_ERROR_PAGE = (
    b"<html><head><title>Service Unavailable</title></head>"
    b"<body><h1>The server is temporarily unable to service your request.</h1></body></html>"
)


@dataclass(frozen=True)
class Fault:
    """How to spoil one response. Build one with the class methods below."""

    status: int | None = None
    """Answer with this status (and ``body``) instead of the real response."""
    body: bytes = b""
    content_type: str | None = None
    """Send this Content-Type (with the real body unless ``status`` is set)."""
    retry_after: float | None = None
    delay: float = 0.0
    """Seconds to wait before answering."""
    drop_after: int | None = None
    """Close the connection after sending this many bytes of the body."""
    truncate_to: int | None = None
    """Send only this many bytes of the body, in an otherwise well-formed response."""
    corrupt: bool = False
    """Flip bytes in the middle of the body."""
    extra_zip_entries: tuple[tuple[str, bytes], ...] = ()
    """Entries appended to a ZIP (e.g. ``../escape.txt``)."""
    tamper_image: bool = False
    """Change the first image of a ZIP after hashing it: a valid archive whose MD5 is wrong."""

    @classmethod
    def http_status(
        cls, status: int, *, retry_after: float | None = None, body: bytes = b""
    ) -> Fault:
        """A 429, 500, 503, ... (with ``Retry-After`` when given)."""
        return cls(status=status, retry_after=retry_after, body=body, content_type="text/plain")

    @classmethod
    def rate_limited(cls, retry_after: float = 1.0) -> Fault:
        return cls.http_status(429, retry_after=retry_after)

    @classmethod
    def html_error_page(cls) -> Fault:
        """A 200 whose body is a proxy's HTML error page."""
        return cls(status=200, body=_HTML_ERROR_PAGE, content_type="text/html")

    @classmethod
    def wrong_content_type(cls, content_type: str = "text/html") -> Fault:
        return cls(content_type=content_type)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls(delay=seconds)

    @classmethod
    def drop_connection(cls, after_bytes: int = 0) -> Fault:
        return cls(drop_after=after_bytes)

    @classmethod
    def truncated(cls, to_bytes: int) -> Fault:
        return cls(truncate_to=to_bytes)

    @classmethod
    def corrupted(cls) -> Fault:
        return cls(corrupt=True)

    @classmethod
    def zip_entry(cls, name: str, data: bytes = b"planted") -> Fault:
        """A ZIP with one more entry, such as ``../outside.txt`` or ``/etc/passwd``."""
        return cls(extra_zip_entries=((name, data),))

    @classmethod
    def tampered_image(cls) -> Fault:
        """A well-formed ZIP whose first image no longer matches md5hashes.csv."""
        return cls(tamper_image=True)

    def spoil(self, body: bytes) -> bytes:
        if self.corrupt and body:
            middle = len(body) // 2
            span = min(64, len(body) - middle)
            body = (
                body[:middle]
                + bytes(b ^ 0xFF for b in body[middle : middle + span])
                + body[middle + span :]
            )
        if self.truncate_to is not None:
            body = body[: self.truncate_to]
        return body


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
