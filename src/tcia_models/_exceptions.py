"""One exception hierarchy, rooted at ``TCIAError``.

Every error names the query and, when there was a response, its status and the start of its
body, and says what to do. None of them ever holds the API key.
"""

from __future__ import annotations

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
    "ServerError",
    "TCIAError",
]

_EXCERPT = 200


def excerpt(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 3] + "..."


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
        """The start of the response body (at most 200 characters)."""


class InvalidParameterError(TCIAError, ValueError):
    """The call itself is wrong (a required parameter is missing, say); nothing was sent."""


class APIConnectionError(TCIAError):
    """The server could not be reached, or the connection broke (after all retries)."""


class APITimeoutError(APIConnectionError):
    """The server did not answer in time (after all retries)."""


class APIStatusError(TCIAError):
    """The server answered with an error status."""


class BadRequestError(APIStatusError):
    """400: the server rejected the parameters."""


class AuthenticationError(APIStatusError):
    """401/403: the API key is missing, wrong or not allowed this data."""


class NotFoundError(APIStatusError):
    """404, or no such series: the query or the object does not exist on this server."""


class RateLimitError(APIStatusError):
    """429 after all retries."""


class ServerError(APIStatusError):
    """5xx after all retries."""


class ResponseFormatError(TCIAError):
    """A response whose body is not what its format promises (an HTML error page with 200, a
    row the model cannot hold, ...)."""


class DownloadError(TCIAError):
    """A series download that failed its checks; nothing of it was left on disk."""

    def __init__(
        self, message: str, *, series_instance_uid: str, query: str | None = "getImage"
    ) -> None:
        super().__init__(message, query=query)
        self.series_instance_uid = series_instance_uid
