"""Download manifests: the archive's ``.tcia`` files, and CSV/TSV tables with a UID column.

``read_manifest(path)`` takes what users bring: a ``.tcia`` from the archive's website cart or
``getManifestForSimpleSearch`` (six ``key=value`` header lines, then ``ListOfSeriesToDownload=``
and one UID a line), a CSV or TSV with a ``SeriesInstanceUID`` column (or ``Series UID``,
``Series Instance UID``, ...), or a plain list of UIDs. ``write_manifest(path, series)`` writes a
``.tcia`` byte for byte as NBIA's ``ManifestMaker`` does, so the archive's Data Retriever,
tcia_utils (which skips exactly six header lines) and this package all read it.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from ._exceptions import InvalidParameterError, StorageError

__all__ = [
    "DEFAULT_DOWNLOAD_SERVER",
    "Manifest",
    "manifest_text",
    "read_manifest",
    "write_manifest",
]

DEFAULT_DOWNLOAD_SERVER = (
    "https://nbia.cancerimagingarchive.net/nbia-download/servlet/DownloadServlet"
)
"""What today's archive writes as ``downloadServerUrl``."""

_MARKER = "ListOfSeriesToDownload="
_UID = re.compile(r"[0-9]+(?:\.[0-9]+)*")
# Spellings of the UID column in the spreadsheets users and peers write, compared without case,
# spaces or underscores.
_UID_COLUMNS = frozenset({"seriesinstanceuid", "seriesuid", "seriesid"})


@dataclass(frozen=True)
class Manifest:
    """The series a manifest lists, and its header (``.tcia`` files only)."""

    series_instance_uids: tuple[str, ...]
    download_server_url: str | None = None
    include_annotation: bool | None = None
    retries: int | None = None
    """The header's ``noOfrRetry`` (sic)."""
    databasket_id: str | None = None
    manifest_version: str | None = None
    header: Mapping[str, str] = field(default_factory=dict[str, str])
    """Every ``key=value`` line before ``ListOfSeriesToDownload=``, as written."""
    skipped_lines: tuple[tuple[int, str], ...] = ()
    """(line number, text) of lines that named no UID (a ``Series ID`` heading, say)."""
    format: str = "tcia"
    """``tcia``, ``csv``, ``tsv`` or ``list``."""


def _uid_of(text: str) -> str | None:
    candidate = text.strip().rstrip(",")  # the Java CLI tolerates legacy trailing commas too
    return candidate if _UID.fullmatch(candidate) else None


def _lines(text: str) -> list[str]:
    return text.lstrip("\ufeff").splitlines()


def _parse_tcia(text: str, source: str) -> Manifest:
    lines = _lines(text)
    header: dict[str, str] = {}
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.lower() == _MARKER.lower():
            body = lines[index + 1 :]
            break
        key, separator, value = stripped.partition("=")
        if separator:
            header[key.strip()] = value.strip()
    else:
        raise InvalidParameterError(
            f"{source}: a .tcia manifest without {_MARKER!r}: manifests before version 3.0 kept "
            "their series on the server and cannot be read today; download a new one from the "
            "archive's website"
        )
    uids: list[str] = []
    skipped: list[tuple[int, str]] = []
    for number, line in enumerate(body, start=index + 2):
        if not line.strip():
            continue
        uid = _uid_of(line)
        if uid is None:
            skipped.append((number, line))
        else:
            uids.append(uid)
    retries = header.get("noOfrRetry", "")
    annotation = header.get("includeAnnotation")
    return Manifest(
        series_instance_uids=tuple(dict.fromkeys(uids)),
        download_server_url=header.get("downloadServerUrl"),
        include_annotation=None if annotation is None else annotation.lower() == "true",
        retries=int(retries) if retries.isdigit() else None,
        databasket_id=header.get("databasketId"),
        manifest_version=header.get("manifestVersion"),
        header=header,
        skipped_lines=tuple(skipped),
    )


def _parse_table(text: str, source: str, delimiter: str) -> Manifest:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    heading = next(reader, list[str]())
    names = [re.sub(r"[\s_]", "", cell).lower() for cell in heading]
    column = next((i for i, name in enumerate(names) if name in _UID_COLUMNS), None)
    if column is None:
        raise InvalidParameterError(
            f"{source}: no SeriesInstanceUID column (the first row names {heading[:8]!r}); give a "
            "table with a SeriesInstanceUID (or 'Series UID') column, or a .tcia manifest"
        )
    uids: list[str] = []
    skipped: list[tuple[int, str]] = []
    for number, row in enumerate(reader, start=2):
        cell = row[column] if column < len(row) else ""
        uid = _uid_of(cell)
        if uid is not None:
            uids.append(uid)
        elif any(value.strip() for value in row):
            skipped.append((number, delimiter.join(row)))
    return Manifest(
        tuple(dict.fromkeys(uids)),
        skipped_lines=tuple(skipped),
        format="tsv" if delimiter == "\t" else "csv",
    )


