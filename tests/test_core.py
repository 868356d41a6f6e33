"""The sans-I/O core and both clients' drivers over ``httpx.MockTransport``: no server, no sleep.

Table-driven and fast (``make mutation`` runs these against every mutant of the core modules):
``Retry-After`` in both forms, the status -> error mapping, OAuth login, refresh and re-login,
and the bytes of a download against what getSeriesSize announced.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import io
import json
import logging
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from tcia_models import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncTCIAClient,
    AuthenticationError,
    BadRequestError,
    DownloadError,
    InvalidParameterError,
    NotFoundError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    TCIAClient,
    TCIAError,
)
from tcia_models._backends import asyncio_backend, thread_backend
from tcia_models._retry import RetryPolicy, retry_after_seconds

BASE = "https://tcia.test/query"
V2 = "https://tcia.test/nbia-api/services/v2"
TOKEN_URL = "https://tcia.test/nbia-api/oauth/token"
KEY = "core-test-key-0123456789"
UID = "1.2.3.4"
KINDS = ["sync", "async"]
NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)

Handler = Callable[[httpx.Request], httpx.Response]


class Script:
    """A MockTransport handler that answers from a list (the last answer repeats) and records
    every request; it refuses to answer more than ``limit`` times (a loop in the client)."""

    def __init__(self, *answers: httpx.Response | Handler, limit: int = 30) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.limit = limit

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert len(self.requests) <= self.limit, "the client does not stop asking"
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return streamed(answer(request) if callable(answer) else answer)

    @property
    def paths(self) -> list[str]:
        return [r.url.path.rsplit("/", 1)[-1] for r in self.requests]


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that streams as a network's does (httpx reads a ``content=`` body at once, and
    its raw bytes can then not be streamed)."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    def __iter__(self) -> Iterator[bytes]:
        yield self.content

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.content


def streamed(response: httpx.Response) -> httpx.Response:
    """A fresh copy of ``response`` with a streaming body (each answer may be given again)."""
    if not isinstance(response.stream, httpx.ByteStream):
        return response
    return httpx.Response(
        response.status_code, headers=response.headers, stream=Body(b"".join(response.stream))
    )


def run(kind: str, handler: Handler, call: Callable[[Any], Any], **options: Any) -> Any:
    """``call(client)`` with a sync or an async client whose transport is ``handler``."""
    options.setdefault("api", "bindaas")
    options.setdefault("base_url", BASE if options["api"] == "bindaas" else V2)
    transport = httpx.MockTransport(handler)
    if kind == "sync":
        with TCIAClient(http_client=httpx.Client(transport=transport), **options) as client:
            return call(client)

    async def main() -> Any:
        http = httpx.AsyncClient(transport=transport)
        async with AsyncTCIAClient(http_client=http, **options) as client:
            return await call(client)

    return asyncio.run(main())


def fails(kind: str, handler: Handler, call: Callable[[Any], Any], **options: Any) -> TCIAError:
    with pytest.raises(TCIAError) as raised:
        run(kind, handler, call, **options)
    return raised.value


@pytest.fixture(autouse=True)
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every sleep of either client, recorded instead of slept."""
    seconds: list[float] = []

    async def async_sleep(delay: float) -> None:
        seconds.append(delay)

    def sync_sleep(delay: float) -> None:
        seconds.append(delay)

    monkeypatch.setattr(asyncio_backend, "sleep", async_sleep)
    monkeypatch.setattr(thread_backend, "sleep", sync_sleep)
    return seconds


def collections(client: Any) -> Any:
    return client.get_collection_values()


OK = httpx.Response(200, json=[{"Collection": "TCGA-GBM"}])


# Retry-After ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("5", 5.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("2.5", 2.5),
        ("-3", 0.0),
        ("nan", None),
        ("soon", None),
        ("", None),
        ("Fri, 02 Jan 2026 03:04:35 GMT", 30.0),  # an HTTP date, GMT
        ("Fri, 02 Jan 2026 03:04:35", 30.0),  # no zone: UTC, as HTTP dates are
        ("Fri, 02 Jan 2026 03:04:35 -0000", 30.0),
        ("Fri, 02 Jan 2026 04:04:35 +0100", 30.0),  # another zone, the same instant
        ("Fri, 02 Jan 2026 03:03:00 GMT", 0.0),  # already past
        ("Fri, 02 Jan 2026 03:05:05 GMT", 60.0),
        ("Fri, 32 Foo 2026 99:99:99 GMT", None),
    ],
)
def test_retry_after_as_seconds_or_an_http_date(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, NOW) == seconds


