"""What a download run leaves beside the images: a metadata sidecar (one row per series, with
where it landed and how it went) and the licences and DOIs of what was downloaded, which users
must cite."""

from __future__ import annotations

import csv
import datetime
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._download import DownloadOutcome
from ._exceptions import InvalidParameterError, StorageError
from .idc import doi_url

__all__ = ["Citation", "citations", "write_sidecar"]

# The columns the sidecar opens with; the series' own metadata follows.
_OUTCOME_COLUMNS = (
    "SeriesInstanceUID",
    "outcome",
    "source",
    "path",
    "file_count",
    "bytes",
    "md5",
    "error",
)
# The keys each generation puts a licence and a DOI under (v4 renamed CollectionURI).
_DOI_KEYS = ("DataDescriptionURI", "CollectionURI")


@dataclass(frozen=True)
class Citation:
    """One licence and DOI, and the downloaded series under them."""

    license_name: str | None
    license_uri: str | None
    doi: str | None
    collections: tuple[str, ...]
    series: int

    def describe(self) -> str:
        licence = self.license_name or "licence not given by the server"
        if self.license_uri:
            licence += f" ({self.license_uri})"
        cite = f"; cite {self.doi}" if self.doi else ""
        collections = ", ".join(self.collections) or "unknown collection"
        return f"{collections} ({self.series} series): {licence}{cite}"


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def citations(outcomes: Iterable[DownloadOutcome]) -> list[Citation]:
    """The licences and DOIs of the series that are on disk (downloaded or already complete)."""
    groups: dict[tuple[str | None, str | None, str | None], list[Mapping[str, Any]]] = defaultdict(
        list
    )
    for outcome in outcomes:
        if outcome.result is None:
            continue
        row = outcome.metadata
        key: tuple[str | None, str | None, str | None]
        if outcome.source == "idc":  # what came from IDC is under IDC's licence (its index's)
            licence = _text(row.get("license_short_name"))
            key = (licence, None, doi_url(_text(row.get("source_DOI"))))
        else:
            doi = next((_text(row.get(key)) for key in _DOI_KEYS if row.get(key)), None)
            key = (_text(row.get("LicenseName")), _text(row.get("LicenseURI")), doi)
        groups[key].append(row)
    return [
        Citation(
            name,
            uri,
            doi,
            tuple(sorted({_collection(r) for r in rows if _collection(r)})),
            len(rows),
        )
        for (name, uri, doi), rows in sorted(groups.items(), key=lambda item: str(item[0]))
    ]


def _collection(row: Mapping[str, Any]) -> str:
    """The archive's name of the collection, else IDC's (``collection_id``)."""
    return str(row.get("Collection") or row.get("collection_id") or "")


def _outcome_row(outcome: DownloadOutcome, dest: Path) -> dict[str, Any]:
    result = outcome.result
    where = result.path if result is not None else outcome.path
    return {
        "SeriesInstanceUID": outcome.series_instance_uid,
        "outcome": "failed"
        if result is None
        else ("already complete" if result.skipped else "downloaded"),
        "source": outcome.source,
        "path": os.path.relpath(where, dest) if where is not None else None,
        "file_count": result.file_count if result else None,
        "bytes": result.bytes if result else None,
        "md5": None if result is None else ("verified" if result.md5_verified else "not checked"),
        "error": str(outcome.error) if outcome.error else None,
    }


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: dict[str, None] = dict.fromkeys(_OUTCOME_COLUMNS)
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def write_sidecar(
    path: str | os.PathLike[str], outcomes: Sequence[DownloadOutcome], dest: str | os.PathLike[str]
) -> Path:
    """One row per series: its outcome, where it landed (relative to dest), its files, bytes and
    MD5 status, then its metadata. ``.csv``, or ``.parquet`` (``pip install
    'tcia-models[arrow]'``); written whole or not at all."""
    target = Path(path)
    rows = [
        {
            **_outcome_row(outcome, Path(dest)),
            **{k: _cell(v) for k, v in outcome.metadata.items() if k != "SeriesInstanceUID"},
        }
        for outcome in outcomes
    ]
    columns = _columns(rows)
    partial = target.with_name(f".{target.name}.tcia-partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix.lower() == ".parquet":
            _write_parquet(partial, rows, columns)
        elif target.suffix.lower() in (".csv", ".tsv"):
            with partial.open("w", newline="", encoding="utf-8") as sink:
                writer = csv.DictWriter(
                    sink, columns, delimiter="\t" if target.suffix.lower() == ".tsv" else ","
                )
                writer.writeheader()
                writer.writerows(rows)
        else:
            raise InvalidParameterError(
                f"metadata={str(target)!r}: give a .csv, .tsv or .parquet file name"
            )
        os.replace(partial, target)
    except OSError as error:
        raise StorageError(
            f"cannot write {target}: {error.strerror or error}", path=str(target)
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return target


def _write_parquet(path: Path, rows: Sequence[Mapping[str, Any]], columns: list[str]) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            "a .parquet sidecar needs pyarrow: pip install 'tcia-models[arrow]' (or use .csv)"
        ) from None
    table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
    pq.write_table(table, path)  # pyright: ignore[reportUnknownMemberType]
