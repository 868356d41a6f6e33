"""What TCIA answers to each query, over the server's dataset.

Most queries are a filter and a projection of one joined table (a row per series), written in
the requested format; ZIP and DICOM queries send the series' images. A query whose answer is
neither registers its own function in ``ANSWERS`` (keyed by query name): that and its metadata
document are all a new query touches.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any

from .dataset import Dataset, Row
from .faults import Fault
from .formats import CONTENT_TYPES, WRITERS
from .http import Reply
from .images import ImageStore, sop_class_for, zip_entries
from .wire import Dialect

__all__ = ["ANSWERS", "Archive", "Answer"]

_SERVER_ERROR = b"Server was not able to process your request"
_CONTROL_PARAMETERS = frozenset({"format", "api_key"})
_ARCHIVE_OPTIONS = frozenset({"NewFileNames", "IncludeMD5"})
_KEPT_BODIES = 4
"""Rows answers kept per archive: the dataset never changes, so neither does an answer."""


class Archive:
    """The dataset as TCIA holds it: the joined series table, its computed columns, and the
    DICOM files of each series."""

    def __init__(self, dataset: Dataset, *, prewarm: bool = False) -> None:
        self.dataset = dataset
        self.table = dataset.series_rows()
        self.images = ImageStore(dataset, rows=self.table)
        if prewarm:
            self.images.warm()

        def total_size(row: Row) -> int:
            return self.images.images(row["SeriesInstanceUID"]).total_size

        # Columns computed from the DICOM files the server sends, so that they always agree.
        self.computed: Mapping[str, Callable[[Row], Any]] = {
            "TotalSizeInBytes": total_size,
            "FileSize": total_size,
            "ObjectCount": lambda row: len(self.images.images(row["SeriesInstanceUID"]).files),
            "SOPClassUID": lambda row: sop_class_for(row["Modality"]),
        }
        uids = {row["SeriesInstanceUID"] for row in self.table}
        self._unique = len(uids) == len(self.table)
        """No two series share a UID, so no two projections holding it are the same row."""
        self._bodies: OrderedDict[str, Reply] = OrderedDict()
        self._bodies_lock = threading.Lock()

    def kept(self, key: str, build: Callable[[], Reply]) -> Reply:
        """The reply for ``key``, built once: an archive-scale answer (a million rows) takes
        many seconds to build and is asked for again and again by benchmarks."""
        with self._bodies_lock:
            reply = self._bodies.get(key)
            if reply is not None:
                self._bodies.move_to_end(key)
                return reply
        reply = build()
        with self._bodies_lock:
            self._bodies[key] = reply
            while len(self._bodies) > _KEPT_BODIES:
                self._bodies.popitem(last=False)
        return reply

    def value(self, row: Row, name: str) -> Any:
        if name in self.computed:
            return self.computed[name](row)
        return row.get(name)

    def select(self, document: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[Row]:
        """Filter the joined table by the query's parameters, then project onto its attributes."""
        rows: Iterable[Row] = self.table
        for parameter in document["queryParameters"]:
            name = parameter["name"]
            if name not in arguments or name in _CONTROL_PARAMETERS or name in _ARCHIVE_OPTIONS:
                continue
            wanted = arguments[name]
            if name == "name":  # ContentsByName: the members of a shared list
                members = set(self.dataset.shared_list_members(wanted))
                rows = [row for row in rows if row["SeriesInstanceUID"] in members]
            elif parameter["type"] == "date":  # "since": released on or after the date
                since = wanted.isoformat()
                rows = [row for row in rows if str(row.get("DateReleased", ""))[:10] >= since]
            else:  # MySQL's default collation: equality ignores case
                folded = str(wanted).casefold()
                rows = [
                    row for row in rows if str(self.value(row, name) or "").casefold() == folded
                ]
        names = [attribute["name"] for attribute in document["attributes"]]
        if "SOPInstanceUID" in names:  # one row per image, not per series
            rows = [
                {**row, "SOPInstanceUID": uid}
                for row in rows
                for uid in self.images.images(row["SeriesInstanceUID"]).sop_instance_uids
            ]
        stored = [name for name in names if name not in self.computed]
        computed = [(name, self.computed[name]) for name in names if name in self.computed]
        projected_rows: list[Row] = []
        for row in rows:
            # What value() gives, in one pass per row: a million rows at archive scale.
            projected = {name: value for name in stored if (value := row.get(name)) is not None}
            for name, compute in computed:
                value = compute(row)
                if value is not None:
                    projected[name] = value
            projected_rows.append(projected)
        if "SeriesInstanceUID" in stored and "SOPInstanceUID" not in names and self._unique:
            return projected_rows  # one row per series, each distinct: nothing to merge
        selected: dict[tuple[tuple[str, Any], ...], Row] = {}
        for projected in projected_rows:
            selected.setdefault(tuple(projected.items()), projected)
        return list(selected.values())


