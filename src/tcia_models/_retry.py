"""When to try a request again, and how long to wait first."""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

from ._constants import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER, MAX_RETRY_DELAY, RETRYABLE_STATUSES

__all__ = ["RetryPolicy", "retry_after_seconds"]


def retry_after_seconds(value: str | None, now: datetime.datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for: a number of seconds or an HTTP date (RFC 9110
    10.2.3). A date without a zone is read as UTC, as HTTP dates always are; a value that is
    neither is ignored (``None``)."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is no number of seconds
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - now).total_seconds())


class RetryPolicy:
    """Retries 408, 429, 5xx and transport errors with exponential backoff and jitter, and
    honours a server's ``Retry-After`` up to ``MAX_RETRY_AFTER`` seconds."""

    def __init__(
        self,
        max_retries: int,
        *,
        jitter: Callable[[], float] = random.random,
        now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    ) -> None:
        self.max_retries = max_retries
        self._jitter = jitter
        self._now = now

    def delay(
        self, attempt: int, status: int | None, headers: Mapping[str, str] | None = None
    ) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or ``None`` to give up.

        ``status`` is ``None`` for a transport error (no response).
        """
        if attempt >= self.max_retries:
            return None
        if status is not None and status not in RETRYABLE_STATUSES:
            return None
        retry_after = retry_after_seconds((headers or {}).get("retry-after"), self._now())
        if retry_after is not None:
            return retry_after if retry_after <= MAX_RETRY_AFTER else None
        backoff = min(INITIAL_RETRY_DELAY * 2.0**attempt, MAX_RETRY_DELAY)
        return backoff * (1 - 0.25 * self._jitter())

    def after(self) -> str:
        """``" after N retries"`` for messages, or ``""`` when retries are off."""
        return f" after {self.max_retries} retries" if self.max_retries else ""
