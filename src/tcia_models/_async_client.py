"""``AsyncTCIAClient``: the asynchronous client (httpx.AsyncClient transport)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from ._base_client import ClientCore, ClientIdentity, PreparedRequest, ensure_tcia_error
from ._constants import DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, DOWNLOAD_CHUNK
from ._download import DownloadOutcome, DownloadResult, SeriesDownload
from ._generated import ApiName, AsyncQueries
from ._progress import ProgressBar
from ._specs import ModelT, QuerySpec, TabularFormat

__all__ = ["AsyncTCIAClient"]


class AsyncTCIAClient(ClientIdentity, AsyncQueries):
    """The asynchronous twin of ``TCIAClient``: the same methods, awaited.

    ``async with AsyncTCIAClient() as tcia: await tcia.download_many(uids, "data/")``.
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
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._core = ClientCore(
            api=api,
            base_url=base_url,
            api_key=api_key,
            username=username,
            password=password,
            max_retries=max_retries,
        )
        self._http = http_client or httpx.AsyncClient(
            timeout=timeout, follow_redirects=True, limits=httpx.Limits(max_connections=100)
        )
        self._owns_http = http_client is None
        self._token_lock = asyncio.Lock()

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

    async def _authenticate(self) -> None:
        """Log in or refresh the OAuth token when it is near expiry: once, whatever the tasks."""
        token = self._core.token
        if token is None or token.fresh(time.monotonic()):
            return
        async with self._token_lock:
            for _ in range(2):  # a refused refresh falls back to a fresh login
                if token.fresh(time.monotonic()):
                    return
                url, form = token.request()
                try:
                    response = await self._http.post(url, data=form)
                except httpx.TransportError as error:
                    raise self._core.connection_error(
                        PreparedRequest("oauth/token", url, {}, ""), error
                    ) from None
                token.accept(response, time.monotonic())

    async def _send(self, request: PreparedRequest, *, stream: bool = False) -> httpx.Response:
        attempt, relogged = 0, False
        while True:
            await self._authenticate()
            http_request = self._http.build_request(
                "GET", request.url, params=request.params, headers=self._core.headers
            )
            try:
                response = await self._http.send(http_request, stream=stream)
            except httpx.TransportError as error:
                delay = self._core.retry_delay(attempt, None)
                if delay is None:
                    raise self._core.connection_error(request, error) from None
                reason = type(error).__name__
            else:
                if response.is_success:
                    return response
                delay = self._core.retry_delay(attempt, response)
                if stream:
                    await response.aread()
                    await response.aclose()
                if response.status_code == 401 and self._core.token and not relogged:
                    # The token may have expired on the server's clock: log in once more.
                    self._core.token.invalidate()
                    relogged, delay = True, 0.0
                elif delay is None:
                    raise self._core.status_error(request, response)
                reason = f"HTTP {response.status_code}"
            self._core.log_retry(request, reason, delay, attempt)
            await asyncio.sleep(delay)
            attempt += 1

    async def _run_rows(
        self, spec: QuerySpec[ModelT], arguments: Mapping[str, object], format: TabularFormat
    ) -> list[ModelT]:
        request = self._core.prepare(spec, arguments, format)
        return self._core.rows(spec, request, (await self._send(request)).content)

    async def _run_one(
        self, spec: QuerySpec[ModelT], arguments: Mapping[str, object], format: TabularFormat
    ) -> ModelT:
        request = self._core.prepare(spec, arguments, format)
        return self._core.one(spec, request, (await self._send(request)).content)

    async def _run_to_file(
        self, spec: QuerySpec[Any], arguments: Mapping[str, object], path: str | os.PathLike[str]
    ) -> Path:
        request = self._core.prepare(spec, arguments, "zip")
        target = Path(path)
        partial = target.with_name(f".{target.name}.part")
        try:
            await self._stream_to(request, partial, None)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    async def raw(
        self, query: str, params: Mapping[str, object] | None = None, format: str | None = None
    ) -> bytes:
        """The response body of any query in any format (``"html"`` included), unparsed."""
        return (await self._send(self._core.prepare_raw(query, params or {}, format))).content

    # Downloads ------------------------------------------------------------------------------

    async def _stream_to(
        self, request: PreparedRequest, path: Path, bar: ProgressBar | None
    ) -> None:
        """Stream a response body to ``path``, starting over when the connection breaks."""
        attempt = 0
        while True:
            received = 0
            try:
                with path.open("wb") as sink:
                    response = await self._send(request, stream=True)
                    try:
                        async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK):
                            sink.write(chunk)
                            received += len(chunk)
                            if bar:
                                bar.advance(len(chunk))
                    finally:
                        await response.aclose()
                return
            except httpx.TransportError as error:
                if bar:
                    bar.advance(-received)
                delay = self._core.retry_delay(attempt, None)
                if delay is None:
                    raise self._core.connection_error(request, error) from None
                self._core.log_retry(
                    request, f"{type(error).__name__} mid-download", delay, attempt
                )
                await asyncio.sleep(delay)
                attempt += 1

    async def download_series(
        self,
        series_instance_uid: str,
        dest: str | os.PathLike[str],
        *,
        extract: bool = True,
        progress: bool = False,
        verify_md5: bool = True,
    ) -> DownloadResult:
        """Download one series; see ``TCIAClient.download_series``."""
        download = SeriesDownload(series_instance_uid, dest, extract=extract)
        existing = download.existing()
        if existing is not None:
            return existing
        size = await self.get_series_size(series_instance_uid=series_instance_uid)
        request, md5 = self._core.archive_request(series_instance_uid, verify_md5=verify_md5)
        with ProgressBar(progress, series_instance_uid, size.TotalSizeInBytes) as bar:
            try:
                await self._stream_to(request, download.temporary_archive(), bar)
                # Checking and extracting read the whole archive: keep them off the event loop.
                result = await asyncio.to_thread(
                    download.finish,
                    object_count=size.ObjectCount,
                    total_size=size.TotalSizeInBytes,
                    md5=md5,
                )
            finally:
                download.discard()
            bar.complete()
        return result

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
        """Download several series, ``concurrency`` at a time; one failure stops no other.

        Returns one outcome per UID, in the order given; ``progress=True`` shows one bar.
        """
        uids = list(series_instance_uids)
        slots = asyncio.Semaphore(max(1, concurrency))
        with ProgressBar(progress, "series", len(uids), unit="items") as bar:

            async def one(uid: str) -> DownloadOutcome:
                async with slots:
                    try:
                        result = await self.download_series(
                            uid, dest, extract=extract, verify_md5=verify_md5
                        )
                        return DownloadOutcome(uid, result=result)
                    except Exception as error:  # every failure is reported, none aborts the others
                        return DownloadOutcome(uid, error=ensure_tcia_error(error, uid))
                    finally:
                        bar.advance(1)

            return list(await asyncio.gather(*(one(uid) for uid in uids)))
