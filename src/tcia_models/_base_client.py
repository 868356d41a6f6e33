"""The core both clients share: request building, retry decisions, response handling.

Nothing here does I/O. ``TCIAClient`` and ``AsyncTCIAClient`` add only the transport (and the
sleeping between retries), as httpx's own ``Client`` and ``AsyncClient`` do.
"""

from __future__ import annotations

import datetime
import logging
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from ._constants import (
    API_KEY_ENV,
    API_KEY_HEADER,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
    RETRYABLE_STATUSES,
)
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InvalidParameterError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TCIAError,
    excerpt,
)
from ._specs import ModelT, QuerySpec, TabularFormat
from .parsing import parse

__all__ = ["ClientCore", "PreparedRequest"]

log = logging.getLogger("tcia_models")


@dataclass(frozen=True)
class PreparedRequest:
    """One request as data: what to send, never how."""

    query: str
    params: Mapping[str, str]
    format: str

    @property
    def path(self) -> str:
        return self.query


def _wire_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


class ClientCore:
    def __init__(self, *, base_url: str | None, api_key: str | None, max_retries: int) -> None:
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip(
            "/"
        ) + "/"
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self._api_key = key or None
        if max_retries < 0:
            raise InvalidParameterError(f"max_retries must be 0 or more, not {max_retries}")
        self.max_retries = max_retries

    @property
    def headers(self) -> dict[str, str]:
        """Per-request headers: the API key travels here, never in the URL."""
        return {API_KEY_HEADER: self._api_key} if self._api_key else {}

    def redact(self, text: str) -> str:
        """``text`` with the API key blanked out, should a server ever echo it."""
        return text.replace(self._api_key, "***") if self._api_key else text

    # Building -------------------------------------------------------------------------------

    def prepare(
        self, spec: QuerySpec[Any], arguments: Mapping[str, object], format: str
    ) -> PreparedRequest:
        missing = [p for p in spec.required if arguments.get(p.name) in (None, "")]
        if missing:
            names = ", ".join(p.python_name for p in missing)
            raise InvalidParameterError(
                f"{spec.method_name}() needs {names} ({spec.name} requires "
                f"{', '.join(p.name for p in missing)}); nothing was sent",
                query=spec.name,
            )
        if spec.model is not None and format not in spec.formats:
            offered = ", ".join(repr(f) for f in spec.formats if f in ("json", "csv", "xml"))
            raise InvalidParameterError(
                f"{spec.method_name}() cannot return format={format!r}; use one of {offered}",
                query=spec.name,
            )
        params = {
            name: _wire_value(value) for name, value in arguments.items() if value is not None
        }
        if spec.model is not None:
            params["format"] = format
        return PreparedRequest(spec.name, params, format)

    def prepare_raw(
        self, query: str, params: Mapping[str, object], format: str | None
    ) -> PreparedRequest:
        wire = {name: _wire_value(value) for name, value in params.items() if value is not None}
        if format is not None:
            wire["format"] = format
        return PreparedRequest(query, wire, format or "")

    # Retrying -------------------------------------------------------------------------------

    def retry_delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or ``None`` to give up.

        Retries 408, 429, 5xx and transport errors (``response`` is ``None``), with exponential
        backoff and jitter, honouring a server's Retry-After up to ``MAX_RETRY_AFTER``.
        """
        if attempt >= self.max_retries:
            return None
        if response is not None and response.status_code not in RETRYABLE_STATUSES:
            return None
        retry_after = _retry_after(response) if response is not None else None
        if retry_after is not None:
            return retry_after if retry_after <= MAX_RETRY_AFTER else None
        backoff = min(INITIAL_RETRY_DELAY * 2.0**attempt, MAX_RETRY_DELAY)
        return backoff * (1 - 0.25 * random.random())  # noqa: S311 (jitter, not security)

    def log_retry(self, request: PreparedRequest, reason: str, delay: float, attempt: int) -> None:
        log.info(
            "%s: %s; retrying in %.2f s (retry %d of %d)",
            request.query,
            reason,
            delay,
            attempt + 1,
            self.max_retries,
        )

    # Responses ------------------------------------------------------------------------------

    def status_error(self, request: PreparedRequest, response: httpx.Response) -> APIStatusError:
        status = response.status_code
        body = self.redact(excerpt(response.content))
        shown = f": {body!r}" if body else ""
        query = request.query
        retried = f" after {self.max_retries} retries" if self.max_retries else ""
        error_type: type[APIStatusError]
        if status == 400:
            error_type, advice = (
                BadRequestError,
                "check the parameters against the query's metadata",
            )
        elif status in (401, 403):
            error_type = AuthenticationError
            advice = (
                "pass a valid api_key (or set TCIA_API_KEY)"
                if self._api_key is None
                else ("the API key was refused: check it, and that it may read this data")
            )
        elif status == 404:
            error_type, advice = NotFoundError, f"the server has no query {query}: check base_url"
        elif status == 429:
            error_type, advice = RateLimitError, f"rate limited{retried}: wait and try again"
        elif status >= 500:
            error_type, advice = ServerError, f"the server failed{retried}: try again later"
        else:
            error_type, advice = APIStatusError, "unexpected status"
        return error_type(
            f"{query}: HTTP {status}{shown}. {advice[0].upper()}{advice[1:]}.",
            query=query,
            status=status,
            body=body,
        )

    def connection_error(
        self, request: PreparedRequest, error: httpx.TransportError
    ) -> APIConnectionError:
        retried = f" after {self.max_retries} retries" if self.max_retries else ""
        if isinstance(error, httpx.TimeoutException):
            return APITimeoutError(
                f"{request.query}: the server did not answer in time{retried} "
                f"({type(error).__name__}); raise timeout= or try again later",
                query=request.query,
            )
        return APIConnectionError(
            f"{request.query}: could not talk to {self.base_url}{retried} "
            f"({type(error).__name__}); check base_url and your network",
            query=request.query,
        )

    def rows(
        self, spec: QuerySpec[ModelT], request: PreparedRequest, content: bytes
    ) -> list[ModelT]:
        assert spec.model is not None
        return parse(spec.model, content, _tabular(request.format), query=spec.name)

    def one(self, spec: QuerySpec[ModelT], request: PreparedRequest, content: bytes) -> ModelT:
        rows = self.rows(spec, request, content)
        if not rows:
            described = ", ".join(f"{k}={v}" for k, v in request.params.items() if k != "format")
            raise NotFoundError(
                f"{spec.name}: no result for {described}: check the identifiers "
                "(e.g. with get_series)",
                query=spec.name,
                status=200,
            )
        return rows[0]


def _tabular(format: str) -> TabularFormat:
    if format == "csv":
        return "csv"
    if format == "xml":
        return "xml"
    return "json"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def ensure_tcia_error(error: BaseException, uid: str) -> TCIAError:
    """Any failure of one series in ``download_many``, as a ``TCIAError``."""
    if isinstance(error, TCIAError):
        return error
    from ._exceptions import DownloadError

    return DownloadError(f"{uid}: {type(error).__name__}: {error}", series_instance_uid=uid)
