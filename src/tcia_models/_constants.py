"""Defaults of the client, in one place."""

from __future__ import annotations

import httpx

BASE_URL_ENV = "TCIA_BASE_URL"
API_ENV = "TCIA_API"
TOKEN_REFRESH_MARGIN = 60.0
"""Seconds before expiry at which a token is refreshed, so no request carries a stale one."""
API_KEY_ENV = "TCIA_API_KEY"
API_KEY_HEADER = "api_key"

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
"""Generous reads: broad TCIA queries are slow to start answering."""

DEFAULT_MAX_RETRIES = 3
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 60.0
"""A server's Retry-After is honoured up to this many seconds; longer waits are not retried."""

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

DOWNLOAD_CHUNK = 1024 * 1024
DEFAULT_CONCURRENCY = 4
