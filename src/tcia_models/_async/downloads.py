"""Many series at once: from what the user gives (UIDs, rows, a manifest's list) to a plan, and
from the plan to outcomes as they finish. Written once here; codegen writes the sync twin."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._backends import asyncio_backend as backend
from .._download import DownloadOutcome, Expected, describe_failure
from .._exceptions import DownloadError, InvalidParameterError, TCIAError
from .._generated.queries import QUERIES
from .._idc_download import IDCBatch
from .._plan import DownloadPlan, PlannedSeries, SeriesTable, Shard, expected_from, rows_of
from .._progress import DownloadProgress
from ..idc import IDCOptions, IDCSeries, Source, check_source, chunks, lookup
from ..layouts import Layout
from .idc import download_batch

if TYPE_CHECKING:
    from .client import AsyncTCIAClient

__all__ = ["iter_plan", "plan_downloads"]

log = logging.getLogger("tcia_models")

_METADATA_CONCURRENCY = 8


def _bare(row: Mapping[str, Any]) -> bool:
    """A row that says nothing but its UID (the user gave a bare UID)."""
    return set(row) <= {"SeriesInstanceUID"}


async def plan_downloads(
    client: AsyncTCIAClient,
    series: Iterable[object] | SeriesTable,
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
    """Lay the series out under dest, choose each one's source, and learn what each should bring.

    Rows the user gave (``Series`` rows, mappings) are used as they are: their ImageCount and
    FileSize spare a getSeriesSize call. A bare UID gets its row from getSeries when the layout
    (or ``want_metadata``) needs its fields, and its sizes from getSeriesSize. With ``source``
    ``auto`` or ``idc``, IDC's index says where IDC has each series and what it holds; a series
    from IDC needs no getSeriesSize, nor a getSeries row but for the layout (its licence and DOI
    come from the index). ``compare_nbia`` fetches every bare UID's row, to compare counts.
    """
    chosen_source = check_source(source)
    options = idc or IDCOptions()
    rows = rows_of(series)
    if not extract and chosen_source != "nbia":
        raise InvalidParameterError(
            "extract=False keeps the archive's ZIPs; IDC's series come as DICOM files: use "
            "source='nbia' (--source nbia) for ZIPs"
        )
    located: dict[str, IDCSeries] = {}
    if chosen_source != "nbia" or compare_nbia:
        located = await backend.run_blocking(lookup, list(rows), options.index)

    def from_idc(uid: str) -> bool:
        return chosen_source == "idc" or (chosen_source == "auto" and uid in located)

    chosen = layout if isinstance(layout, Layout) else Layout(layout)
    picked = Shard.parse(shard) if isinstance(shard, str) else shard
    layout_rows = bool(set(chosen.fields) - {"SeriesInstanceUID"})
    needs_rows = want_metadata or layout_rows or compare_nbia
    # A series from IDC needs no getSeriesSize, nor a getSeries row but for the layout (its
    # licence and DOI come from the index).
    wanted = [
        uid
        for uid, row in rows.items()
        if (needs_rows and _bare(row) and (layout_rows or compare_nbia or not from_idc(uid)))
        or (expected_from(row) is None and not from_idc(uid))
    ]
    for uid, found in (await bulk_rows(client, wanted)).items():
        rows[uid] = {**found, **rows[uid]} if not _bare(rows[uid]) else found
    if needs_rows:
        # The whole list's rows: a layout's collisions are decided over all of it. The layout
        # reads the archive's rows whatever the source, so a series lands where it always did.
        bare = [
            uid
            for uid, row in rows.items()
            if _bare(row) and (layout_rows or compare_nbia or not from_idc(uid))
        ]
        fetch_row = functools.partial(series_row, client)
        async for uid, row in backend.map_unordered(
            fetch_row, bare, _METADATA_CONCURRENCY, backend.CancelFlag()
        ):
            if row:
                rows[uid] = row
    plan = DownloadPlan.build(rows, dest, layout=chosen, extract=extract, shard=picked)
    plan.series = [
        _routed(p, located.get(p.series_instance_uid), from_idc(p.series_instance_uid))
        for p in plan.series
    ]
    unsized = [
        p.series_instance_uid for p in plan.series if p.expected is None and p.source == "nbia"
    ]
    sizes: dict[str, Expected | TCIAError] = {}
    fetch_size = functools.partial(series_expected, client)
    async for uid, expected in backend.map_unordered(
        fetch_size, unsized, _METADATA_CONCURRENCY, backend.CancelFlag()
    ):
        sizes[uid] = expected
    plan.series = [
        _sized(p, sizes[p.series_instance_uid]) if p.series_instance_uid in sizes else p
        for p in plan.series
    ]
    return plan


def _sized(planned: PlannedSeries, size: Expected | TCIAError) -> PlannedSeries:
    """The planned series with its sizes, or with why they could not be had (reported as its
    outcome, without asking again)."""
    if isinstance(size, TCIAError):
        return dataclasses.replace(planned, failure=size)
    return dataclasses.replace(planned, expected=size)


def _routed(planned: PlannedSeries, where: IDCSeries | None, from_idc: bool) -> PlannedSeries:
    """The planned series with what IDC's index says of it, and its source."""
    if not from_idc:
        return PlannedSeries(
            planned.series_instance_uid, planned.path, planned.expected, planned.row, "nbia", where
        )
    row = dict(planned.row)
    if where is not None:  # under IDC's own names, beside the archive's (the sidecar shows both)
        row.update(where.columns())
    return PlannedSeries(
        planned.series_instance_uid,
        planned.path,
        where.expected() if where is not None else None,
        row,
        "idc",
        where,
    )