@pytest.mark.parametrize(
    ("attempt", "status", "headers", "jitter", "delay"),
    [
        (0, 503, {}, 0.0, 0.5),
        (1, 503, {}, 0.0, 1.0),
        (2, 500, {}, 0.0, 2.0),
        (4, 502, {}, 0.0, 8.0),
        (5, 504, {}, 0.0, 8.0),  # capped at MAX_RETRY_DELAY
        (0, 503, {}, 1.0, 0.375),  # jitter takes up to a quarter off
        (1, None, None, 0.5, 0.875),  # a transport error
        (0, 408, {}, 0.0, 0.5),
        (0, 429, {"retry-after": "3"}, 0.0, 3.0),
        (0, 429, {"retry-after": "0"}, 0.0, 0.0),
        (0, 429, {"retry-after": "60"}, 0.0, 60.0),  # the cap itself is waited for
        (0, 429, {"retry-after": "61"}, 0.0, None),  # past the cap: not retried
        (0, 503, {"retry-after": "Fri, 02 Jan 2026 03:04:15 GMT"}, 0.0, 10.0),
        (0, 503, {"retry-after": "Fri, 02 Jan 2026 03:05:06 GMT"}, 0.0, None),
        (0, 429, {"retry-after": "later"}, 0.0, 0.5),  # not a value: backoff
        (0, 400, {}, 0.0, None),
        (0, 404, {"retry-after": "1"}, 0.0, None),
        (0, 501, {}, 0.0, None),
        (2, 503, {}, 0.0, 2.0),
        (9, 503, {}, 0.0, 8.0),
        (10, 503, {}, 0.0, None),  # max_retries=10 spent
    ],
)
def test_retry_policy(
    attempt: int, status: int | None, headers: Any, jitter: float, delay: float | None
) -> None:
    policy = RetryPolicy(10, jitter=lambda: jitter, now=lambda: NOW)
    assert policy.delay(attempt, status, headers) == delay


def test_retry_policy_words() -> None:
    assert RetryPolicy(3).after() == " after 3 retries"
    assert RetryPolicy(0).after() == ""
    assert RetryPolicy(0).delay(0, 503) is None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("retry_after", "waits"),
    [("2", [2.0]), ("0", [0.0]), ("60", [60.0]), ("61", None), ("3600", None)],
)
def test_clients_wait_what_retry_after_asks_up_to_the_cap(
    kind: str, retry_after: str, waits: list[float] | None, slept: list[float]
) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": retry_after}), OK)
    if waits is None:
        error = fails(kind, script, collections)
        assert type(error) is RateLimitError and error.status == 429
        assert len(script.requests) == 1 and slept == []
    else:
        assert len(run(kind, script, collections)) == 1
        assert slept == waits and len(script.requests) == 2


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("zone", [" GMT", ""])
def test_clients_wait_until_an_http_date(kind: str, zone: str, slept: list[float]) -> None:
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=20)
    value = format_datetime(when, usegmt=True).removesuffix(" GMT") + zone
    run(kind, Script(httpx.Response(503, headers={"Retry-After": value}), OK), collections)
    assert len(slept) == 1 and 18 <= slept[0] <= 20


@pytest.mark.parametrize("kind", KINDS)
def test_backoff_between_retries_then_the_error(
    kind: str, slept: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tcia_models")
    script = Script(httpx.Response(503, text="busy"))
    error = fails(kind, script, collections, api_key=KEY, max_retries=2)
    assert type(error) is ServerError
    assert str(error) == (
        "getCollectionValues: HTTP 503: 'busy'. The server failed after 2 retries: try again later."
    )
    assert len(script.requests) == 3 and len(slept) == 2
    assert 0.375 <= slept[0] <= 0.5 and 0.75 <= slept[1] <= 1.0
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("getCollectionValues: HTTP 503; retrying in ")
    assert messages[0].endswith(" s (retry 1 of 2)") and messages[1].endswith("(retry 2 of 2)")


@pytest.mark.parametrize("kind", KINDS)
def test_a_wait_past_the_deadline_is_not_taken(kind: str, slept: list[float]) -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "30"}, text="slow down"))
    error = fails(kind, script, collections, deadline=10)
    assert type(error) is APITimeoutError and (error.query, error.status) == (
        "getCollectionValues",
        429,
    )
    assert str(error).startswith(
        "getCollectionValues: gave up at the deadline (10 s) while retrying: "
        "getCollectionValues: HTTP 429: 'slow down'. Rate limited after 3 retries"
    )
    assert error.body == "slow down" and slept == [] and len(script.requests) == 1


# Status -> error -----------------------------------------------------------------------------

