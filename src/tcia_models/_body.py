"""Response bodies: decoded with a bound on what each piece may grow to, limited in size and
time, and handed to a sink (memory, a file, a series on disk).

httpx would inflate a ``Content-Encoding: gzip`` body whole, chunk by chunk without a bound
(a 1 MB bomb becomes gigabytes); the clients read the raw bytes and decode them here instead.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from ._exceptions import (
    APITimeoutError,
    InvalidParameterError,
    ResponseFormatError,
    ResponseTooLargeError,
)
from ._files import storage_error, umask

__all__ = ["BodyDecoder", "BodyLimit", "BufferSink", "FileSink", "Sink"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

_PIECE = 1 << 20
"""At most this many decoded bytes come out of one step of the decoder."""


class BodyDecoder:
    """Undoes ``Content-Encoding`` ``gzip`` or ``deflate`` (or none), piece by bounded piece."""

    def __init__(self, content_encoding: str | None, *, query: str) -> None:
        coding = (content_encoding or "identity").strip().lower()
        self._query = query
        self._wbits: int | None
        if coding in ("identity", ""):
            self._wbits = None
        elif coding in ("gzip", "x-gzip"):
            self._wbits = 16 + zlib.MAX_WBITS
        elif coding == "deflate":
            self._wbits = zlib.MAX_WBITS  # zlib-wrapped, as RFC 9110 says; raw deflate below
        else:
            raise ResponseFormatError(
                f"{query}: the server sent Content-Encoding {content_encoding!r}, which was not "
                "asked for (only gzip or deflate); check base_url, or report it",
                query=query,
            )
        self._inflater = zlib.decompressobj(self._wbits) if self._wbits is not None else None

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._inflater is None or self._wbits is None:
            yield data
            return
        try:
            if self._wbits == zlib.MAX_WBITS and data and data[0] & 0x0F != 8:
                self._wbits = -zlib.MAX_WBITS  # raw deflate without the zlib header, as IIS sends
                self._inflater = zlib.decompressobj(self._wbits)
            while data:
                piece = self._inflater.decompress(data, _PIECE)
                # At the end of a stream zlib puts what follows in unused_data *and* in
                # unconsumed_tail: take it once, as the start of the next gzip member.
                if self._inflater.eof:
                    data = self._inflater.unused_data
                    if data:
                        self._inflater = zlib.decompressobj(self._wbits)
                else:
                    data = self._inflater.unconsumed_tail
                if piece:
                    yield piece
        except zlib.error as error:
            raise self._broken(error) from None

    def flush(self) -> None:
        """The body ended: it must have ended where the encoded stream does."""
        if self._inflater is not None and not self._inflater.eof:
            raise self._broken("the compressed stream is cut short")

    def _broken(self, problem: object) -> ResponseFormatError:
        return ResponseFormatError(
            f"{self._query}: the response does not decode ({problem}); the server or a proxy "
            "sent a damaged body. Try again, and report it if it persists.",
            query=self._query,
        )


class BodyLimit:
    """How much a body may hold and by when it must be complete."""

    def __init__(self, max_bytes: int, deadline: float, *, query: str, hint: str) -> None:
        self.max_bytes = max_bytes
        self.deadline = deadline
        """``time.monotonic()`` by which the last byte must have arrived."""
        self._query = query
        self._hint = hint
        self.received = 0

    def reset(self) -> None:
        self.received = 0

    def count(self, size: int, now: float) -> None:
        self.received += size
        if self.received > self.max_bytes:
            raise ResponseTooLargeError(
                f"{self._query}: the response grew past {self.max_bytes} bytes and was cut off; "
                f"{self._hint}",
                query=self._query,
            )
        self.check_time(now)

    def check_time(self, now: float) -> None:
        if now > self.deadline:
            raise APITimeoutError(
                f"{self._query}: the response was not complete by the deadline "
                f"({self.received} bytes had arrived); raise deadline= or try again later",
                query=self._query,
            )


class PushSink(Protocol[T_co]):
    """A sink that does no disk or CPU work: fed piece by piece where the bytes arrive."""

    @property
    def blocking(self) -> bool: ...

    def start(self) -> None: ...
    def feed(self, chunks: Sequence[bytes]) -> None: ...
    def finish(self) -> T_co: ...
    def discard(self) -> None: ...


class PullSink(Protocol[T_co]):
    """A sink that does disk or CPU work (``blocking``): ``consume`` pulls the body, as batches
    of pieces, in one thread (the sync client's own; for the async client a worker thread the
    event loop hands the batches to)."""

    @property
    def blocking(self) -> bool: ...

    def consume(self, batches: Iterable[Sequence[bytes]]) -> T_co: ...


Sink = PushSink[T_co] | PullSink[T_co]
"""Where a response body goes, attempt by attempt (a broken connection starts over)."""


class Fed(Generic[T]):
    """``consume`` for a sink written as start, feed and finish."""

    def start(self) -> None:
        raise NotImplementedError

    def feed(self, chunks: Sequence[bytes]) -> None:
        raise NotImplementedError

    def finish(self) -> T:
        raise NotImplementedError

    def discard(self) -> None:
        raise NotImplementedError

    def consume(self, batches: Iterable[Sequence[bytes]]) -> T:
        self.start()
        try:
            for batch in batches:
                self.feed(batch)
            return self.finish()
        except BaseException:
            self.discard()
            raise


class BufferSink(Fed[bytearray]):
    """The body in memory."""

    blocking = False

    def __init__(self) -> None:
        self._buffer = bytearray()

    def start(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunks: Sequence[bytes]) -> None:
        for chunk in chunks:
            self._buffer += chunk

    def finish(self) -> bytearray:
        return self._buffer

    def discard(self) -> None:
        self._buffer = bytearray()


class FileSink(Fed[Path]):
    """The body in a file, written beside it under a fresh hidden name and moved into place only
    once complete: the target never holds part of a body, and a planted link is never followed."""

    blocking = True

    def __init__(self, target: str | os.PathLike[str], *, query: str) -> None:
        self.target = Path(target)
        if self.target.is_dir():
            raise InvalidParameterError(
                f"{query}: path={str(self.target)!r} is a directory; give a file name", query=query
            )
        self._query = query
        self._partial: Path | None = None
        self._handle: int | None = None

    def start(self) -> None:
        self.discard()
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(
                prefix=f".{self.target.name[:100]}.", suffix=".part", dir=self.target.parent
            )
        except OSError as error:
            raise storage_error(error, self.target, query=self._query) from None
        self._handle, self._partial = handle, Path(name)

    def feed(self, chunks: Sequence[bytes]) -> None:
        assert self._handle is not None, "start() first"
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self._handle, view) :]
        except OSError as error:
            raise storage_error(error, self.target, query=self._query) from None

    def finish(self) -> Path:
        assert self._handle is not None and self._partial is not None, "start() first"
        try:
            os.close(self._handle)
            self._handle = None
            os.chmod(self._partial, 0o666 & ~umask())
            os.replace(self._partial, self.target)
        except OSError as error:
            self.discard()
            raise storage_error(error, self.target, query=self._query) from None
        self._partial = None
        return self.target

    def discard(self) -> None:
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None
        if self._partial is not None:
            self._partial.unlink(missing_ok=True)
            self._partial = None