def _parse_list(text: str) -> Manifest:
    uids: list[str] = []
    skipped: list[tuple[int, str]] = []
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        uid = _uid_of(line)
        if uid is None:
            skipped.append((number, line))
        else:
            uids.append(uid)
    return Manifest(tuple(dict.fromkeys(uids)), skipped_lines=tuple(skipped), format="list")


def parse_manifest(text: str, *, source: str = "manifest") -> Manifest:
    """A manifest from its text, its kind told by its content (not its file name)."""
    head = text.lstrip("\ufeff")[:65536]
    first = next(
        (line.strip() for line in head.splitlines() if line.strip() and not line.startswith("#")),
        "",
    )
    if first.startswith("downloadServerUrl=") or _MARKER.lower() in head.lower():
        return _parse_tcia(text, source)
    if "\t" in first:
        return _parse_table(text, source, "\t")
    if "," in first.rstrip(",") or (first and _uid_of(first) is None):
        return _parse_table(text, source, ",")
    return _parse_list(text)


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """The series of a ``.tcia`` manifest, a CSV/TSV with a UID column, or a list of UIDs.

    Lines that name no UID are kept in ``skipped_lines`` rather than sent as UIDs; a UID listed
    twice is kept once. Raises ``InvalidParameterError`` for a file that is none of these, and
    ``StorageError`` for one that cannot be read.
    """
    where = os.fspath(path)
    try:
        text = Path(where).read_text("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidParameterError(
            f"{where}: not UTF-8 text (byte {error.start}); give a .tcia manifest, a CSV/TSV "
            "table or one SeriesInstanceUID per line"
        ) from None
    except OSError as error:
        raise StorageError(
            f"cannot read {where}: {error.strerror or error}", path=where, query=None
        ) from None
    return parse_manifest(text, source=where)


def _uids(series: Iterable[object]) -> list[str]:
    uids: list[str] = []
    for item in series:
        uid: object = item if isinstance(item, str) else getattr(item, "SeriesInstanceUID", None)
        if uid is None and isinstance(item, Mapping):
            uid = cast("Mapping[str, object]", item).get("SeriesInstanceUID")
        if not isinstance(uid, str) or _UID.fullmatch(uid) is None:
            raise InvalidParameterError(f"{item!r:.80} names no SeriesInstanceUID")
        uids.append(uid)
    return list(dict.fromkeys(uids))


def manifest_text(
    series: Iterable[object],
    *,
    download_server_url: str = DEFAULT_DOWNLOAD_SERVER,
    include_annotation: bool = False,
    retries: int = 4,
    databasket_id: str | None = None,
) -> str:
    """A ``.tcia`` manifest for ``series`` (UIDs, ``Series`` rows or mappings), as NBIA writes
    one: the same six header lines in the same order, ``\\n`` line ends, no blank lines."""
    basket = databasket_id or f"manifest-{int(time.time() * 1000)}.tcia"
    lines = [
        f"downloadServerUrl={download_server_url}",
        f"includeAnnotation={'true' if include_annotation else 'false'}",
        f"noOfrRetry={retries}",
        f"databasketId={basket}",
        "manifestVersion=3.0",
        _MARKER,
        *_uids(series),
    ]
    return "".join(f"{line}\n" for line in lines)


def write_manifest(
    path: str | os.PathLike[str],
    series: Iterable[object],
    *,
    download_server_url: str = DEFAULT_DOWNLOAD_SERVER,
    include_annotation: bool = False,
    retries: int = 4,
) -> Path:
    """Write ``series`` as a ``.tcia`` manifest at ``path`` (atomically: never half a file)."""
    target = Path(path)
    text = manifest_text(
        series,
        download_server_url=download_server_url,
        include_annotation=include_annotation,
        retries=retries,
        databasket_id=target.name if target.suffix == ".tcia" else None,
    )
    partial = target.with_name(f".{target.name}.tcia-partial")
    try:
        partial.write_text(text, "utf-8", newline="\n")
        os.replace(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise StorageError(
            f"cannot write {target}: {error.strerror or error}", path=str(target)
        ) from None
    return target