STATUS_CASES = [
    # status, body, options, error type, the message
    (
        400,
        "bad Collection",
        {"api_key": KEY},
        BadRequestError,
        "getCollectionValues: HTTP 400: 'bad Collection'. Check the parameters against the "
        "query's metadata.",
    ),
    (
        400,
        "user has not been granted the access to 1.2.3",
        {"api_key": KEY},
        NotFoundError,
        "getCollectionValues: HTTP 400: 'user has not been granted the access to 1.2.3'. No "
        "such public series here: check the SeriesInstanceUID (NLST's series are on "
        "server='nlst').",
    ),
    (
        401,
        "",
        {"api_key": KEY},
        AuthenticationError,
        "getCollectionValues: HTTP 401. The API key was refused: check it, and that it may "
        "read this data.",
    ),
    (
        403,
        "no",
        {},
        AuthenticationError,
        "getCollectionValues: HTTP 403: 'no'. Pass a valid api_key (or set TCIA_API_KEY).",
    ),
    (
        401,
        "",
        {"api": "nbia-v1", "base_url": BASE},
        AuthenticationError,
        "getCollectionValues: HTTP 401. Api='nbia-v1' needs no key, yet the server wants one: "
        "check base_url and api (the original API is api='bindaas').",
    ),
    (
        404,
        "",
        {"api_key": KEY},
        NotFoundError,
        "getCollectionValues: HTTP 404. The server has no query getCollectionValues: check "
        "base_url.",
    ),
    (
        408,
        "",
        {"api_key": KEY},
        APIStatusError,
        "getCollectionValues: HTTP 408. Unexpected status: check base_url and api.",
    ),
    (
        418,
        "teapot",
        {"api_key": KEY},
        APIStatusError,
        "getCollectionValues: HTTP 418: 'teapot'. Unexpected status: check base_url and api.",
    ),
    (
        302,
        "",
        {"api_key": KEY},
        APIStatusError,
        "getCollectionValues: HTTP 302. Unexpected status: check base_url and api.",
    ),
    (
        429,
        "",
        {"api_key": KEY},
        RateLimitError,
        "getCollectionValues: HTTP 429. Rate limited: wait and try again.",
    ),
    *(
        (
            status,
            "oops",
            {"api_key": KEY},
            ServerError,
            f"getCollectionValues: HTTP {status}: 'oops'. The server failed: try again later.",
        )
        for status in (500, 501, 502, 503, 504, 599)
    ),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("status", "body", "options", "error_type", "message"),
    STATUS_CASES,
    ids=[f"{case[0]}-{case[3].__name__}-{case[2].get('api', 'bindaas')}" for case in STATUS_CASES],
)
def test_each_status_gives_its_error(
    kind: str,
    status: int,
    body: str,
    options: dict[str, Any],
    error_type: type[TCIAError],
    message: str,
) -> None:
    script = Script(httpx.Response(status, text=body))
    error = fails(kind, script, collections, max_retries=0, **options)
    assert type(error) is error_type
    assert (error.query, error.status, error.body) == ("getCollectionValues", status, body)
    assert str(error) == error.message == message
    assert len(script.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_no_row_is_not_found_without_a_status(kind: str) -> None:
    script = Script(httpx.Response(200, json=[]))
    error = fails(kind, script, lambda c: c.get_series_size(series_instance_uid="1.2.3"))
    assert type(error) is NotFoundError and error.status is None  # never status=200
    assert str(error) == (
        "getSeriesSize: no result for SeriesInstanceUID=1.2.3: check the identifiers "
        "(e.g. with get_series)"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_an_error_page_is_read_only_up_to_its_limit(kind: str) -> None:
    """The excerpt of an error comes from its first 64 KiB; the rest is never fetched."""

    class Endless(httpx.SyncByteStream, httpx.AsyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b"x" * (64 * 1024)
            raise AssertionError("read past the error's limit")

        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"x" * (64 * 1024)
            raise AssertionError("read past the error's limit")

    script = Script(lambda request: httpx.Response(500, stream=Endless()))
    error = fails(kind, script, collections, max_retries=0)
    assert type(error) is ServerError and error.body == "x" * 197 + "..."


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("encoding", "body", "shown"),
    [
        ("gzip", gzip.compress(b"zipped words"), "zipped words"),
        ("br", b"plain words", "plain words"),  # not ours to decode: shown as it came
        ("gzip", b"not gzip at all", ""),  # undecodable: the status still speaks
    ],
)
def test_an_error_page_is_decoded_for_its_excerpt(
    kind: str, encoding: str, body: bytes, shown: str
) -> None:
    response = httpx.Response(500, stream=Body(body), headers={"Content-Encoding": encoding})
    error = fails(kind, Script(response), collections, max_retries=0)
    assert type(error) is ServerError and error.body == shown


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("error", "error_type", "message"),
    [
        (
            httpx.ConnectError("refused"),
            APIConnectionError,
            "getCollectionValues: could not talk to https://tcia.test/query/ after 2 retries "
            "(ConnectError); check base_url and your network",
        ),
        (
            httpx.ReadTimeout("slow"),
            APITimeoutError,
            "getCollectionValues: the server did not answer in time after 2 retries "
            "(ReadTimeout); raise timeout= or try again later",
        ),
    ],
)
def test_transport_errors_are_retried_then_raised(
    kind: str, error: Exception, error_type: type[TCIAError], message: str, slept: list[float]
) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise error

    script = Script(broken)
    raised = fails(kind, script, collections, max_retries=2)
    assert type(raised) is error_type and str(raised) == message
    assert raised.query == "getCollectionValues" and raised.status is None
    assert len(script.requests) == 3 and len(slept) == 2
    script = Script(broken, OK)
    assert len(run(kind, script, collections, max_retries=2)) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_response_past_max_response_size_is_cut_off(kind: str) -> None:
    body = json.dumps([{"Collection": "A"}]).encode()
    assert len(run(kind, Script(httpx.Response(200, content=body)), collections,
                   max_response_size=len(body))) == 1  # fmt: skip
    error = fails(
        kind,
        Script(httpx.Response(200, content=body)),
        collections,
        max_response_size=len(body) - 1,
    )
    assert type(error) is ResponseTooLargeError
    assert str(error).startswith(f"getCollectionValues: the response grew past {len(body) - 1} ")


@pytest.mark.parametrize("kind", KINDS)
def test_a_gzipped_body_is_decoded(kind: str) -> None:
    body = gzip.compress(json.dumps([{"Collection": "A"}, {"Collection": "B"}]).encode())
    response = httpx.Response(200, content=body, headers={"Content-Encoding": "gzip"})
    rows = run(kind, Script(response), collections)
    assert [r.Collection for r in rows] == ["A", "B"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_key_goes_to_our_origin_only(kind: str) -> None:
    script = Script(
        httpx.Response(302, headers={"Location": "https://elsewhere.test/q"}),
        httpx.Response(307, headers={"Location": "https://tcia.test/query/moved"}),
        OK,
    )
    run(kind, script, collections, api_key=KEY)
    sent = [r.headers.get("api_key") for r in script.requests]
    assert sent == [KEY, None, KEY]
    assert [str(r.url) for r in script.requests][1:] == [
        "https://elsewhere.test/q",
        "https://tcia.test/query/moved",
    ]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("ftp://tcia.test/x", "redirected to something that is not an http(s) URL"),
        ("http://", "redirected to something that is not an http(s) URL"),
        ("https://tcia.test/query/loop", "redirected more than 10 times"),
    ],
)
def test_bad_redirects_are_errors(kind: str, location: str, message: str) -> None:
    script = Script(httpx.Response(301, headers={"Location": location}))
    error = fails(kind, script, collections)
    assert type(error) is APIStatusError and message in str(error) and error.status == 301
    assert len(script.requests) == (11 if "loop" in location else 1)


