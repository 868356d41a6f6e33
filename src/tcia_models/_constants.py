"""Defaults and limits of the client, in one place."""

from __future__ import annotations

BASE_URL_ENV = "TCIA_BASE_URL"
API_ENV = "TCIA_API"
SERVER_ENV = "TCIA_SERVER"
API_KEY_ENV = "TCIA_API_KEY"
USERNAME_ENV = "TCIA_USERNAME"
PASSWORD_ENV = "TCIA_PASSWORD"  # noqa: S105 (the name of a variable, not a password)
API_KEY_HEADER = "api_key"

TOKEN_REFRESH_MARGIN = 60.0
"""Seconds before expiry at which a token is refreshed, so no request carries a stale one."""

DEFAULT_TIMEOUT = 60.0
"""Seconds any one network operation (connect, a read, a write) may take. Generous: broad TCIA
queries are slow to start answering."""
DEFAULT_CONNECT_TIMEOUT = 10.0

DEFAULT_DEADLINE = 600.0
"""Seconds one request may take from start to last byte, however steadily the bytes trickle."""
MIN_DOWNLOAD_RATE = 128 * 1024
"""Bytes per second a download is granted beyond the deadline: a series of N bytes may take
``deadline + N / MIN_DOWNLOAD_RATE`` seconds."""

DEFAULT_MAX_RESPONSE_SIZE = 1 << 30
"""Bytes a query's body may grow to once decoded (1 GiB: an unfiltered getSeries of the whole
archive is about 0.9 GB). Downloads are bounded by what getSeriesSize announced instead."""

DEFAULT_MAX_RETRIES = 3
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 60.0
"""A server's Retry-After is honoured up to this many seconds; longer waits are not retried."""
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

MAX_REDIRECTS = 10
ACCEPT_ENCODING = "gzip, deflate"
"""What we can decode with a bound on the output; anything else the server sends is refused."""

EXCERPT_LENGTH = 200
"""Characters of a response body an error keeps."""

DOWNLOAD_CHUNK = 1 << 20
"""Bytes per read of a series' ZIP: large reads keep the per-chunk overhead low."""
DEFAULT_CONCURRENCY = 4
"""Series downloaded at a time."""
MAX_UID_LENGTH = 64
"""DICOM PS3.5 9.1: a UID is at most 64 characters."""
