"""IDC's side of a test: a bucket laid out as IDC's, and an index of it in IDC's exact schema.

``publish`` puts series of a ``TCIATestServer`` (their real DICOM files) on an ``S3TestServer``
as IDC's buckets hold them, ``<crdc_series_uuid>/<instance uuid>.dcm``, and returns their rows
of IDC's series index; ``write_index`` writes those rows as the parquet file idc-index-data
ships (the same 31 columns and types), for ``IDCOptions(index=...)`` or ``--idc-index``.
UUIDs are derived from the DICOM UIDs, so every run lays the bucket out alike.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .images import sop_class_for
from .s3 import S3TestServer
from .server import TCIATestServer

__all__ = ["IDC_INDEX_COLUMNS", "index_row", "instance_key", "publish", "write_index"]

IDC_INDEX_COLUMNS: tuple[tuple[str, str], ...] = (
    ("collection_id", "large_string"),
    ("analysis_result_id", "large_string"),
    ("PatientID", "large_string"),
    ("SeriesInstanceUID", "large_string"),
    ("StudyInstanceUID", "large_string"),
    ("source_DOI", "large_string"),
    ("PatientAge", "large_string"),
    ("PatientSex", "large_string"),
    ("StudyDate", "large_string"),
    ("StudyDescription", "large_string"),
    ("BodyPartExamined", "large_string"),
    ("Modality", "large_string"),
    ("SOPClassUID", "large_string"),
    ("sop_class_name", "large_string"),
    ("TransferSyntaxUID", "large_string"),
    ("transfer_syntax_name", "large_string"),
    ("PhotometricInterpretation", "large_string"),
    ("PixelRepresentation", "large_string"),
    ("Manufacturer", "large_string"),
    ("ManufacturerModelName", "large_string"),
    ("SeriesDate", "large_string"),
    ("SeriesDescription", "large_string"),
    ("SeriesNumber", "large_string"),
    ("instanceCount", "int64"),
    ("license_short_name", "large_string"),
    ("series_init_idc_version", "int64"),
    ("series_revised_idc_version", "int64"),
    ("aws_bucket", "large_string"),
    ("crdc_series_uuid", "large_string"),
    ("series_aws_url", "large_string"),
    ("series_size_MB", "double"),
)
"""The columns of idc-index-data 25.0.5's ``idc_index.parquet``, in order, with their Arrow
types (tests/test_idc.py checks them against the installed idc-index-data)."""

_NAMESPACE = uuid.UUID("5a1e6b6e-2c1f-4f7e-9a43-6d1c0de1dc00")
_TRANSFER_SYNTAX = ("1.2.840.10008.1.2.1", "Explicit VR Little Endian")


def crdc_series_uuid(series_instance_uid: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, series_instance_uid))


def instance_key(series_instance_uid: str, file_name: str) -> str:
    """The object key of one of the series' files: ``<crdc_series_uuid>/<instance uuid>.dcm``."""
    instance = uuid.uuid5(_NAMESPACE, f"{series_instance_uid}/{file_name}")
    return f"{crdc_series_uuid(series_instance_uid)}/{instance}.dcm"


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    isoformat = getattr(value, "isoformat", None)
    return str(isoformat()) if callable(isoformat) else str(value)


def index_row(
    row: Mapping[str, Any],
    files: Sequence[tuple[str, bytes]],
    *,
    bucket: str = "idc-open-data",
    license: str = "CC BY 3.0",
) -> dict[str, Any]:
    """IDC's index row of a series: the archive's row, and the files the bucket holds."""
    uid = str(row["SeriesInstanceUID"])
    series_uuid = crdc_series_uuid(uid)
    doi = str(row.get("DataDescriptionURI") or "").removeprefix("https://doi.org/").lower()
    modality = str(row.get("Modality") or "OT")
    return {
        # IDC's collection_id: the collection's name in lower case, other characters "_".
        "collection_id": re.sub(r"[^a-z0-9]", "_", str(row.get("Collection", "")).lower()),
        "analysis_result_id": None,
        "PatientID": _text(row.get("PatientID")),
        "SeriesInstanceUID": uid,
        "StudyInstanceUID": _text(row.get("StudyInstanceUID")),
        "source_DOI": doi or None,
        "PatientAge": _text(row.get("PatientAge")),
        "PatientSex": _text(row.get("PatientSex")),
        "StudyDate": _text(row.get("StudyDate")),
        "StudyDescription": _text(row.get("StudyDescription")),
        "BodyPartExamined": _text(row.get("BodyPartExamined")),
        "Modality": modality,
        "SOPClassUID": sop_class_for(modality),
        "sop_class_name": f"{modality} Image Storage",
        "TransferSyntaxUID": _TRANSFER_SYNTAX[0],
        "transfer_syntax_name": _TRANSFER_SYNTAX[1],
        "PhotometricInterpretation": "MONOCHROME2",
        "PixelRepresentation": "0",
        "Manufacturer": _text(row.get("Manufacturer")),
        "ManufacturerModelName": _text(row.get("ManufacturerModelName")),
        "SeriesDate": _text(row.get("SeriesDate")),
        "SeriesDescription": _text(row.get("SeriesDescription")),
        "SeriesNumber": _text(row.get("SeriesNumber")),
        "instanceCount": len(files),
        "license_short_name": license,
        "series_init_idc_version": 1,
        "series_revised_idc_version": 1,
        "aws_bucket": bucket,
        "crdc_series_uuid": series_uuid,
        "series_aws_url": f"s3://{bucket}/{series_uuid}/*",
        # As IDC computes it: the sum of the files' sizes / 1e6.
        "series_size_MB": round(sum(len(body) for _, body in files) / 1e6, 6),
    }


def publish(
    tcia: TCIATestServer,
    s3: S3TestServer,
    series_instance_uids: Iterable[str],
    *,
    bucket: str = "idc-open-data",
    license: str = "CC BY 3.0",
) -> list[dict[str, Any]]:
    """Put the series' DICOM files on ``s3`` as IDC lays them out; their index rows."""
    rows = {str(r["SeriesInstanceUID"]): r for r in tcia.dataset.series_rows()}
    s3.create_bucket(bucket)
    published: list[dict[str, Any]] = []
    for uid in series_instance_uids:
        files = tcia.images(uid)
        for name, body in files:
            s3.put(bucket, instance_key(uid, name), body)
        published.append(index_row(rows[uid], files, bucket=bucket, license=license))
    return published


def write_index(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]]) -> Path:
    """``rows`` as an index parquet in IDC's schema (needs pyarrow)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types: dict[str, pa.DataType] = {
        "large_string": pa.large_string(),
        "int64": pa.int64(),
        "double": pa.float64(),
    }
    schema = pa.schema([pa.field(name, types[kind]) for name, kind in IDC_INDEX_COLUMNS])
    table = pa.Table.from_pylist([dict(row) for row in rows], schema=schema)
    target = Path(path)
    pq.write_table(table, target)  # pyright: ignore[reportUnknownMemberType]
    return target