Answer = Callable[[Archive, Dialect, Mapping[str, Any], "Fault | None"], Reply]
"""(archive, the query as one generation speaks it, canonical arguments, fault) -> reply."""


def rows(
    archive: Archive, dialect: Dialect, arguments: Mapping[str, Any], _: Fault | None
) -> Reply:
    requested = str(arguments.get("format", "json")).lower()
    filters = sorted((k, v) for k, v in arguments.items() if k != "format")
    key = repr((dialect.api, dialect.document["name"], filters, requested))
    return archive.kept(key, lambda: _rows(archive, dialect, arguments))


def _rows(archive: Archive, dialect: Dialect, arguments: Mapping[str, Any]) -> Reply:
    with _collector_paused(len(archive.table)):
        selected = [dialect.render(row) for row in archive.select(dialect.document, arguments)]
        requested = str(arguments.get("format", "json")).lower()
        if requested not in WRITERS:
            return Reply(500, _SERVER_ERROR, "text/plain") if selected else Reply(200, b"")
        body = WRITERS[requested](selected, dialect.columns()) if selected else b""
    return Reply(200, body, CONTENT_TYPES[requested])


@contextlib.contextmanager
def _collector_paused(rows: int) -> Generator[None]:
    """Building a million rows' dicts would set off the cyclic collector again and again, each
    run rescanning every row built so far: paused for big tables (none of it is cyclic)."""
    paused = rows > 10_000 and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def series_archive(
    archive: Archive, dialect: Dialect, arguments: Mapping[str, Any], fault: Fault | None
) -> Reply:
    """getImage and getImageWithMD5Hash: LICENSE (not with MD5 hashes), the images, and
    md5hashes.csv where asked for."""
    uid = arguments["SeriesInstanceUID"]
    if uid not in archive.images:
        return Reply(200, b"", "application/octet-stream")
    hashed = dialect.document["name"] == "getImageWithMD5Hash"
    md5 = hashed or str(arguments.get("IncludeMD5")).lower() == "yes"
    headers = {
        "Content-Disposition": f'attachment; filename="{uid}.zip"',
        "imageCount": str(len(archive.images.images(uid).files)),
    }
    if fault is None:
        body = archive.images.archive(uid, md5=md5, with_license=not hashed)
    else:
        entries = archive.images.entries(uid, md5=md5, with_license=not hashed)
        body = zip_entries(fault.on_archive(entries))
    return Reply(200, body, "application/octet-stream", headers, chunked=True)


def single_image(
    archive: Archive, dialect: Dialect, arguments: Mapping[str, Any], _: Fault | None
) -> Reply:
    """getSingleImage: one DICOM file."""
    uid, sop_uid = arguments["SeriesInstanceUID"], arguments["SOPInstanceUID"]
    if uid not in archive.images:
        return Reply(200, b"", "application/dicom")
    images = archive.images.images(uid)
    found = [
        data
        for (_, data), sop in zip(images.files, images.sop_instance_uids, strict=True)
        if sop == sop_uid
    ]
    headers = {"Content-Disposition": f"attachment; filename={sop_uid}.dcm"}
    return Reply(200, found[0] if found else b"", "application/dicom", headers)


ANSWERS: Mapping[str, Answer] = {}
"""Queries answered by a function of their own (by query name), ahead of the defaults."""

BY_RETURN_TYPE: Mapping[str, Answer] = {"ZIP": series_archive, "DICOM": single_image}
"""The default answer of a query whose return types include one of these."""


def answer_for(document: Mapping[str, Any]) -> Answer:
    special = ANSWERS.get(document["name"])
    if special is not None:
        return special
    for return_type, answer in BY_RETURN_TYPE.items():
        if return_type in document["returnTypes"]:
            return answer
    return rows
