"""``AsyncTCIAClient``: the one hand-written client.

``python -m codegen`` writes ``_sync/client.py`` (``TCIAClient``) from this file by plain
token substitution (async/await dropped, ``httpx.AsyncClient`` -> ``httpx.Client``, the asyncio
backend -> the thread backend), and ``--check`` fails when the two disagree: every decision is
made in ``ClientCore`` and every loop is written here, once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import httpx

from .._backends import asyncio_backend as backend
from .._body import BodyDecoder, BodyLimit, BufferSink, FileSink, PullSink, PushSink, Sink
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
    ByteProgress,
    DownloadOutcome,
    DownloadResult,
    Expected,
    SeriesSink,
    SeriesTarget,
)
from .._exceptions import APIStatusError, InvalidParameterError, ResponseFormatError
from .._generated import ApiName, AsyncQueries, AsyncTables, ServerName
from .._model import TCIAModel
from .._plan import DownloadPlan, SeriesTable, Shard, rows_of
from .._progress import ProgressBar
from .._references import referenced_series
from .._report import write_sidecar
from .._request import PreparedRequest
from .._runner import AsyncTableFetch
from .._s5cmd import find_s5cmd
from .._specs import HttpMethod, ModelT, QuerySpec
from ..idc import IDCOptions, Source
from ..layouts import Layout
from . import downloads

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["AsyncTCIAClient"]

log = logging.getLogger("tcia_models")

T = TypeVar("T")
R = TypeVar("R")


class AsyncTCIAClient(ClientIdentity, AsyncQueries):
    """A typed client for TCIA's REST API: one method per query, typed results.

    ``async with AsyncTCIAClient() as tcia: await tcia.get_series(collection="TCGA-GBM")``.
    The API generation, server, key and base URL default to ``TCIA_API``, ``TCIA_SERVER``,
    ``TCIA_API_KEY`` and ``TCIA_BASE_URL``; ``server="nlst"`` speaks to NLST's own NBIA host.
    One connection pool serves every call; 429, 5xx and broken connections are retried with
    backoff; a response may grow to ``max_response_size`` bytes and must be complete within
    ``deadline`` seconds.
    """

    def __init__(
        self,
        *,
        api: ApiName | None = None,
        server: ServerName | None = None,
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
            server=server,
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
        limit.reset()
        batches = self._batches(request, response, limit)
        if sink.blocking:  # pulled in one thread: see PullSink
            return await backend.consume(cast(PullSink[T], sink).consume, batches)
        push = cast(PushSink[T], sink)
        push.start()
        try:
            async for batch in batches:
                push.feed(batch)
            return push.finish()
        except BaseException:
            push.discard()
            raise

    async def _batches(
        self, request: PreparedRequest, response: httpx.Response, limit: BodyLimit
    ) -> AsyncIterator[list[bytes]]:
        """The decoded body, a megabyte of pieces at a time (as they came: no copy), within
        ``limit``'s size and deadline."""
        decoder = BodyDecoder(response.headers.get("content-encoding"), query=request.query)
        pending: list[bytes] = []
        size = 0
        async for raw in response.aiter_raw():
            limit.check_time(time.monotonic())
            for piece in decoder.decode(raw):
                limit.count(len(piece), time.monotonic())
                pending.append(piece)
                size += len(piece)
                if size >= DOWNLOAD_CHUNK:
                    yield pending
                    pending, size = [], 0
        decoder.flush()
        if pending:
            yield pending

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
        rows: list[ModelT] = []
        for request in self._core.prepare_all(spec, arguments, format):  # chunks, in order
            body = await self._exchange(request, BufferSink(), self._core.limit(request))
            rows += self._core.rows(spec, request, body)
        return rows

    async def _iter_pages(
        self, spec: QuerySpec[ModelT], arguments: Mapping[str, object], format: str
    ) -> AsyncIterator[ModelT]:
        """Every row of every page: the offset moves by the page size until a page comes back
        short. No offset past the end is asked for (NBIA's search fails with a 500 there)."""
        assert spec.paging is not None
        offset_name, limit_name = spec.paging
        limit = arguments.get(limit_name)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InvalidParameterError(
                f"{spec.method_name}(): {limit_name} (the page size) must be a whole "
                f"number of 1 or more, not {limit!r}",
                query=spec.name,
            )
        offset = 0
        while True:
            page = await self._run_rows(spec, {**arguments, offset_name: offset}, format)
            for row in page:
                yield row
            if len(page) < limit:
                return
            offset += limit

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

    # Built on the queries ---------------------------------------------------------------------

    async def get_referenced_series(self, *, series_instance_uid: str) -> list[str]:
        """The series a SEG or RTSTRUCT series is drawn on (their SeriesInstanceUIDs), read
        from its DICOM header (getDicomTags: NBIA v4 or the unversioned API).

        Raises ``InvalidParameterError`` for a series of another modality, ``NotFoundError``
        for a series the server does not hold.
        """
        rows = await self.get_dicom_tags(series_uid=series_instance_uid)
        return referenced_series(series_instance_uid, rows)

    # Downloads ------------------------------------------------------------------------------

    async def download_series(
        self,
        series_instance_uid: str,
        dest: str | os.PathLike[str],
        *,
        extract: bool = True,
        progress: bool = False,
        verify_md5: bool = True,
        new_file_names: bool = False,
        keep_md5_list: bool = False,
    ) -> DownloadResult:
        """Download one series into ``dest/<uid>/`` (or ``dest/<uid>.zip`` with ``extract=False``).

        The ZIP is checked and extracted as it streams in (every CRC and size; image count and
        bytes against getSeriesSize; MD5 where the API generation offers hashes), unsafe entries
        refused, and the series moved into place only once complete. A series already complete
        on disk is skipped; what an interrupted run left is removed first. ``new_file_names``
        asks for the archive's ``<acquisition>-<instance>.dcm`` names (NBIA's NewFileNames).
        """
        target = SeriesTarget(series_instance_uid, dest, extract=extract)
        with ProgressBar(progress, target.uid, None) as bar:
            result = await self._download(
                target,
                expected=None,
                verify_md5=verify_md5,
                new_file_names=new_file_names,
                keep_md5_list=keep_md5_list,
                progress=bar,
                cancel=None,
            )
            bar.complete()
        return result

    async def _download(
        self,
        target: SeriesTarget,
        *,
        expected: Expected | None,
        verify_md5: bool,
        new_file_names: bool,
        keep_md5_list: bool,
        progress: ByteProgress | None,
        cancel: backend.CancelFlag | None,
    ) -> DownloadResult:
        await backend.run_blocking(target.acquire)
        try:
            if expected is None:
                size = await self.get_series_size(series_instance_uid=target.uid)
                # NBIA's sums over no images are NULL, and a NULL key is left out: zero.
                expected = Expected(size.ObjectCount or 0, size.TotalSizeInBytes or 0)
            done = await backend.run_blocking(target.complete, expected)
            if done is not None:
                return done
            request, hashes = self._core.archive_request(
                target.uid, verify_md5=verify_md5, new_file_names=new_file_names
            )
            if isinstance(progress, ProgressBar):
                progress.set_total(expected.image_bytes)
            sink = SeriesSink(
                target,
                expected,
                md5=hashes == "required",
                verify_listed=hashes == "if listed",
                keep_md5_list=keep_md5_list,
                progress=progress,
                cancelled=cancel.is_set if cancel is not None else lambda: False,
            )
            limit = self._core.limit(request, expected_bytes=expected.raw_bound())
            return await self._exchange(request, sink, limit)
        finally:
            await backend.run_blocking(target.release)

    async def plan_downloads(
        self,
        series: Iterable[str | TCIAModel | Mapping[str, object]] | SeriesTable,
        dest: str | os.PathLike[str],
        *,
        layout: str | Layout = "uid",
        extract: bool = True,
        shard: str | Shard | None = None,
        want_metadata: bool = False,
        source: Source = "nbia",
        idc: IDCOptions | None = None,
        compare_nbia: bool = False,
    ) -> DownloadPlan:
        """Where each series would land, where it comes from and what it should bring, without
        downloading it: ``plan.describe(plan.complete())`` is what ``tcia download --dry-run``
        prints. ``want_metadata`` fetches the getSeries row of each bare UID (for licences,
        sidecars). ``source="auto"`` takes each series IDC's index has from IDC's buckets, the
        others from the archive (``"idc"``: all from IDC); ``idc`` says where the index is.
        ``compare_nbia`` fetches the archive's rows of IDC's series too (``tcia plan``)."""
        return await downloads.plan_downloads(
            self,
            series,
            dest,
            layout=layout,
            extract=extract,
            shard=shard,
            want_metadata=want_metadata,
            source=source,
            idc=idc,
            compare_nbia=compare_nbia,
        )

    async def iter_downloads(
        self,
        series: Iterable[str | TCIAModel | Mapping[str, object]] | SeriesTable | DownloadPlan,
        dest: str | os.PathLike[str] | None = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        extract: bool = True,
        progress: bool = False,
        verify_md5: bool = True,
        layout: str | Layout = "uid",
        shard: str | Shard | None = None,
        new_file_names: bool = False,
        keep_md5_list: bool = False,
        check_free_space: bool = True,
        want_metadata: bool = False,
        source: Source = "nbia",
        idc: IDCOptions | None = None,
    ) -> AsyncIterator[DownloadOutcome]:
        """Download several series, ``concurrency`` at a time, yielding each outcome as it
        finishes; one failure stops no other.

        ``series`` are UIDs, ``Series`` rows (whose ImageCount and FileSize spare a getSeriesSize
        call each) or mappings with a SeriesInstanceUID, or a plan from ``plan_downloads``.
        ``layout`` places each under dest (see ``tcia_models.layouts``); ``shard="K/N"`` (or
        ``"auto"`` under Slurm or a Kubernetes Indexed Job) takes this machine's share. A run
        refuses to start when dest has less free space than what remains to download.
        ``source="auto"`` brings each series IDC's index has from IDC's public buckets (one
        s5cmd run per batch; ``idc=IDCOptions(endpoint_url=...)`` for another S3 endpoint), the
        others from the archive; ``"idc"`` brings all from IDC.
        """
        if isinstance(series, DownloadPlan):
            plan = series
        else:
            if dest is None:
                raise InvalidParameterError("iter_downloads() needs dest=, where to download to")
            plan = await downloads.plan_downloads(
                self,
                series,
                dest,
                layout=layout,
                extract=extract,
                shard=shard,
                want_metadata=want_metadata,
                source=source,
                idc=idc,
            )
        if any(planned.source == "idc" for planned in plan.series):
            find_s5cmd((idc or IDCOptions()).s5cmd)  # missing: say so before anything starts
        if check_free_space:
            complete = await backend.run_blocking(plan.complete)
            await backend.run_blocking(plan.check_free_space, complete)
        async for outcome in downloads.iter_plan(
            self,
            plan,
            concurrency=concurrency,
            verify_md5=verify_md5,
            new_file_names=new_file_names,
            keep_md5_list=keep_md5_list,
            progress=progress,
            idc_options=idc,
        ):
            yield outcome

    async def download_many(
        self,
        series: Iterable[str | TCIAModel | Mapping[str, object]] | SeriesTable | DownloadPlan,
        dest: str | os.PathLike[str] | None = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        extract: bool = True,
        progress: bool = False,
        verify_md5: bool = True,
        layout: str | Layout = "uid",
        shard: str | Shard | None = None,
        new_file_names: bool = False,
        keep_md5_list: bool = False,
        check_free_space: bool = True,
        metadata: str | os.PathLike[str] | None = None,
        source: Source = "nbia",
        idc: IDCOptions | None = None,
    ) -> list[DownloadOutcome]:
        """``iter_downloads``, collected: one outcome per series, in the order given.

        ``metadata="series.csv"`` (or ``.parquet``) writes a sidecar: one row per series with
        its metadata, the path it landed at, bytes, file count, MD5 status, source and outcome.
        """
        if not isinstance(series, DownloadPlan):
            # Read twice (for the plan and for the order of the outcomes), and a table as rows.
            series = list(rows_of(series).values())
        outcomes = [
            outcome
            async for outcome in self.iter_downloads(
                series,
                dest,
                concurrency=concurrency,
                extract=extract,
                progress=progress,
                verify_md5=verify_md5,
                layout=layout,
                shard=shard,
                new_file_names=new_file_names,
                keep_md5_list=keep_md5_list,
                check_free_space=check_free_space,
                want_metadata=metadata is not None,
                source=source,
                idc=idc,
            )
        ]
        order = {uid: index for index, uid in enumerate(_uids_of(series))}
        outcomes.sort(key=lambda outcome: order.get(outcome.series_instance_uid, len(order)))
        if metadata is not None:
            root = series.dest if isinstance(series, DownloadPlan) else dest
            await backend.run_blocking(write_sidecar, metadata, outcomes, root or ".")
        return outcomes


def _uids_of(series: object) -> list[str]:
    if isinstance(series, DownloadPlan):
        return [planned.series_instance_uid for planned in series.series]
    return list(rows_of(series))  # type: ignore[arg-type]


class _Tables(AsyncTables):
    """``tcia.tables``: the generated table methods, run by their client."""

    def __init__(self, run: AsyncTableFetch) -> None:
        self._run = run

    async def _run_table(
        self, spec: QuerySpec[Any], arguments: Mapping[str, object], format: str
    ) -> pa.Table:
        return await self._run(spec, arguments, format)
