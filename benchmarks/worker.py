"""One measured task, in a process of its own: ``python worker.py TASK CLIENT ARGS_JSON``.

The parent measures wall time and the peak RSS of this whole process; the worker only does the
work and prints a JSON line of what it saw.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import peers


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Bulk download -------------------------------------------------------------------------------


def download(
    client: str, origin: str, base_url: str, uids: list[str], dest: str, concurrency: int
) -> dict[str, Any]:
    if client == "tcia-models":
        from tcia_models import AsyncTCIAClient

        async def run() -> list[Any]:
            async with AsyncTCIAClient(base_url=base_url) as tcia:
                return await tcia.download_many(uids, dest, concurrency=concurrency)

        outcomes = asyncio.run(run())
        return {"failed": [o.series_instance_uid for o in outcomes if not o.ok]}
    if client == "tcia_utils":
        nbia = peers.tcia_utils_nbia(origin)
        nbia.downloadSeries(uids, input_type="list", path=dest, max_workers=concurrency)
        return {}
    if client == "nbiatoolkit":
        ok = peers.nbiatoolkit_client(origin).downloadSeries(
            uids, downloadDir=dest, nParallel=concurrency
        )
        return {"reported_ok": ok}
    if client == "tciaclient":
        tcia = peers.tciaclient_client(origin)

        def one(uid: str) -> None:
            tcia.get_image(uid, dest, f"{uid}.zip")
            archive = Path(dest) / f"{uid}.zip"
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(Path(dest) / uid)
            archive.unlink()

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, uids))
        return {}
    raise SystemExit(f"unknown client {client}")


# From IDC's buckets ----------------------------------------------------------------------------


def idc_download(
    client: str, base_url: str, endpoint: str, index: str, uids: list[str], dest: str
) -> dict[str, Any]:
    """A collection from the local S3 (or, for ``tcia-models NBIA``, the bundled server)."""
    if client == "tcia-models IDC":
        from tcia_models import AsyncTCIAClient
        from tcia_models.idc import IDCOptions

        options = IDCOptions(index=index, endpoint_url=endpoint, retries=0)

        async def run() -> list[Any]:
            async with AsyncTCIAClient(base_url=base_url) as tcia:
                return await tcia.download_many(uids, dest, source="idc", idc=options)

        outcomes = asyncio.run(run())
        return {"failed": [str(o.error) for o in outcomes if not o.ok]}
    if client == "tcia_utils IDC":
        # idc-index reads its index's path from idc_index_data when its client is made, and its
        # endpoint from a module global at each call: both pointed at ours, nothing else.
        from pathlib import Path as _Path

        import idc_index.index
        import idc_index_data

        idc_index_data.IDC_INDEX_PARQUET_FILEPATH = _Path(index)
        idc_index.index.aws_endpoint_url = endpoint
        from tcia_utils import idc

        idc.downloadSeries(uids, input_type="list", path=dest, template="flat")
        return {}
    raise SystemExit(f"unknown client {client}")


def idc_lookup(uids: list[str]) -> dict[str, Any]:
    """Where IDC has ``uids``, in the full index idc-index-data ships."""
    from tcia_models.idc import lookup

    started = time.perf_counter()
    found = lookup(uids)
    return {"seconds": time.perf_counter() - started, "found": len(found)}


# Many small queries --------------------------------------------------------------------------


def small_queries(
    client: str, origin: str, base_url: str, uids: list[str], concurrency: int
) -> dict[str, Any]:
    """Imports and set-up happen first; ``seconds`` times the calls alone."""
    calls = _size_calls(client, origin, base_url, uids, concurrency)
    started = time.perf_counter()
    total = calls()
    return {"total": total, "seconds": time.perf_counter() - started}


def _size_calls(
    client: str, origin: str, base_url: str, uids: list[str], concurrency: int
) -> Callable[[], int]:
    if client == "tcia-models (sync)":
        from tcia_models import TCIAClient

        def sync_calls() -> int:
            with TCIAClient(base_url=base_url) as tcia:
                return sum(
                    tcia.get_series_size(series_instance_uid=uid).TotalSizeInBytes for uid in uids
                )

        return sync_calls
    if client == "tcia-models (async)":
        from tcia_models import AsyncTCIAClient

        async def run() -> int:
            slots = asyncio.Semaphore(concurrency)
            async with AsyncTCIAClient(base_url=base_url) as tcia:

                async def one(uid: str) -> int:
                    async with slots:
                        return (
                            await tcia.get_series_size(series_instance_uid=uid)
                        ).TotalSizeInBytes

                return sum(await asyncio.gather(*(one(uid) for uid in uids)))

        return lambda: asyncio.run(run())
    if client == "tcia_utils":
        nbia = peers.tcia_utils_nbia(origin)
        return lambda: sum(int(nbia.getSeriesSize(uid)[0]["TotalSizeInBytes"]) for uid in uids)
    if client == "nbiatoolkit":
        # nbiatoolkit has no getSeriesSize; its per-series call is getSeries (one small row).
        toolkit = peers.nbiatoolkit_client(origin)
        return lambda: sum(len(toolkit.getSeries(SeriesInstanceUID=uid)) for uid in uids)
    if client == "tciaclient":
        tcia = peers.tciaclient_client(origin)
        return lambda: sum(int(tcia.get_series_size(uid)[0]["TotalSizeInBytes"]) for uid in uids)
    raise SystemExit(f"unknown client {client}")


# Typed parsing -------------------------------------------------------------------------------


def parse(parser: str, path: str, format: str) -> dict[str, Any]:
    import csv
    import io

    body = Path(path).read_bytes()
    if parser == "tcia_models.parse":
        from tcia_models import Series
        from tcia_models import parse as typed

        def run() -> Any:
            return typed(Series, body, format)  # type: ignore[arg-type]
    elif parser == "tcia_models.parse_table":
        from tcia_models import Series, parse_table

        def run() -> Any:
            return parse_table(Series, body, format)  # type: ignore[arg-type]
    elif parser == "json.loads":

        def run() -> Any:
            return json.loads(body)
    elif parser == "orjson":
        import orjson

        def run() -> Any:
            return orjson.loads(body)
    elif parser == "csv.DictReader":

        def run() -> Any:
            return list(csv.DictReader(io.StringIO(body.decode())))
    elif parser == "pandas":
        import pandas

        def run() -> Any:
            reader = pandas.read_json if format == "json" else pandas.read_csv
            return reader(io.BytesIO(body))
    else:
        raise SystemExit(f"unknown parser {parser}")
    before = _rss_mb()
    started = time.perf_counter()
    rows = run()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": len(rows), "extra_mb": _rss_mb() - before}


# Archive scale -------------------------------------------------------------------------------


def archive(client: str, origin: str, base_url: str) -> dict[str, Any]:
    """One whole-archive getSeries, end to end: the imports, the request, the rows."""
    if client == "tcia-models tables":
        from tcia_models import TCIAClient

        with TCIAClient(base_url=base_url) as tcia:
            rows = tcia.tables.get_series().num_rows
    elif client == "tcia-models models":
        from tcia_models import TCIAClient

        with TCIAClient(base_url=base_url) as tcia:
            rows = len(tcia.get_series())
    elif client == "tcia_utils df":
        rows = len(peers.tcia_utils_nbia(origin).getSeries(format="df"))
    elif client == "json.loads":
        import httpx

        response = httpx.get(base_url + "/getSeries", params={"format": "json"}, timeout=600)
        rows = len(json.loads(response.content))
    else:
        raise SystemExit(f"unknown client {client}")
    return {"rows": rows}


if __name__ == "__main__":
    task, arguments = sys.argv[1], json.loads(sys.argv[2])
    tasks = {
        "download": download,
        "idc_download": idc_download,
        "idc_lookup": idc_lookup,
        "small_queries": small_queries,
        "parse": parse,
        "archive": archive,
    }
    result = tasks[task](**arguments)
    print(json.dumps(result))
