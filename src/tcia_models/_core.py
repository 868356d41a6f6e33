"""The core both clients share: configuration, requests, and every decision about a response.

Nothing here does I/O. The one hand-written client (``_async/client.py``, from which
``_sync/client.py`` is generated) sends what this prepares and does what it decides: retry,
follow a redirect, log in again, read the body, or raise the error it built.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from ._auth import Credentials, TokenState
from ._body import BodyLimit
from ._constants import (
    ACCEPT_ENCODING,
    API_ENV,
    BASE_URL_ENV,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_DEADLINE,
    DEFAULT_MAX_RESPONSE_SIZE,
    DEFAULT_TIMEOUT,
    MAX_REDIRECTS,
    MIN_DOWNLOAD_RATE,
    SERVER_ENV,
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
from ._generated import DEFAULT_API, DEFAULT_SERVER, GENERATIONS, QUERIES, SERVERS
from ._request import PreparedRequest, RequestBuilder, display_url, parse_base_url
from ._retry import RetryPolicy
from ._specs import ApiGeneration, ApiServer, HttpMethod, ModelT, QuerySpec
from .parsing import parse_rows

__all__ = ["ClientCore", "ClientIdentity", "Receive", "Redirect", "Relogin", "Retry", "Step"]

log = logging.getLogger("tcia_models")

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NOT_GRANTED = "has not been granted the access"
ERROR_BODY_LIMIT = 64 * 1024
"""Bytes of an error response that are read (for its excerpt); the rest is never fetched."""


@dataclass(frozen=True)
class Receive:
    """A success: read the body."""


@dataclass(frozen=True)
class Redirect:
    request: PreparedRequest


@dataclass(frozen=True)
class Relogin:
    """A 401 with a token: the token may have expired on the server's clock."""


@dataclass(frozen=True)
class Retry:
    delay: float
    reason: str
    error: TCIAError
    """What to raise should the deadline not leave room for the retry."""


Step = Receive | Redirect | Relogin | Retry

Hashes = Literal["required", "if listed", "none"]


def _server(name: str, api: str) -> ApiServer:
    server = SERVERS.get(name)
    if server is None:
        known = ", ".join(map(repr, SERVERS))
        raise InvalidParameterError(f"server={name!r} is not one of {known}")
    if api not in server.generations:
        offered = ", ".join(repr(g) for g in server.generations)
        raise InvalidParameterError(
            f"server={name!r} does not serve api={api!r}; it serves {offered}"
        )
    return server


def _timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    config = (
        timeout
        if isinstance(timeout, httpx.Timeout)
        else httpx.Timeout(timeout, connect=min(timeout, DEFAULT_CONNECT_TIMEOUT))
    )
    values = (config.connect, config.read, config.write, config.pool)
    if any(value is not None and not value > 0 for value in values):
        raise InvalidParameterError(f"timeout must be more than 0 seconds, not {timeout!r}")
    return config