# OAuth ---------------------------------------------------------------------------------------


def token(access: str, expires_in: float = 3600, refresh: str | None = "R1") -> httpx.Response:
    data: dict[str, Any] = {"access_token": access, "expires_in": expires_in}
    if refresh:
        data["refresh_token"] = refresh
    return httpx.Response(200, json=data)


class OAuth:
    """The token endpoint and one query, each answering from its own list."""

    def __init__(self, tokens: list[httpx.Response], queries: list[httpx.Response]) -> None:
        self.tokens = Script(*tokens)
        self.queries = Script(*queries)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            assert request.method == "POST"
            return self.tokens(request)
        return self.queries(request)

    @property
    def grants(self) -> list[str]:
        forms = [parse_qs(r.content.decode()) for r in self.tokens.requests]
        return [form["grant_type"][0] for form in forms]

    @property
    def bearers(self) -> list[str | None]:
        return [r.headers.get("authorization") for r in self.queries.requests]


def twice(client: Any) -> Any:
    if isinstance(client, AsyncTCIAClient):

        async def both() -> Any:
            await client.get_collection_values()
            return await client.get_collection_values()

        return both()
    client.get_collection_values()
    return client.get_collection_values()


@pytest.mark.parametrize("kind", KINDS)
def test_login_then_the_token_is_used_while_fresh(kind: str) -> None:
    server = OAuth([token("A1")], [OK])
    run(kind, server, twice, api="nbia-v2", username="alice", password="pw")
    assert server.grants == ["password"]
    form = parse_qs(server.tokens.requests[0].content.decode())
    assert form == {
        "client_id": ["NBIA"],
        "grant_type": ["password"],
        "username": ["alice"],
        "password": ["pw"],
    }
    assert server.bearers == ["Bearer A1", "Bearer A1"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_token_near_its_expiry_is_refreshed(kind: str) -> None:
    server = OAuth([token("A1", expires_in=59), token("A2", refresh="R2")], [OK])
    run(kind, server, twice, api="nbia-v2")
    assert server.grants == ["password", "refresh_token"]
    refresh = parse_qs(server.tokens.requests[1].content.decode())
    assert refresh == {
        "client_id": ["NBIA"],
        "grant_type": ["refresh_token"],
        "refresh_token": ["R1"],
    }
    assert server.bearers == ["Bearer A1", "Bearer A2"]
    guest = parse_qs(server.tokens.requests[0].content.decode(), keep_blank_values=True)
    assert (guest["username"], guest["password"]) == (["nbia_guest"], [""])


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_refresh_falls_back_to_a_full_login(kind: str) -> None:
    server = OAuth(
        [token("A1", expires_in=30), httpx.Response(400, text="expired"), token("A3")], [OK]
    )
    run(kind, server, twice, api="nbia-v2", username="alice", password="pw")
    assert server.grants == ["password", "refresh_token", "password"]
    assert server.bearers == ["Bearer A1", "Bearer A3"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_login_says_so(kind: str) -> None:
    server = OAuth([httpx.Response(401, text="bad credentials")], [OK])
    error = fails(kind, server, collections, api="nbia-v2", username="alice", password="pw")
    assert type(error) is AuthenticationError and (error.query, error.status) == (
        "oauth/token",
        401,
    )
    assert str(error) == (
        "oauth/token: HTTP 401: the NBIA login as 'alice' was refused. Check username and "
        "password (TCIA_USERNAME, TCIA_PASSWORD)."
    )
    assert server.queries.requests == [] and len(server.tokens.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="not json"),
        httpx.Response(200, json={"token": "x"}),
        httpx.Response(200, json=["A1"]),
        httpx.Response(200, json={"access_token": "caf\u00e9"}),
    ],
    ids=["not-json", "no-access-token", "not-an-object", "not-ascii"],
)
def test_a_token_answer_without_a_token_is_refused(kind: str, answer: httpx.Response) -> None:
    error = fails(kind, OAuth([answer], [OK]), collections, api="nbia-v2")
    assert type(error) is AuthenticationError and error.status == 200
    assert str(error) == (
        "oauth/token: the token endpoint answered without a usable access_token. Check "
        "base_url (it should be NBIA's)."
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_token_without_lifetime_or_refresh_token_is_asked_for_again(kind: str) -> None:
    server = OAuth([token("A1", expires_in=0, refresh=None), token("A2")], [OK])
    run(kind, server, twice, api="nbia-v2")
    assert server.grants == ["password", "password"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_login_that_redirects_is_refused(kind: str) -> None:
    moved = httpx.Response(302, headers={"Location": "https://evil.test/token"})
    server = OAuth([moved], [OK])
    error = fails(kind, server, collections, api="nbia-v2", password="pw")
    assert type(error) is AuthenticationError and error.status == 302
    assert str(error) == (
        "oauth/token: HTTP 302: the server redirected the login elsewhere "
        "(https://evil.test/token); the credentials were not sent there. Check base_url."
    )
    assert len(server.tokens.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_login_that_cannot_connect_is_a_connection_error(kind: str) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down")

    error = fails(kind, down, collections, api="nbia-v2")
    assert type(error) is APIConnectionError and error.query == "oauth/token"


@pytest.mark.parametrize("kind", KINDS)
def test_a_401_logs_in_again_exactly_once(kind: str) -> None:
    server = OAuth([token("A1"), token("A2")], [httpx.Response(401, text="expired token"), OK])
    assert len(run(kind, server, collections, api="nbia-v2")) == 1
    assert server.grants == ["password", "refresh_token"]
    assert server.bearers == ["Bearer A1", "Bearer A2"]

    server = OAuth([token("A1"), token("A2"), token("A3")], [httpx.Response(401, text="no")])
    error = fails(kind, server, collections, api="nbia-v2")
    assert type(error) is AuthenticationError and error.status == 401
    assert str(error) == (
        "getCollectionValues: HTTP 401: 'no'. The login was refused: check username and password."
    )
    assert len(server.queries.requests) == 2 and len(server.tokens.requests) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_a_401_with_a_key_is_not_retried(kind: str) -> None:
    script = Script(httpx.Response(401))
    assert type(fails(kind, script, collections, api_key=KEY)) is AuthenticationError
    assert len(script.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_tokens_and_passwords_are_blanked_out_of_errors(kind: str) -> None:
    server = OAuth([token("ACCESS-abcdef", refresh="REFRESH-123456")], [
        httpx.Response(500, text="ACCESS-abcdef REFRESH-123456 hunter2-pw")
    ])  # fmt: skip
    error = fails(kind, server, collections, api="nbia-v2", password="hunter2-pw", max_retries=0)
    assert error.body == "*** *** ***"


# Downloads: the bytes against getSeriesSize --------------------------------------------------


def archive(*images: bytes, license: bytes | None = b"CC BY 4.0") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        if license is not None:
            zipped.writestr("LICENSE", license)
        for number, image in enumerate(images, 1):
            zipped.writestr(f"{number:08d}.dcm", image)
    return buffer.getvalue()


def series_server(count: int, size: int, body: bytes) -> Script:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/getSeriesSize"):
            assert request.url.params["SeriesInstanceUID"] == UID
            return httpx.Response(200, json=[{"ObjectCount": count, "TotalSizeInBytes": size}])
        assert request.url.path.endswith("/getImage")
        return httpx.Response(200, content=body)

    return Script(answer)


IMAGES = (b"a" * 100, b"b" * 50)


def download(dest: Path) -> Callable[[Any], Any]:
    return lambda client: client.download_series(UID, dest)


@pytest.mark.parametrize("kind", KINDS)
def test_a_download_matching_getseriessize_is_kept(kind: str, tmp_path: Path) -> None:
    script = series_server(2, 150, archive(*IMAGES))
    result = run(kind, script, download(tmp_path))
    assert (result.file_count, result.path, result.skipped) == (2, tmp_path / UID, False)
    assert [p.name for p in result.files] == ["00000001.dcm", "00000002.dcm", "LICENSE"]
    assert result.bytes == 150 + len(b"CC BY 4.0") and not result.md5_verified
    assert (tmp_path / UID / "00000002.dcm").read_bytes() == b"b" * 50
    assert script.paths == ["getSeriesSize", "getImage"]
    again = series_server(2, 150, b"")
    assert run(kind, again, download(tmp_path)).skipped and again.paths == ["getSeriesSize"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("count", "size", "images", "problem"),
    [
        (
            2,
            151,
            IMAGES,
            "the archive holds 2 images of 150 bytes, but getSeriesSize promised 2 of 151",
        ),
        (
            3,
            150,
            IMAGES,
            "the archive holds 2 images of 150 bytes, but getSeriesSize promised 3 of 150",
        ),
        (
            1,
            150,
            IMAGES[:1],
            "the archive holds 1 images of 100 bytes, but getSeriesSize promised 1 of 150",
        ),
        (2, 149, IMAGES, "the archive's images grew past the 149 bytes getSeriesSize announced"),
        (
            1,
            150,
            IMAGES,
            "the archive holds 2 images of 150 bytes, but getSeriesSize promised 1 of 150",
        ),
    ],
    ids=["one-byte-short", "one-image-short", "image-missing", "one-byte-over", "extra-image"],
)
def test_a_download_unlike_getseriessize_is_refused(
    kind: str, tmp_path: Path, count: int, size: int, images: tuple[bytes, ...], problem: str
) -> None:
    error = fails(kind, series_server(count, size, archive(*images)), download(tmp_path))
    assert type(error) is DownloadError and error.series_instance_uid == UID
    assert str(error).startswith(f"{UID}: {problem}")
    assert str(error).endswith("nothing was kept. Try again, and report the series if it persists.")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_download_past_its_raw_bound_is_cut_off(kind: str, tmp_path: Path) -> None:
    # One image of 10 bytes may come in a ZIP of 10 + 2048 + 2 MiB bytes at most.
    error = fails(kind, series_server(1, 10, b"\0" * (3 << 20)), download(tmp_path))
    assert type(error) is ResponseTooLargeError and error.query == "getImage"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# The core's configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"api": "nbia-v9"}, "api='nbia-v9' is not one of 'bindaas', "),
        ({"max_retries": -1}, "max_retries must be 0 or more, not -1"),
        ({"max_retries": True}, "max_retries must be 0 or more, not True"),
        ({"deadline": 0}, "deadline must be more than 0 seconds, not 0"),
        ({"max_response_size": 0}, "max_response_size must be a positive number of bytes, not 0"),
        ({"max_response_size": True}, "max_response_size must be a positive number of bytes"),
        ({"timeout": 0}, "timeout must be more than 0 seconds, not 0"),
        ({"timeout": httpx.Timeout(5, read=-1)}, "timeout must be more than 0 seconds"),
        ({"server": "mars"}, "server='mars' is not one of 'tcia', 'nlst'"),
        (
            {"server": "nlst"},
            "server='nlst' does not serve api='bindaas'; it serves 'nbia-v1', 'nbia-v2'",
        ),
        ({"base_url": "ftp://x/"}, "base_url='ftp://x/' is not an http(s) URL with a host"),
    ],
)
def test_a_wrong_configuration_is_refused(options: dict[str, Any], message: str) -> None:
    options.setdefault("api", "bindaas")
    with pytest.raises(InvalidParameterError) as raised:
        TCIAClient(**options)
    assert str(raised.value).startswith(message)


def test_the_environment_and_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TCIA_API", "TCIA_BASE_URL", "TCIA_SERVER", "TCIA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    client = TCIAClient()
    assert (client.api, client.server) == ("nbia-v4", "tcia")
    assert client._core.timeout == httpx.Timeout(60.0, connect=10.0)
    assert TCIAClient(timeout=4)._core.timeout == httpx.Timeout(4.0, connect=4.0)
    assert client._core.deadline == 600.0 and client._core.retry.max_retries == 3
    monkeypatch.setenv("TCIA_SERVER", "nlst")
    nlst = TCIAClient()
    assert nlst.base_url == "https://nlst.cancerimagingarchive.net/nbia-api/services/v4/"
    assert repr(nlst) == (
        "TCIAClient(api='nbia-v4', base_url='https://nlst.cancerimagingarchive.net/nbia-api/"
        "services/v4/')"
    )
    monkeypatch.setenv("TCIA_API", "bindaas")
    monkeypatch.setenv("TCIA_SERVER", "tcia")
    monkeypatch.setenv("TCIA_BASE_URL", "http://user:pw@localhost:9/q")
    local = TCIAClient()
    assert local.api == "bindaas" and local.server == "tcia"
    assert repr(local) == "TCIAClient(api='bindaas', base_url='http://localhost:9/q/')"


@pytest.mark.parametrize(
    ("api", "verify_md5", "new_file_names", "query", "params", "hashes"),
    [
        ("nbia-v1", True, False, "getImageWithMD5Hash", {"SeriesInstanceUID": UID}, "required"),
        ("nbia-v1", False, False, "getImage", {"SeriesInstanceUID": UID}, "none"),
        ("bindaas", True, False, "getImage", {"SeriesInstanceUID": UID}, "none"),
        (
            "nbia-v4",
            True,
            True,
            "getImage",
            {"SeriesInstanceUID": UID, "NewFileNames": "Yes", "IncludeMD5": "Yes"},
            "if listed",
        ),
        (
            "nbia-v4",
            False,
            True,
            "getImage",
            {"SeriesInstanceUID": UID, "NewFileNames": "Yes"},
            "none",
        ),
    ],
)
def test_which_archive_is_asked_for(
    api: str,
    verify_md5: bool,
    new_file_names: bool,
    query: str,
    params: dict[str, str],
    hashes: str,
) -> None:
    core = TCIAClient(api=api, base_url=BASE)._core  # type: ignore[arg-type]
    request, got = core.archive_request(UID, verify_md5=verify_md5, new_file_names=new_file_names)
    assert (request.query, request.format, got) == (query, "zip", hashes)
    assert {k: v for k, v in request.params.items() if k != "format"} == params


# Paging, raw bodies, bodies to a file --------------------------------------------------------

V4 = "https://tcia.test/nbia-api/services/v4"


def pages(total: int) -> Script:
    def answer(request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        start, size = int(form["start"][0]), int(form["size"][0])
        rows = [
            {"subjectId": f"P{n}", "project": "C"} for n in range(start, min(start + size, total))
        ]
        return httpx.Response(200, json={"resultSet": rows, "totalPatients": total})

    return Script(answer)


def every_page(client: Any) -> Any:
    found = client.iter_simple_search(size=2)
    if isinstance(client, AsyncTCIAClient):

        async def collect() -> list[Any]:
            return [row async for row in found]

        return collect()
    return list(found)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("total", "requests"), [(5, 3), (4, 3), (1, 1), (0, 1)])
def test_pages_until_one_comes_back_short(kind: str, total: int, requests: int) -> None:
    script = pages(total)
    rows = run(kind, script, every_page, api="nbia-v4", base_url=V4)
    assert [row.subjectId for row in rows] == [f"P{n}" for n in range(total)]
    starts = [parse_qs(r.content.decode())["start"] for r in script.requests]
    assert starts == [[str(2 * n)] for n in range(requests)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", [0, -1, True, "2", None])
def test_a_page_size_that_is_no_page_size_is_refused(kind: str, size: Any) -> None:
    def call(client: Any) -> Any:
        found = client.iter_simple_search(size=size)
        if isinstance(client, AsyncTCIAClient):

            async def first() -> Any:
                return [row async for row in found]

            return first()
        return list(found)

    script = pages(3)
    with pytest.raises(InvalidParameterError) as raised:
        run(kind, script, call, api="nbia-v4", base_url=V4)
    assert str(raised.value) == (
        "get_simple_search(): size (the page size) must be a whole number of 1 or more, "
        f"not {size!r}"
    )
    assert script.requests == []


@pytest.mark.parametrize("kind", KINDS)
def test_raw_gives_the_body_unparsed(kind: str) -> None:
    script = Script(httpx.Response(200, content=b"<P>any</P>"))
    body = run(kind, script, lambda c: c.raw("getSeries", {"Collection": "X"}, "html"))
    assert body == b"<P>any</P>" and type(body) is bytes
    (request,) = script.requests
    assert request.method == "GET" and dict(request.url.params) == {
        "Collection": "X",
        "format": "html",
    }
    posted = Script(httpx.Response(200, content=b"ok"))
    run(kind, posted, lambda c: c.raw("getSeries", {"Collection": "X"}, None, method="POST"))
    assert posted.requests[0].method == "POST"
    assert parse_qs(posted.requests[0].content.decode()) == {"Collection": ["X"]}


@pytest.mark.parametrize("kind", KINDS)
def test_an_archive_is_written_to_a_file(kind: str, tmp_path: Path) -> None:
    body = b"PK\x05\x06" + b"\0" * 18
    script = Script(httpx.Response(200, content=body))
    path = run(
        kind, script, lambda c: c.get_image(series_instance_uid=UID, path=tmp_path / "s.zip")
    )
    assert path == tmp_path / "s.zip" and path.read_bytes() == body
    assert (
        script.paths == ["getImage"] and script.requests[0].url.params["SeriesInstanceUID"] == UID
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_body_larger_than_a_batch_arrives_whole(kind: str) -> None:
    rows = [{"Collection": f"{'C' * 60}{n:07d}"} for n in range(20000)]  # over a batch
    body = json.dumps(rows).encode()
    assert len(body) > 1 << 20
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]

    class Chunked(httpx.SyncByteStream, httpx.AsyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield from chunks

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

    script = Script(lambda request: httpx.Response(200, stream=Chunked()))
    found = run(kind, script, collections)
    assert len(found) == 20000 and found[-1].Collection == "C" * 60 + "0019999"


# Where a secret goes, and redirects ----------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "url", "sent"),
    [
        ("https://tcia.test/q", "https://tcia.test/other/path?x=1", True),
        ("https://tcia.test/q", "https://tcia.test:443/q", True),
        ("https://tcia.test/q", "http://tcia.test/q", False),  # never downgraded
        ("https://tcia.test/q", "https://tcia.test:8443/q", False),
        ("https://tcia.test/q", "https://elsewhere.test/q", False),
        ("http://tcia.test/q", "https://tcia.test/q", True),  # the same host, upgraded
        ("http://tcia.test/q", "https://elsewhere.test/q", False),
        ("http://tcia.test:8080/q", "https://tcia.test/q", False),
        ("http://tcia.test/q", "https://tcia.test:8443/q", False),
        ("http://tcia.test/q", "http://tcia.test:80/q", True),
    ],
)
def test_the_key_is_sent_to_its_origin_only(base: str, url: str, sent: bool) -> None:
    core = TCIAClient(api="bindaas", api_key=KEY, base_url=base)._core
    assert dict(core.credentials.headers_for(url)) == ({"api_key": KEY} if sent else {})


def test_the_bearer_token_header() -> None:
    core = TCIAClient(api="nbia-v2", base_url=V2)._core
    assert core.token is not None and dict(core.credentials.headers_for(V2)) == {}
    core.token.access_token = "T"
    assert dict(core.credentials.headers_for(V2 + "/getSeries")) == {"Authorization": "Bearer T"}
    assert dict(core.credentials.headers_for("https://elsewhere.test/")) == {}
    assert core.headers_for(core.prepare_raw("getSeries", None, "json")) == {
        "Accept-Encoding": "gzip, deflate",
        "Authorization": "Bearer T",
    }


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("status", "method", "form"),
    [
        (301, "GET", None),
        (302, "GET", None),
        (303, "GET", None),
        (307, "POST", ["X"]),
        (308, "POST", ["X"]),
    ],
)
def test_a_redirected_post(kind: str, status: int, method: str, form: Any) -> None:
    script = Script(httpx.Response(status, headers={"Location": "/query/moved"}), OK)
    run(kind, script, lambda c: c.raw("getSeries", {"Collection": "X"}, None, method="POST"))
    moved = script.requests[1]
    assert (moved.method, str(moved.url)) == (method, "https://tcia.test/query/moved")
    assert parse_qs(moved.content.decode()).get("Collection") == form


@pytest.mark.parametrize("kind", KINDS)
def test_a_redirect_loop_says_so(kind: str) -> None:
    script = Script(httpx.Response(302, headers={"Location": "https://tcia.test/query/loop"}))
    error = fails(kind, script, collections)
    assert type(error) is APIStatusError and (error.query, error.status) == (
        "getCollectionValues",
        302,
    )
    assert str(error) == (
        "getCollectionValues: HTTP 302: redirected more than 10 times (a redirect loop?); "
        "check base_url"
    )
    bad = fails(kind, Script(httpx.Response(302, headers={"Location": "ftp://x/"})), collections)
    assert str(bad) == (
        "getCollectionValues: HTTP 302: the server redirected to something that is not an "
        "http(s) URL; check base_url"
    )
    assert bad.query == "getCollectionValues"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("encoding", ["x-gzip", "deflate", " GZIP "])
def test_error_pages_in_every_coding_we_decode(kind: str, encoding: str) -> None:
    import zlib

    words = b"decoded words"
    body = zlib.compress(words) if encoding == "deflate" else gzip.compress(words)
    response = httpx.Response(503, stream=Body(body), headers={"Content-Encoding": encoding})
    error = fails(kind, Script(response), collections, max_retries=0)
    assert error.body == "decoded words"


@pytest.mark.parametrize("kind", KINDS)
def test_a_request_that_cannot_be_built_is_refused(kind: str) -> None:
    script = Script(OK)
    error = fails(kind, script, lambda c: c.raw("getSeries", {"Collection": "x\udc80"}))
    assert type(error) is InvalidParameterError and error.query == "getSeries"
    assert str(error).startswith("getSeries: the request cannot be sent (UnicodeEncodeError: ")
    assert str(error).endswith("); shorten or correct its parameters")
    assert script.requests == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("options", "query", "verified"),
    [({}, "getImageWithMD5Hash", True), ({"verify_md5": False}, "getImage", False)],
)
def test_a_download_asks_for_the_hashes_where_the_generation_has_them(
    kind: str, tmp_path: Path, options: dict[str, Any], query: str, verified: bool
) -> None:
    images = {"00000001.dcm": IMAGES[0], "00000002.dcm": IMAGES[1]}
    listed = "Filename,MD5\n" + "".join(
        f"{name},{__import__('hashlib').md5(data).hexdigest()}\n" for name, data in images.items()
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, data in images.items():
            zipped.writestr(name, data)
        zipped.writestr("md5hashes.csv", listed)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/getSeriesSize"):
            return httpx.Response(200, json=[{"ObjectCount": 2, "TotalSizeInBytes": 150}])
        return httpx.Response(200, content=buffer.getvalue())

    script = Script(answer)
    result = run(
        kind,
        script,
        lambda c: c.download_series(UID, tmp_path, **options),
        api="nbia-v1",
        base_url=BASE,
    )
    assert script.paths == ["getSeriesSize", query] and result.md5_verified is verified
    assert sorted(p.name for p in (tmp_path / UID).iterdir()) == ["00000001.dcm", "00000002.dcm"]
