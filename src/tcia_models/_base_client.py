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
    API_ENV,
    API_KEY_ENV,
    API_KEY_HEADER,
    BASE_URL_ENV,
    INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
    RETRYABLE_STATUSES,
    TOKEN_REFRESH_MARGIN,
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
from ._generated import DEFAULT_API, GENERATIONS, QUERIES
from ._specs import ModelT, QuerySpec, TabularFormat
from .parsing import parse

__all__ = ["ClientCore", "ClientIdentity", "PreparedRequest", "TokenState"]

log = logging.getLogger("tcia_models")


@dataclass(frozen=True)
class PreparedRequest:
    """One request as data: what to send, never how."""

    query: str
    url: str
    params: Mapping[str, str]
    format: str


def _wire_value(value: object, date_format: str | None = None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.strftime(date_format) if date_format else value.isoformat()
    return str(value)


class ClientCore:
    def __init__(
        self,
        *,
        api: str | None,
        base_url: str | None,
        api_key: str | None,
        username: str | None = None,
        password: str | None = None,
        max_retries: int,
    ) -> None:
        name = api or os.environ.get(API_ENV) or DEFAULT_API
        if name not in GENERATIONS:
            raise InvalidParameterError(
                f"api={name!r} is not one of {', '.join(map(repr, GENERATIONS))}"
            )
        self.generation = GENERATIONS[name]
        self.base_url = (
            base_url or os.environ.get(BASE_URL_ENV) or self.generation.base_url
        ).rstrip("/") + "/"
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self._api_key = key or None
        if max_retries < 0:
            raise InvalidParameterError(f"max_retries must be 0 or more, not {max_retries}")
        self.max_retries = max_retries
        self.token = (
            TokenState(self, username, password) if self.generation.auth == "oauth" else None
        )

    @property
    def api(self) -> str:
        return self.generation.name

    @property
    def headers(self) -> dict[str, str]:
        """Per-request headers: the key or token travels here, never in the URL."""
        if self.generation.auth == "api_key" and self._api_key:
            return {API_KEY_HEADER: self._api_key}
        if self.token is not None and self.token.access_token:
            return {"Authorization": f"Bearer {self.token.access_token}"}
        return {}

    def redact(self, text: str) -> str:
        """``text`` with every secret blanked out, should a server ever echo one."""
        secrets = [self._api_key, *(self.token.secrets() if self.token else [])]
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def url(self, path: str) -> str:
        return str(httpx.URL(self.base_url).join(path))

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
        wire = spec.wire(self.api)
        if wire is None:
            offered = ", ".join(repr(g.api) for g in spec.generations)
            raise InvalidParameterError(
                f"{spec.method_name}(): api={self.api!r} has no {spec.name}; it is offered by "
                f"{offered} (TCIAClient(api=...))",
                query=spec.name,
            )
        params: dict[str, str] = {}
        for name, value in arguments.items():
            if value is None:
                continue
            spelling = wire.parameter(name)
            wire_name = spelling.wire_name if spelling else name
            params[wire_name] = _wire_value(value, spelling.date_format if spelling else None)
        if spec.model is not None:
            params["format"] = format
        return PreparedRequest(spec.name, self.url(wire.path), params, format)

    def prepare_raw(
        self, query: str, params: Mapping[str, object], format: str | None
    ) -> PreparedRequest:
        wire = {name: _wire_value(value) for name, value in params.items() if value is not None}
        if format is not None:
            wire["format"] = format
        return PreparedRequest(query, self.url(query), wire, format or "")

    def archive_request(
        self, series_instance_uid: str, *, verify_md5: bool
    ) -> tuple[PreparedRequest, bool]:
        """The request for a series' ZIP, and whether it carries MD5 hashes to check: where the
        generation offers getImageWithMD5Hash, that query, so every image is verified."""
        hashed = QUERIES.get("getImageWithMD5Hash")
        use_hashes = verify_md5 and hashed is not None and hashed.wire(self.api) is not None
        spec = hashed if use_hashes and hashed is not None else QUERIES["getImage"]
        return self.prepare(spec, {"SeriesInstanceUID": series_instance_uid}, "zip"), use_hashes

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
            if self.generation.auth == "oauth":
                advice = "the login was refused: check username and password"
            elif self.generation.auth == "none":
                advice = (
                    f"api={self.api!r} needs no key, yet the server wants one: "
                    "check base_url and api (the original API is api='bindaas')"
                )
            elif self._api_key is None:
                advice = "pass a valid api_key (or set TCIA_API_KEY)"
            else:
                advice = "the API key was refused: check it, and that it may read this data"
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


class ClientIdentity:
    """What both clients show of themselves: never a key, a token or a password."""

    _core: ClientCore

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def api(self) -> str:
        """The API generation this client speaks (``nbia-v4``, ``bindaas``, ...)."""
        return self._core.api

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api={self.api!r}, base_url={self.base_url!r})"


class TokenState:
    """An OAuth token (NBIA v2), refreshed before it expires. Sans-I/O: the clients send the
    requests it prepares, one at a time under their own lock."""

    def __init__(self, core: ClientCore, username: str | None, password: str | None) -> None:
        generation = core.generation
        self._core = core
        self._username = (
            username or os.environ.get("TCIA_USERNAME") or generation.guest_username or ""
        )
        given_password = password if password is not None else os.environ.get("TCIA_PASSWORD")
        self._password = (
            given_password if given_password is not None else generation.guest_password or ""
        )
        self.access_token: str | None = None
        self._refresh_token: str | None = None
        self._expires_at = 0.0

    def fresh(self, now: float) -> bool:
        return self.access_token is not None and now < self._expires_at - TOKEN_REFRESH_MARGIN

    def secrets(self) -> list[str]:
        return [s for s in (self.access_token, self._refresh_token, self._password) if s]

    def invalidate(self) -> None:
        self.access_token = None

    def request(self) -> tuple[str, dict[str, str]]:
        """The token endpoint and the form to post: a refresh when possible, else a login."""
        generation = self._core.generation
        url = self._core.url(generation.token_path or "oauth/token")
        form = {"client_id": generation.client_id or ""}
        if self._refresh_token:
            form |= {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        else:
            form |= {
                "grant_type": "password",
                "username": self._username,
                "password": self._password,
            }
        return url, form

    def accept(self, response: httpx.Response, now: float) -> None:
        if response.status_code != 200:
            refreshing = self._refresh_token is not None
            self._refresh_token = None
            if refreshing:
                return  # the refresh token has expired: log in again
            raise AuthenticationError(
                f"NBIA login as {self._username!r} was refused (HTTP {response.status_code}); "
                "check username and password (TCIA_USERNAME, TCIA_PASSWORD)",
                query="oauth/token",
                status=response.status_code,
            )
        try:
            data = response.json()
            self.access_token = str(data["access_token"])
            self._expires_at = now + float(data.get("expires_in") or 0)
            self._refresh_token = data.get("refresh_token") or None
        except (ValueError, KeyError, TypeError):
            raise AuthenticationError(
                "the token endpoint answered without an access_token", query="oauth/token"
            ) from None

    def __repr__(self) -> str:
        return f"TokenState(username={self._username!r})"


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