class ClientCore:
    """One client's configuration, and the decisions it makes (sans-I/O)."""

    def __init__(
        self,
        *,
        api: str | None,
        base_url: str | None,
        server: str | None = None,
        api_key: str | None,
        username: str | None,
        password: str | None,
        max_retries: int,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        name = api or os.environ.get(API_ENV) or DEFAULT_API
        if name not in GENERATIONS:
            raise InvalidParameterError(
                f"api={name!r} is not one of {', '.join(map(repr, GENERATIONS))}"
            )
        if isinstance(max_retries, bool) or max_retries < 0:
            raise InvalidParameterError(f"max_retries must be 0 or more, not {max_retries!r}")
        if not deadline > 0:
            raise InvalidParameterError(f"deadline must be more than 0 seconds, not {deadline!r}")
        if isinstance(max_response_size, bool) or max_response_size <= 0:
            raise InvalidParameterError(
                f"max_response_size must be a positive number of bytes, not {max_response_size!r}"
            )
        self.generation: ApiGeneration = GENERATIONS[name]
        self.timeout = _timeout(timeout)
        self.deadline = float(deadline)
        self.max_response_size = max_response_size
        self.server = _server(server or os.environ.get(SERVER_ENV) or DEFAULT_SERVER, name)
        self.base = parse_base_url(
            base_url or os.environ.get(BASE_URL_ENV) or self.server_base_url()
        )
        self.base_url = str(self.base)
        self.credentials = Credentials(
            self.generation, self.base, api_key=api_key, username=username, password=password
        )
        self.builder = RequestBuilder(self.generation, self.base)
        self.retry = RetryPolicy(max_retries)

    @property
    def api(self) -> str:
        return self.generation.name

    def server_base_url(self) -> str:
        """The generation's base URL on the chosen server (NLST: the same path, its own host)."""
        if self.server.origin is None:
            return self.generation.base_url
        path = httpx.URL(self.generation.base_url).path
        return self.server.origin + path

    @property
    def token(self) -> TokenState | None:
        return self.credentials.token

    # Building -------------------------------------------------------------------------------

    def prepare(
        self, spec: QuerySpec[Any], arguments: Mapping[str, object], format: str
    ) -> PreparedRequest:
        return self.builder.prepare(spec, arguments, format)

    def prepare_all(
        self, spec: QuerySpec[Any], arguments: Mapping[str, object], format: str
    ) -> list[PreparedRequest]:
        return self.builder.prepare_all(spec, arguments, format)

    def prepare_raw(
        self,
        query: str,
        params: Mapping[str, object] | None,
        format: str | None,
        method: HttpMethod = "GET",
    ) -> PreparedRequest:
        return self.builder.prepare_raw(query, params or {}, format, method)

    def archive_request(
        self, series_instance_uid: str, *, verify_md5: bool, new_file_names: bool = False
    ) -> tuple[PreparedRequest, Hashes]:
        """The request for a series' ZIP, and what MD5 hashes it brings to check.

        Where the generation offers getImageWithMD5Hash, that query: every image is verified
        (``"required"``). The archive's own file names (``NewFileNames=Yes``) come only from
        getImage, which is asked to include its hashes too (``IncludeMD5=Yes``, NBIA v4): they
        are checked when it does (``"if listed"``). Otherwise nothing is hashed (``"none"``).
        """
        plain = QUERIES["getImage"]
        arguments: dict[str, object] = {"SeriesInstanceUID": series_instance_uid}
        if new_file_names:
            arguments["NewFileNames"] = "Yes"
            if verify_md5:
                arguments["IncludeMD5"] = "Yes"
            return self.prepare(plain, arguments, "zip"), "if listed" if verify_md5 else "none"
        hashed = QUERIES.get("getImageWithMD5Hash")
        if verify_md5 and hashed is not None and hashed.wire(self.api) is not None:
            return self.prepare(hashed, arguments, "zip"), "required"
        return self.prepare(plain, arguments, "zip"), "none"

    def headers_for(self, request: PreparedRequest) -> dict[str, str]:
        return {"Accept-Encoding": ACCEPT_ENCODING, **self.credentials.headers_for(request.url)}

    def limit(self, request: PreparedRequest, *, expected_bytes: int | None = None) -> BodyLimit:
        """The bound on one request's body: ``max_response_size``, or for a download what was
        announced (the caller adds the slack); and the deadline, longer for a large download."""
        if expected_bytes is None:
            return BodyLimit(
                self.max_response_size,
                time.monotonic() + self.deadline,
                query=request.query,
                hint="raise max_response_size=, or narrow the query",
            )
        return BodyLimit(
            expected_bytes,
            time.monotonic() + self.deadline + expected_bytes / MIN_DOWNLOAD_RATE,
            query=request.query,
            hint="the server sent more than the series' size allows; report the series",
        )

    # Deciding -------------------------------------------------------------------------------

    def after_response(
        self,
        request: PreparedRequest,
        response: httpx.Response,
        body: bytes,
        *,
        attempt: int,
        relogged: bool,
        redirects: int,
    ) -> Step:
        """What to do with a response whose headers (and, unless it is a success or a
        redirect, first ``ERROR_BODY_LIMIT`` bytes) have arrived. Raises the error to give."""
        status = response.status_code
        if 200 <= status < 300:
            return Receive()
        if status in _REDIRECTS and "location" in response.headers:
            return Redirect(self.redirect(request, response, redirects))
        if status == 401 and self.credentials.token is not None and not relogged:
            self.credentials.token.invalidate()
            return Relogin()
        error = self.status_error(request, status, body)
        delay = self.retry.delay(attempt, status, response.headers)
        if delay is None:
            raise error
        return Retry(delay, f"HTTP {status}", error)

    def after_transport_error(
        self, request: PreparedRequest, error: httpx.TransportError, attempt: int
    ) -> Retry:
        failure = self.connection_error(request, error)
        delay = self.retry.delay(attempt, None)
        if delay is None:
            raise failure
        return Retry(delay, type(error).__name__, failure)

    def redirect(
        self, request: PreparedRequest, response: httpx.Response, redirects: int
    ) -> PreparedRequest:
        """The request after a redirect: only http(s), at most ``MAX_REDIRECTS`` of them, never
        for a request whose body holds secrets. Credentials are re-decided per hop, so they
        never go to another origin."""
        status = response.status_code
        where = response.headers["location"]
        if not request.follow_redirects:
            raise AuthenticationError(
                f"{request.query}: HTTP {status}: the server redirected the login elsewhere "
                f"({display_url(where) if _parses(where) else 'an invalid URL'}); the "
                "credentials were not sent there. Check base_url.",
                query=request.query,
                status=status,
            )
        if redirects >= MAX_REDIRECTS:
            raise APIStatusError(
                f"{request.query}: HTTP {status}: redirected more than {MAX_REDIRECTS} times (a "
                "redirect loop?); check base_url",
                query=request.query,
                status=status,
            )
        target = _join(request.url, where)
        if target is None or target.scheme not in ("http", "https") or not target.host:
            raise APIStatusError(
                f"{request.query}: HTTP {status}: the server redirected to something that is "
                "not an http(s) URL; check base_url",
                query=request.query,
                status=status,
            )
        return request.redirected(str(target), keep_method=status in (307, 308))

    def log_retry(self, request: PreparedRequest, step: Retry, attempt: int) -> None:
        log.info(
            "%s: %s; retrying in %.2f s (retry %d of %d)",
            request.query,
            step.reason,
            step.delay,
            attempt + 1,
            self.retry.max_retries,
        )

    # Errors ---------------------------------------------------------------------------------

    def excerpt(self, body: bytes | bytearray | str) -> str:
        return excerpt(body, self.redact)

    def redact(self, text: str) -> str:
        return self.credentials.redact(text)

    def status_error(self, request: PreparedRequest, status: int, body: bytes) -> APIStatusError:
        shown_body = self.excerpt(body)
        shown = f": {shown_body!r}" if shown_body else ""
        query = request.query
        retried = self.retry.after()
        error_type: type[APIStatusError]
        if status == 400 and _NOT_GRANTED in shown_body:
            # NBIA v4 answers an unknown (or not public) series with 400 and this text.
            error_type, advice = (
                NotFoundError,
                "no such public series here: check the SeriesInstanceUID (NLST's series are "
                "on server='nlst')",
            )
        elif status == 400:
            error_type, advice = (
                BadRequestError,
                "check the parameters against the query's metadata",
            )
        elif status in (401, 403):
            error_type, advice = AuthenticationError, self._auth_advice()
        elif status == 404:
            error_type, advice = NotFoundError, f"the server has no query {query}: check base_url"
        elif status == 429:
            error_type, advice = RateLimitError, f"rate limited{retried}: wait and try again"
        elif status >= 500:
            error_type, advice = ServerError, f"the server failed{retried}: try again later"
        else:
            error_type, advice = APIStatusError, "unexpected status: check base_url and api"
        return error_type(
            f"{query}: HTTP {status}{shown}. {advice[0].upper()}{advice[1:]}.",
            query=query,
            status=status,
            body=shown_body,
        )

    def _auth_advice(self) -> str:
        auth = self.generation.auth
        if auth == "oauth":
            return "the login was refused: check username and password"
        if auth == "none":
            return (
                f"api={self.api!r} needs no key, yet the server wants one: check base_url and "
                "api (the original API is api='bindaas')"
            )
        if self.credentials.api_key is None:
            return "pass a valid api_key (or set TCIA_API_KEY)"
        return "the API key was refused: check it, and that it may read this data"

    def connection_error(
        self, request: PreparedRequest, error: httpx.TransportError
    ) -> APIConnectionError:
        retried = self.retry.after()
        if isinstance(error, httpx.TimeoutException):
            return APITimeoutError(
                f"{request.query}: the server did not answer in time{retried} "
                f"({type(error).__name__}); raise timeout= or try again later",
                query=request.query,
            )
        return APIConnectionError(
            f"{request.query}: could not talk to {display_url(self.base_url)}{retried} "
            f"({type(error).__name__}); check base_url and your network",
            query=request.query,
        )

    def deadline_error(self, request: PreparedRequest, cause: TCIAError) -> APITimeoutError:
        return APITimeoutError(
            f"{request.query}: gave up at the deadline ({self.deadline:g} s) while retrying: "
            f"{cause.message}",
            query=request.query,
            status=cause.status,
            body=cause.body,
        )

    # Responses ------------------------------------------------------------------------------

    def rows(
        self, spec: QuerySpec[ModelT], request: PreparedRequest, content: bytes | bytearray
    ) -> list[ModelT]:
        assert spec.model is not None
        wire = spec.wire(self.api)
        return parse_rows(
            spec.model,
            content,
            request.format,
            query=spec.name,
            redact=self.redact,
            rows_key=wire.rows if wire is not None else None,
        )

    def one(
        self, spec: QuerySpec[ModelT], request: PreparedRequest, content: bytes | bytearray
    ) -> ModelT:
        rows = self.rows(spec, request, content)
        if not rows:
            raise NotFoundError(
                f"{spec.name}: no result for {request.describe()}: check the identifiers "
                "(e.g. with get_series)",
                query=spec.name,
            )
        return rows[0]


def _join(base: str, location: str) -> httpx.URL | None:
    """Where a Location header points, or ``None`` when it is no URL (or an absolute one
    without a host, such as ``http://``)."""
    try:
        given = httpx.URL(location)
        if given.scheme and not given.host:
            return None
        return httpx.URL(base).join(location)
    except (httpx.InvalidURL, ValueError, TypeError):
        return None


def _parses(url: str) -> bool:
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return False
    return True


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

    @property
    def server(self) -> str:
        """The host this client speaks to by default (``tcia``, or ``nlst`` for NLST's own)."""
        return self._core.server.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api={self.api!r}, base_url={display_url(self.base_url)!r})"
