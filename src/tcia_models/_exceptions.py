"""One exception hierarchy, rooted at ``TCIAError``.

Every error names the query and, when there was a response, its status and the start of its
body, and says what to do. None of them ever holds the API key, a token or a password.
"""

from __future__ import annotations

from collections.abc import Callable

from ._constants import EXCERPT_LENGTH

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "DownloadError",
    "InvalidParameterError",
    "NotFoundError",
    "RateLimitError",
    "ResponseFormatError",
    "ResponseTooLargeError",
    "ServerError",
    "StorageError",
    "TCIAError",
]

# Enough of a body to fill an excerpt even when most of it is whitespace.
_EXCERPT_SOURCE = EXCERPT_LENGTH * 8


def unchanged(text: str) -> str:
    return text


def excerpt(body: bytes | bytearray | str, redact: Callable[[str], str] = unchanged) -> str:
    """The start of ``body`` as one line of at most ``EXCERPT_LENGTH`` characters.

    ``redact`` runs before anything is cut, so a secret that straddles the cut is blanked out
    whole rather than shown in part.
    """
    head = body[:_EXCERPT_SOURCE]
    text = head if isinstance(head, str) else bytes(head).decode("utf-8", "replace")
    text = " ".join(redact(text).split())
    return text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 3] + "..."


class TCIAError(Exception):
    """The root of every error this library raises."""

    def __init__(
        self, message: str, *, query: str | None = None, status: int | None = None, body: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.query = query
        """The wire name of the query, e.g. ``getSeries``."""
        self.status = status
        """The HTTP status, when the server answered."""
        self.body = body
        """The start of the response body (at most 200 characters), secrets blanked out."""


class InvalidParameterError(TCIAError, ValueError):
    """The call itself is wrong (a required parameter is missing, say); nothing was sent."""


class APIConnectionError(TCIAError):
    """The server could not be reached, or the connection broke (after all retries)."""


class APITimeoutError(APIConnectionError):
    """The server did not answer in time, or not completely before the deadline."""


class APIStatusError(TCIAError):
    """The server answered with an error status (or redirected without end)."""


class BadRequestError(APIStatusError):
    """400: the server rejected the parameters."""


class AuthenticationError(APIStatusError):
    """401/403: the API key or login is missing, wrong or not allowed this data."""


class NotFoundError(APIStatusError):
    """404, or no such series: the query or the object does not exist on this server."""


class RateLimitError(APIStatusError):
    """429 after all retries."""


class ServerError(APIStatusError):
    """5xx after all retries."""


class ResponseFormatError(TCIAError):
    """A response whose body is not what its format promises (an HTML error page with 200, a
    row the model cannot hold, a body that does not decode, ...)."""


class ResponseTooLargeError(TCIAError):
    """A response that grew past the client's bound (``max_response_size``, or what
    getSeriesSize announced for a download); reading stopped there."""


class DownloadError(TCIAError):
    """A series download that failed its checks; nothing of it was left on disk."""

    def __init__(
        self,
        message: str,
        *,
        series_instance_uid: str,
        query: str | None = "getImage",
        status: int | None = None,
    ) -> None:
        super().__init__(message, query=query, status=status)
        self.series_instance_uid = series_instance_uid


class StorageError(TCIAError):
    """The destination on disk could not be written (not a folder, not writable, full, ...);
    nothing partial was left there."""

    def __init__(self, message: str, *, path: str, query: str | None = None) -> None:
        super().__init__(message, query=query)
        self.path = path
        """The file or folder that could not be written."""
