"""``AsyncTCIAClient``: the one hand-written client.

``python -m codegen`` writes ``_sync/client.py`` (``TCIAClient``) from this file by plain
token substitution (async/await dropped, ``httpx.AsyncClient`` -> ``httpx.Client``, the asyncio
backend -> the thread backend), and ``--check`` fails when the two disagree: every decision is
made in ``ClientCore`` and every loop is written here, once.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx

from .._backends import asyncio_backend as backend
from .._body import BodyDecoder, BodyLimit, BufferSink, FileSink, Sink
from .._constants import (
    DEFAULT_CONCURRENCY,
    DEFAULT_DEADLINE,
    DEFAULT_MAX_RESPONSE_SIZE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    DOWNLOAD_CHUNK,
)
from .._core import ERROR_BODY_LIMIT, ClientCore, ClientIdentity, Receive, Redirect, Relogin
from .._download import (
    DownloadOutcome,
    DownloadResult,
    Expected,
    SeriesSink,
    SeriesTarget,
    describe_failure,
)
from .._exceptions import APIStatusError, InvalidParameterError, ResponseFormatError
from .._generated import ApiName, AsyncQueries, AsyncTables
from .._progress import ProgressBar
from .._request import PreparedRequest
from .._runner import AsyncTableFetch
from .._specs import HttpMethod, ModelT, QuerySpec

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["AsyncTCIAClient"]

T = TypeVar("T")
R = TypeVar("R")


class AsyncTCIAClient(ClientIdentity, AsyncQueries):
    """A typed client for TCIA's REST API: one method per query, typed results.

    ``async with AsyncTCIAClient() as tcia: await tcia.get_series(collection="TCGA-GBM")``.
    The API generation, key and base URL default to ``TCIA_API``, ``TCIA_API_KEY`` and
    ``TCIA_BASE_URL``. One connection pool serves every call; 429, 5xx and broken connections
    are retried with backoff; a response may grow to ``max_response_size`` bytes and must be
    complete within ``deadline`` seconds.
    """

    def __init__(
        self,
        *,
        api: ApiName | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._core = ClientCore(
            api=api,
            base_url=base_url,
            api_key=api_key,
            username=username,
            password=password,
            max_retries=max_retries,
            timeout=timeout,
            deadline=deadline,
            max_response_size=max_response_size,
        )
        self._http = http_client or httpx.AsyncClient(
            timeout=self._core.timeout, limits=httpx.Limits(max_connections=100)
        )
        self._owns_http = http_client is None
        self._token_lock = backend.Lock()

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # Transport ------------------------------------------------------------------------------

    async def _open(self, request: PreparedRequest) -> httpx.Response:
        """Send one request, redirects not followed, and return once its headers are in."""
        try:
            built = self._http.build_request(
                request.method,
                request.url,
                params=request.params if request.method == "GET" else None,
                data=dict(request.params) if request.method == "POST" else None,
                headers=self._core.headers_for(request),
            )
        except (httpx.InvalidURL, UnicodeError) as error:
            raise InvalidParameterError(
                f"{request.query}: the request cannot be sent ({type(error).__name__}: "
                f"{self._core.redact(str(error))[:200]}); shorten or correct its parameters",
                query=request.query,
            ) from None
        try:
            return await self._http.send(built, stream=True, follow_redirects=False)
        except httpx.InvalidURL:  # httpx parses a Location even when it does not follow it
            raise APIStatusError(
                f"{request.query}: the server redirected to something that is not an http(s) "
                "URL; check base_url",
                query=request.query,
            ) from None

    async def _head(self, response: httpx.Response, request: PreparedRequest) -> bytes:
        """The first bytes of an error response, for its message; the rest is not fetched."""
        if response.is_success or response.is_redirect:
            return b""
        coding = response.headers.get("content-encoding", "")
        known = coding.strip().lower() in ("gzip", "x-gzip", "deflate")
        decoder = BodyDecoder(coding if known else None, query=request.query)
        head = bytearray()
        # An error page that breaks off or does not decode still has a status to report.
        with contextlib.suppress(httpx.TransportError, ResponseFormatError):
            async for raw in response.aiter_raw():
                for piece in decoder.decode(raw):
                    head += piece
                if len(head) >= ERROR_BODY_LIMIT:
                    break
        return bytes(head[:ERROR_BODY_LIMIT])

    async def _exchange(self, request: PreparedRequest, sink: Sink[T], limit: BodyLimit) -> T:
        """Send ``request`` and hand its body to ``sink``: retrying, following redirects and
        logging in again as the core decides, within ``limit``'s size and deadline."""
        attempt, relogged, redirects = 0, False, 0
        current = request
        while True:
            await self._authenticate()
            response: httpx.Response | None = None
            try:
                response = await self._open(current)
                step = self._core.after_response(
                    current,
                    response,
                    await self._head(response, current),
                    attempt=attempt,
                    relogged=relogged,
                    redirects=redirects,
                )
                if isinstance(step, Receive):
                    return await self._receive(current, response, sink, limit)
            except httpx.TransportError as error:
                step = self._core.after_transport_error(current, error, attempt)
            finally:
                if response is not None:
                    await response.aclose()
            if isinstance(step, Redirect):
                current, redirects = step.request, redirects + 1
            elif isinstance(step, Relogin):
                relogged = True
            else:
                if time.monotonic() + step.delay > limit.deadline:
                    raise self._core.deadline_error(current, step.error)
                self._core.log_retry(current, step, attempt)
                await backend.sleep(step.delay)
                attempt += 1

    async def _receive(
        self, request: PreparedRequest, response: httpx.Response, sink: Sink[T], limit: BodyLimit
    ) -> T:
        decoder = BodyDecoder(response.headers.get("content-encoding"), query=request.query)
        limit.reset()
        pending = bytearray()
        await self._call(sink, sink.start)
        try:
            async for raw in response.aiter_raw():
                limit.check_time(time.monotonic())
                for piece in decoder.decode(raw):
                    limit.count(len(piece), time.monotonic())
                    if not sink.blocking:
                        sink.feed(piece)
                        continue
                    pending += piece  # a thread hop per megabyte, not per network read
                    if len(pending) >= DOWNLOAD_CHUNK:
                        await self._call(sink, sink.feed, bytes(pending))
                        pending.clear()
            decoder.flush()
            if pending:
                await self._call(sink, sink.feed, bytes(pending))
            return await self._call(sink, sink.finish)
        except BaseException:
            await self._call(sink, sink.discard)
            raise

    async def _call(self, sink: Sink[Any], step: Callable[..., R], *args: Any) -> R:
        """A sink's step: in a worker thread when it does disk or CPU work (async client)."""
        if sink.blocking:
            return await backend.run_blocking(step, *args)
        return step(*args)

    async def _authenticate(self) -> None:
        """Log in, or refresh the OAuth token near its expiry: once, however many callers."""
        token = self._core.credentials.token
        if token is None or token.fresh(time.monotonic()):
            return
        async with self._token_lock:
            for _ in range(2):  # a refused refresh falls back to a fresh login
                if token.fresh(time.monotonic()):
                    return
                request = token.request()
                try:
                    response = await self._open(request)
                except httpx.TransportError as error:
                    raise self._core.connection_error(request, error) from None
                try:
                    if response.is_redirect:
                        self._core.redirect(request, response, 0)  # raises: a login never moves
                    body = await self._head(response, request) if not response.is_success else b""
                    if response.is_success:
                        body = bytes(
                            await self._receive(
                                request, response, BufferSink(), self._core.limit(request)
                            )
                        )
                finally:
                    await response.aclose()
                if token.accept(response.status_code, body, time.monotonic()):
                    return

    # What the generated query methods call --------------------------------------------------

    async def _run_rows(
        self, spec: QuerySpec[ModelT], arguments: Mapping[str, object], format: str
    ) -> list[ModelT]:
        request = self._core.prepare(spec, arguments, format)
        body = await self._exchange(request, BufferSink(), self._core.limit(request))
        return self._core.rows(spec, request, body)

    async def _run_one(
        self, spec: QuerySpec[ModelT], arguments: Mapping[str, object], format: str
    ) -> ModelT:
        request = self._core.prepare(spec, arguments, format)
        body = await self._exchange(request, BufferSink(), self._core.limit(request))
        return self._core.one(spec, request, body)

    async def _run_table(
        self, spec: QuerySpec[Any], arguments: Mapping[str, object], format: str
    ) -> pa.Table:
        from ..tables import TableSink  # pyarrow is optional: needed from here on

        request = self._core.prepare(spec, arguments, format)
        sink = TableSink(spec, format, redact=self._core.redact)
        return await self._exchange(request, sink, self._core.limit(request))

    @property
    def tables(self) -> AsyncTables:
        """Every list query as a typed ``pyarrow.Table`` (``pip install 'tcia-models[arrow]'``),
        for pandas, polars and DuckDB: ``await tcia.tables.get_series(collection=...)``.

        CSV is asked for where the query offers it and parsed while it streams in, so the body
        is never held whole; columns follow ``arrow_schema(Model)``.
        """
        return _Tables(self._run_table)

    async def _run_to_file(
        self, spec: QuerySpec[Any], arguments: Mapping[str, object], path: str | os.PathLike[str]
    ) -> Path:
        request = self._core.prepare(spec, arguments, spec.formats[0])
        sink = FileSink(path, query=spec.name)
        return await self._exchange(request, sink, self._core.limit(request))

    async def raw(
        self,
        query: str,
        params: Mapping[str, object] | None = None,
        format: str | None = None,
        *,
        method: HttpMethod = "GET",
    ) -> bytes:
        """The response body of any query in any format (``"html"`` included), unparsed."""
        request = self._core.prepare_raw(query, params, format, method)
        return bytes(await self._exchange(request, BufferSink(), self._core.limit(request)))

    # Downloads ------------------------------------------------------------------------------

    async def download_series(
        self,
        series_instance_uid: str,
        dest: str | os.PathLike[str],
        *,
        extract: bool = True,
        progress: bool = False,
        verify_md5: bool = True,
    ) -> DownloadResult:
        """Download one series into ``dest/<uid>/`` (or ``dest/<uid>.zip`` with ``extract=False``).

        The ZIP is checked and extracted as it streams in (every CRC and size; image count and
        bytes against getSeriesSize; MD5 where the API generation offers hashes), unsafe entries
        refused, and the series moved into place only once complete. A series already complete
        on disk is skipped; what an interrupted run left is removed first.
        """
        target = SeriesTarget(series_instance_uid, dest, extract=extract)
        with ProgressBar(progress, target.uid, None) as bar:
            result = await self._download(target, verify_md5=verify_md5, bar=bar, cancel=None)
            bar.complete()
        return result

    async def _download(
        self,
        target: SeriesTarget,
        *,
        verify_md5: bool,
        bar: ProgressBar | None,
        cancel: backend.CancelFlag | None,
    ) -> DownloadResult:
        await backend.run_blocking(target.acquire)
        try:
            size = await self.get_series_size(series_instance_uid=target.uid)
            expected = Expected(size.ObjectCount, size.TotalSizeInBytes)
            done = await backend.run_blocking(target.complete, expected)
            if done is not None:
                return done
            request, md5 = self._core.archive_request(target.uid, verify_md5=verify_md5)
            if bar is not None:
                bar.set_total(expected.image_bytes)
            sink = SeriesSink(
                target,
                expected,
                md5=md5,
                progress=bar,
                cancelled=cancel.is_set if cancel is not None else lambda: False,
            )
            limit = self._core.limit(request, expected_bytes=expected.raw_bound())
            return await self._exchange(request, sink, limit)
        finally:
            await backend.run_blocking(target.release)

    async def iter_downloads(
        self,
        series_instance_uids: Iterable[str],
        dest: str | os.PathLike[str],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        extract: bool = True,
        progress: bool = False,
        verify_md5: bool = True,
    ) -> AsyncIterator[DownloadOutcome]:
        """Download several series, ``concurrency`` at a time, yielding each outcome as it
        finishes; one failure stops no other. UIDs are drawn lazily, so a generator of a
        million costs no more memory than ``concurrency`` downloads."""
        cancel = backend.CancelFlag()
        with ProgressBar(progress, "series", None, unit="items") as bar:

            async def one(uid: str) -> DownloadOutcome:
                try:
                    target = SeriesTarget(uid, dest, extract=extract)
                    result = await self._download(
                        target, verify_md5=verify_md5, bar=None, cancel=cancel
                    )
                    return DownloadOutcome(uid, result=result)
                except Exception as error:  # every failure is reported, none aborts the others
                    return DownloadOutcome(uid, error=describe_failure(error, uid))
                finally:
                    bar.advance(1)

            async for outcome in backend.map_unordered(
                one, _unique(series_instance_uids), concurrency, cancel
            ):
                yield outcome

    async def download_many(
        self,
        series_instance_uids: Iterable[str],
        dest: str | os.PathLike[str],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        extract: bool = True,
        progress: bool = False,
        verify_md5: bool = True,
    ) -> list[DownloadOutcome]:
        """``iter_downloads``, collected: one outcome per UID, in the order given."""
        uids = list(series_instance_uids)
        outcomes = {
            outcome.series_instance_uid: outcome
            async for outcome in self.iter_downloads(
                uids,
                dest,
                concurrency=concurrency,
                extract=extract,
                progress=progress,
                verify_md5=verify_md5,
            )
        }
        return [outcomes[uid] for uid in uids]


class _Tables(AsyncTables):
    """``tcia.tables``: the generated table methods, run by their client."""

    def __init__(self, run: AsyncTableFetch) -> None:
        self._run = run

    async def _run_table(
        self, spec: QuerySpec[Any], arguments: Mapping[str, object], format: str
    ) -> pa.Table:
        return await self._run(spec, arguments, format)


def _unique(items: Iterable[str]) -> Iterable[str]:
    """Each item once, drawn lazily."""
    seen: set[str] = set()
    for item in items:
        if item not in seen:
            seen.add(item)
            yield item
