"""A plan as a table (what ``tcia plan`` writes) and its coverage per collection (what it prints):
per series its source, where it lands, what it should bring, and what IDC's index and the
archive each say of it (their instance counts compared)."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._exceptions import InvalidParameterError, StorageError
from ._plan import DownloadPlan, PlannedSeries, human_bytes
from .idc import doi_url, require_pyarrow

__all__ = ["Coverage", "coverage", "plan_table", "write_plan"]


def _record(planned: PlannedSeries) -> dict[str, Any]:
    row, idc, expected = planned.row, planned.idc, planned.expected
    nbia_count = row.get("ImageCount") if isinstance(row.get("ImageCount"), int) else None
    from_idc = idc is not None and planned.source == "idc"
    return {
        "SeriesInstanceUID": planned.series_instance_uid,
        "source": planned.source,
        "path": planned.path.as_posix(),
        "collection": _collection(planned),
        "expected_files": expected.image_count if expected else None,
        "expected_bytes": expected.image_bytes if expected else None,
        "nbia_image_count": nbia_count,
        "nbia_bytes": row.get("FileSize") if isinstance(row.get("FileSize"), int) else None,
        "idc_instance_count": idc.instance_count if idc else None,
        "idc_bytes": idc.size_bytes if idc else None,
        "instance_counts_differ": None
        if idc is None or nbia_count is None
        else idc.instance_count != nbia_count,
        # The licence of what will be downloaded: IDC's for a series from IDC.
        "license": (idc.license if from_idc and idc else None)
        or row.get("LicenseName")
        or (idc.license if idc else None),
        "doi": (doi_url(idc.doi) if from_idc and idc else None)
        or row.get("DataDescriptionURI")
        or row.get("CollectionURI")
        or (doi_url(idc.doi) if idc else None),
        "idc_collection_id": idc.collection_id if idc else None,
        "aws_bucket": idc.aws_bucket if idc else None,
        "crdc_series_uuid": idc.crdc_series_uuid if idc else None,
        "series_aws_url": idc.url if idc else None,
    }


def _collection(planned: PlannedSeries) -> str:
    named = planned.row.get("Collection") or (planned.idc.collection_id if planned.idc else None)
    return str(named) if named else "unknown collection"


def plan_table(plan: DownloadPlan) -> Any:
    """One row per planned series, as a ``pyarrow.Table``."""
    require_pyarrow()
    import pyarrow as pa

    return pa.Table.from_pylist([_record(p) for p in plan.series])


def write_plan(plan: DownloadPlan, path: str | os.PathLike[str]) -> Path:
    """The plan's table as ``.parquet`` or ``.csv``, written whole or not at all."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InvalidParameterError(f"{target}: give a .parquet or .csv file name for the plan")
    table = plan_table(plan)
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    partial = target.with_name(f".{target.name}.tcia-partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".parquet":
            pq.write_table(table, partial)  # pyright: ignore[reportUnknownMemberType]
        else:
            pcsv.write_csv(table, partial)  # pyright: ignore[reportUnknownMemberType]
        os.replace(partial, target)
    except OSError as error:
        raise StorageError(
            f"cannot write {target}: {error.strerror or error}", path=str(target)
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return target


@dataclass(frozen=True)
class Coverage:
    """What IDC has of one collection's planned series."""

    collection: str
    series: int
    in_idc: int
    only_nbia: int
    counts_differ: int
    from_idc: int
    idc_bytes: int


def coverage(plan: DownloadPlan) -> list[Coverage]:
    """Per collection: series IDC's index has, series only the archive has, and instance counts
    that differ between the two."""
    groups: dict[str, list[PlannedSeries]] = defaultdict(list)
    for planned in plan.series:
        groups[_collection(planned)].append(planned)
    return [
        Coverage(
            name,
            series=len(members),
            in_idc=sum(p.idc is not None for p in members),
            only_nbia=sum(p.idc is None for p in members),
            counts_differ=sum(bool(_record(p)["instance_counts_differ"]) for p in members),
            from_idc=sum(p.source == "idc" for p in members),
            idc_bytes=sum(p.idc.size_bytes for p in members if p.idc is not None),
        )
        for name, members in sorted(groups.items())
    ]


def describe_coverage(plan: DownloadPlan) -> str:
    """What ``tcia plan`` prints: coverage per collection, then the series whose counts differ."""
    rows = coverage(plan)
    header = ("collection", "series", "in IDC", "only NBIA", "counts differ", "from IDC", "IDC")
    cells = [header] + [
        (
            c.collection,
            str(c.series),
            str(c.in_idc),
            str(c.only_nbia),
            str(c.counts_differ),
            str(c.from_idc),
            human_bytes(c.idc_bytes),
        )
        for c in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(v.ljust(widths[i]) for i, v in enumerate(row)).rstrip() for row in cells]
    differing = [
        p
        for p in plan.series
        if p.idc is not None
        and isinstance(p.row.get("ImageCount"), int)
        and p.row["ImageCount"] != p.idc.instance_count
    ]
    for planned in differing[:20]:
        assert planned.idc is not None
        lines.append(
            f"  instance counts differ: {planned.series_instance_uid}: the archive lists "
            f"{planned.row['ImageCount']} images, IDC's index {planned.idc.instance_count} "
            f"(from {planned.source})"
        )
    if len(differing) > 20:
        lines.append(f"  ... and {len(differing) - 20} more whose counts differ")
    licences = sorted({str(p.idc.license) for p in plan.series if p.idc and p.idc.license})
    if licences:
        lines.append(f"IDC licences: {'; '.join(licences)} (each series' licence is in the plan)")
    return "\n".join(lines)