async def iter_plan(
    client: AsyncTCIAClient,
    plan: DownloadPlan,
    *,
    concurrency: int,
    verify_md5: bool,
    new_file_names: bool,
    keep_md5_list: bool,
    progress: bool,
    idc_options: IDCOptions | None = None,
) -> AsyncIterator[DownloadOutcome]:
    """Each planned series downloaded, ``concurrency`` at a time, outcomes as they finish.

    The series from IDC go in batches, one s5cmd run each (s5cmd copies many files at once
    itself); a batch takes one of the ``concurrency`` slots, beside the archive's series."""
    cancel = backend.CancelFlag()
    total = sum(p.expected.image_bytes for p in plan.series if p.expected is not None)
    options = idc_options or IDCOptions()
    from_idc = [p for p in plan.series if p.source == "idc"]
    work: list[PlannedSeries | IDCBatch] = [
        IDCBatch(plan, batch, options) for batch in chunks(from_idc, options.batch_size)
    ]
    work += [p for p in plan.series if p.source != "idc"]
    with DownloadProgress(progress, len(plan.series), total or None) as bars:

        async def one(item: PlannedSeries | IDCBatch) -> list[DownloadOutcome]:
            if isinstance(item, IDCBatch):
                outcomes = await download_batch(item, cancel=cancel, progress=bars.for_series())
                for _ in outcomes:
                    bars.series_done()
                return outcomes
            return [await from_nbia(item)]

        async def from_nbia(planned: PlannedSeries) -> DownloadOutcome:
            target = plan.target(planned)
            if planned.failure is not None:
                bars.series_done()
                return DownloadOutcome(
                    planned.series_instance_uid,
                    error=planned.failure,
                    path=target.final,
                    metadata=planned.row,
                )
            try:
                result = await client._download(  # pyright: ignore[reportPrivateUsage]
                    target,
                    expected=planned.expected,
                    verify_md5=verify_md5,
                    new_file_names=new_file_names,
                    keep_md5_list=keep_md5_list,
                    progress=bars.for_series(),
                    cancel=cancel,
                )
                outcome = DownloadOutcome(
                    planned.series_instance_uid,
                    result=result,
                    path=target.final,
                    metadata=planned.row,
                )
            except Exception as error:  # every failure is reported, none aborts the others
                outcome = DownloadOutcome(
                    planned.series_instance_uid,
                    error=describe_failure(error, planned.series_instance_uid),
                    path=target.final,
                    metadata=planned.row,
                )
            bars.series_done()
            return outcome

        async for outcomes in backend.map_unordered(one, work, concurrency, cancel):
            for outcome in outcomes:
                yield outcome


async def bulk_rows(client: AsyncTCIAClient, uids: list[str]) -> dict[str, dict[str, Any]]:
    """Each series' row from bulk series metadata, where the generation has it (NBIA v4: one
    request per 10 000 series, with ImageCount and FileSize, which NBIA sums as getSeriesSize
    sums TotalSizeInBytes). Empty otherwise, or when that request fails: each series then asks
    getSeries or getSeriesSize, and its own failure is reported with it."""
    bulk = QUERIES.get("getSeriesMetadataList")
    if not uids or bulk is None or bulk.wire(client.api) is None:
        return {}
    try:
        found = await client.get_series_metadata_list(series_instance_uids=uids)
    except TCIAError as error:
        log.info("bulk series metadata failed (%s); asking per series", error)
        return {}
    return {row.SeriesInstanceUID: {**row.model_dump(), **(row.model_extra or {})} for row in found}


async def series_row(client: AsyncTCIAClient, uid: str) -> tuple[str, dict[str, Any] | None]:
    """A series' getSeries row (for a layout or a sidecar), or ``None`` when it cannot be had
    (the download then reports why)."""
    try:
        found = await client.get_series(series_instance_uid=uid)
    except Exception:
        return uid, None
    if not found:
        return uid, None
    row = found[0]
    return uid, {**row.model_dump(), **(row.model_extra or {})}


async def series_expected(client: AsyncTCIAClient, uid: str) -> tuple[str, Expected | TCIAError]:
    """A series' image count and bytes from getSeriesSize, or why they cannot be had."""
    try:
        size = await client.get_series_size(series_instance_uid=uid)
    except Exception as error:
        return uid, describe_failure(error, uid)
    expected = expected_from(size.model_dump())
    if expected is None:
        return uid, DownloadError(
            f"{uid}: getSeriesSize did not say how many images and bytes the series holds, so "
            "the archive cannot be checked; nothing was downloaded",
            series_instance_uid=uid,
            query="getSeriesSize",
        )
    return uid, expected
