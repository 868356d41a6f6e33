"""What TCIA answers to each query, over the server's dataset.

Most queries are a filter and a projection of one joined table (a row per series), written in
the requested format; ZIP and DICOM queries send the series' images. A query whose answer is
neither registers its own function in ``ANSWERS`` (keyed by query name): that and its metadata
document are all a new query touches.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any

from .dataset import Dataset, Row
from .faults import Fault
from .formats import CONTENT_TYPES, WRITERS
from .http import Reply
from .images import ImageStore, header_rows, sop_class_for, zip_entries
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
        rows = self.filter(document, arguments)
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

    def filter(self, document: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[Row]:
        """The rows of the joined table (one per series) that the query's parameters keep."""
        rows: Iterable[Row] = self.table
        for parameter in document["queryParameters"]:
            name = parameter["name"]
            if (
                name not in arguments
                or name in _CONTROL_PARAMETERS
                or name in _ARCHIVE_OPTIONS
                or parameter.get("repeated")
                or "default" in parameter
            ):
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
        return list(rows)


Answer = Callable[[Archive, Dialect, Mapping[str, Any], "Fault | None"], Reply]
"""(archive, the query as one generation speaks it, canonical arguments, fault) -> reply."""


def empty(dialect: Dialect) -> Reply:
    """No rows, as the generation answers them (its ``emptyAnswer``)."""
    if dialect.empty_answer == "noContent":  # Tomcat drops the body, keeps the type
        return Reply(204, b"", "application/json")
    if dialect.empty_answer == "emptyList":
        return Reply(200, b"[]", "application/json")
    return Reply(200, b"", None)  # Response.ok().build(): no entity, so no Content-Type


def _denied(uid: object) -> Reply:
    """NBIA v4's answer for a series it does not hold or may not show (isUserHasAccess)."""
    message = (
        f"The user has not been granted the access to image with given SeriesInstanceUID,"
        f"{uid}. Please contact System Admin to resolve this issue."
    )
    return Reply(400, message.encode(), "application/json")


def _write(dialect: Dialect, selected: list[Row], requested: str) -> Reply:
    if requested not in WRITERS:
        return Reply(500, _SERVER_ERROR, "text/plain") if selected else empty(dialect)
    if not selected:
        return empty(dialect)
    body = WRITERS[requested](selected, dialect.columns())
    return Reply(200, body, CONTENT_TYPES[requested])


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
        return _write(dialect, selected, str(arguments.get("format", "json")).lower())


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
    md5hashes.csv where asked for; NewFileNames=Yes names the images as NBIA does."""
    uid = arguments["SeriesInstanceUID"]
    if uid not in archive.images:
        if dialect.denies_unknown_series:
            return _denied(uid)
        return Reply(200, b"", "application/octet-stream")
    hashed = dialect.document["name"] == "getImageWithMD5Hash"
    md5 = hashed or str(arguments.get("IncludeMD5")).lower() == "yes"
    new_names = str(arguments.get("NewFileNames")).lower() == "yes"
    headers = {
        "Content-Disposition": f'attachment; filename="{uid}.zip"',
        "imageCount": str(len(archive.images.images(uid).files)),
    }
    options = {"md5": md5, "with_license": not hashed, "new_file_names": new_names}
    if fault is None:
        body = archive.images.archive(uid, **options)
    else:
        body = zip_entries(fault.on_archive(archive.images.entries(uid, **options)))
    return Reply(200, body, "application/octet-stream", headers, chunked=True)


def value_counts(
    archive: Archive, dialect: Dialect, arguments: Mapping[str, Any], _: Fault | None
) -> Reply:
    """getModalityValuesAndCounts and its kin: each value of the query's first attribute (a
    series column) with the number of distinct patients having it (ValueAndCountDAOImpl)."""
    column = dialect.document["attributes"][0]["name"]
    patients: dict[str | None, set[str]] = {}
    for row in archive.filter(dialect.document, arguments):
        value = row.get(column)
        if column == "BodyPartExamined":  # NBIA's SQL: upper(body_part_examined)
            value = str(value).upper() if value else "NOT SPECIFIED"
        patients.setdefault(value, set()).add(row["PatientID"])
    selected = [
        dialect.render({column: value, "Count": len(ids), "Authorized": 1})
        for value, ids in patients.items()
    ]
    if not selected:
        return empty(dialect)
    return Reply(200, _json(selected), "application/json")


def collection_descriptions(
    archive: Archive, dialect: Dialect, arguments: Mapping[str, Any], _: Fault | None
) -> Reply:
    """getCollectionDescriptions: Jackson writes every key, null included; a collection
    asked for by name that has no description is one row of nulls but its name."""
    dois: dict[str, str] = {}
    for series in archive.table:  # the DOI of the original images, not of an analysis
        if series.get("ThirdPartyAnalysis") in (None, "NO") and series.get("DataDescriptionURI"):
            dois.setdefault(series["Collection"], series["DataDescriptionURI"])
    known = {c["Collection"]: c for c in archive.dataset.collections}
    described = {d["Collection"]: d for d in archive.dataset.descriptions()}
    wanted = arguments.get("collectionName")
    names = list(described) if not wanted else [wanted] if wanted in known else []
    keys = [a["name"] for a in dialect.attributes]
    selected: list[Row] = []
    for name in names:
        entry = described.get(name)
        row: Row = {key: None for key in keys} | {"collectionName": name}
        if entry is not None:
            released = datetime.datetime.fromisoformat(archive.dataset.released(name))
            row |= {
                "description": entry["Description"],
                "id": entry["DescriptionId"],
                "collectionDescTimestamp": int(
                    released.replace(tzinfo=datetime.UTC).timestamp() * 1000
                ),
                "licenseId": 1,
                "descriptionURI": dois.get(name),
            }
        selected.append({key: row[key] for key in keys})
    return Reply(200, _json(selected), "application/json")


def doi_contents(
    archive: Archive, dialect: Dialect, arguments: Mapping[str, Any], _: Fault | None
) -> Reply:
    """getCollectionOrSeriesForDOI: the series whose DataDescriptionURI is the DOI, one row per
    series (CollectionOrSeries=series) or per collection and third-party flag."""
    doi = arguments.get("DOI")
    per_series = str(arguments.get("CollectionOrSeries", "")).lower() == "series"
    found: dict[tuple[Any, ...], Row] = {}
    for row in archive.table:
        if doi and row.get("DataDescriptionURI") != doi:
            continue
        entry: Row = {
            "collection": row["Collection"],
            "seriesInstanceUID": row["SeriesInstanceUID"] if per_series else None,
            "thirdPartyAnalysis": row.get("ThirdPartyAnalysis"),
            "authorized": 1,
        }
        found.setdefault(tuple(entry.values()), entry)
    selected = [dialect.render(entry) for entry in found.values()]
    return Reply(200, _json(selected), "application/json") if selected else empty(dialect)


def dicom_tags(
    archive: Archive, dialect: Dialect, arguments: Mapping[str, Any], _: Fault | None
) -> Reply:
    """getDicomTags: the header of the series' first image, row by row."""
    uid = arguments["SeriesUID"]
    if uid not in archive.images:
        return _denied(uid)
    files = archive.images.images(uid).files
    if not files:
        return empty(dialect)
    return Reply(200, _json(header_rows(files[0][1])), "application/json")


def simple_search(
    archive: Archive, dialect: Dialect, arguments: Mapping[str, Any], _: Fault | None
) -> Reply:
    """getSimpleSearch: NBIA's PatientSearchSummary (Jackson, NON_NULL)."""
    try:
        search = Search(archive, dialect, arguments)
        page = search.page()
    except (KeyError, ValueError, IndexError):  # NBIA: a NullPointer or IndexOutOfBounds
        return Reply(500, _SERVER_ERROR, "text/plain")
    summary: Row = {
        "resultSet": page,
        "totalPatients": len(search.patients),
        "bodyParts": search.facet("BodyPartExamined"),
        "modalities": search.facet("Modality"),
        "collections": search.facet("Collection"),
        "species": search.facet("SpeciesCode"),
        "maxTimepoints": {},
        "minTimepoints": {},
        "sort": f"{arguments['sortField']}-{arguments['sortDirection']}",
    }
    return Reply(200, _json(summary), "application/json")


def search_manifest(
    archive: Archive, dialect: Dialect, arguments: Mapping[str, Any], _: Fault | None
) -> Reply:
    """getManifestForSimpleSearch: the .tcia manifest (ManifestMaker) of every matching
    series of the page's patients."""
    try:
        search = Search(archive, dialect, arguments)
        patients = {p["subjectId"] for p in search.page()}
    except (KeyError, ValueError, IndexError):
        return Reply(500, _SERVER_ERROR, "text/plain")
    uids = [row["SeriesInstanceUID"] for row in search.rows if row["PatientID"] in patients]
    header = [
        "downloadServerUrl=https://nbia.cancerimagingarchive.net/nbia-download/servlet/"
        "DownloadServlet",
        "includeAnnotation=false",
        "noOfrRetry=4",
        f"databasketId=manifest-{int(time.time() * 1000)}.tcia",
        "manifestVersion=3.0",
        "ListOfSeriesToDownload=",
    ]
    body = "".join(f"{line}\n" for line in [*header, *uids]).encode()
    return Reply(200, body, "application/x-nbia-manifest-file")


def series_metadata_list(
    archive: Archive, dialect: Dialect, arguments: Mapping[str, Any], _: Fault | None
) -> Reply:
    """v4 getSeriesMetadata (POST list=uid,uid,...): CSV by default, in request order;
    unknown UIDs left out; no rows at all is an empty answer, not even a header."""
    wanted = list(dict.fromkeys(arguments["SeriesInstanceUIDs"]))
    by_uid = {row["SeriesInstanceUID"]: row for row in archive.table}
    names = [a["name"] for a in dialect.document["attributes"]]
    selected = [
        dialect.render({name: archive.value(by_uid[uid], name) for name in names})
        for uid in wanted
        if uid in by_uid
    ]
    requested = str(arguments.get("format") or "csv").lower()
    reply = _write(dialect, selected, requested)
    if requested == "csv" and reply.body:
        disposition = 'attachment; filename="SeriesMetaData.csv"'
        return reply.with_(headers={"Content-Disposition": disposition})
    return reply


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


class Search:
    """NBIA's simple search over the archive (SearchUtil, PatientSearcher): every criterion
    holds, any value within one; patients sorted, then paged."""

    _SORT_KEYS: Mapping[str, str] = {
        "collection": "project",
        "subject": "subjectId",
        "study": "totalNumberOfStudies",
        "series": "totalNumberOfSeries",
        "totalnumberofstudies": "totalNumberOfStudies",
        "totalnumberofseries": "totalNumberOfSeries",
    }

    def __init__(self, archive: Archive, dialect: Dialect, arguments: Mapping[str, Any]) -> None:
        self.dialect = dialect
        self.start, self.size = int(arguments["start"]), int(arguments["size"])
        sort_field = str(arguments["sortField"]).lower()
        self.sort_key = self._SORT_KEYS.get(sort_field, "project")  # NBIA's fallback
        self.descending = str(arguments["sortDirection"]).lower() != "ascending"
        self.rows = [row for row in archive.table if self._matches(row, arguments)]
        studies_of: dict[str, set[str]] = {}
        for row in self.rows:
            studies_of.setdefault(row["PatientID"], set()).add(row["StudyInstanceUID"])
        # NBIA keeps patients with MORE than the N it is sent; the canonical value (the wire's
        # valueOffset undone) is the "at least" the client was given.
        at_least = arguments.get("minStudies")
        if at_least is not None:
            self.rows = [r for r in self.rows if len(studies_of[r["PatientID"]]) >= at_least]
        self.patients = self._patients(archive)

    @staticmethod
    def _matches(row: Row, arguments: Mapping[str, Any]) -> bool:
        def any_of(parameter: str, value: Any) -> bool:
            wanted = arguments.get(parameter)
            return not wanted or str(value or "").casefold() in {str(w).casefold() for w in wanted}

        released = str(row.get("DateReleased", ""))[:10]
        since, until = arguments.get("fromDate"), arguments.get("toDate")
        return (
            any_of("collections", row["Collection"])
            and any_of("species", row.get("SpeciesCode") or "337915000")
            and any_of("modalities", row["Modality"])
            and any_of("bodyParts", row.get("BodyPartExamined"))
            and any_of("manufacturers", row.get("Manufacturer"))
            and (not arguments.get("patients") or row["PatientID"] in arguments["patients"])
            and (since is None or released >= since.isoformat())
            and (until is None or released <= until.isoformat())
        )

    def _patients(self, archive: Archive) -> list[Row]:
        keys = {p["PatientID"]: n for n, p in enumerate(archive.dataset.patients, start=1)}
        series_keys = {
            s["SeriesInstanceUID"]: n for n, s in enumerate(archive.dataset.series, start=1000)
        }
        study_keys = {
            s["StudyInstanceUID"]: n for n, s in enumerate(archive.dataset.studies, start=500)
        }
        everything: dict[str, list[Row]] = {}
        for row in archive.table:
            everything.setdefault(row["PatientID"], []).append(row)
        matched: dict[str, list[Row]] = {}
        for row in self.rows:
            matched.setdefault(row["PatientID"], []).append(row)
        wanted = {a["name"] for a in self.dialect.attributes}
        patients: list[Row] = []
        for patient, rows in matched.items():
            studies: dict[str, list[int]] = {}
            for row in rows:
                studies.setdefault(row["StudyInstanceUID"], []).append(
                    series_keys[row["SeriesInstanceUID"]]
                )
            result: Row = {
                "subjectId": patient,
                "project": rows[0]["Collection"],
                "id": keys[patient],
                "modalities": sorted({r["Modality"] for r in rows}),
                "bodyParts": sorted({str(r.get("BodyPartExamined", "")).upper() for r in rows}),
                "species": sorted({r.get("SpeciesCode") or "337915000" for r in rows}),
                "timepoints": {},
                "totalNumberOfStudies": len({r["StudyInstanceUID"] for r in everything[patient]}),
                "totalNumberOfSeries": len(everything[patient]),
                "authorized": 1,
                "studyIdentifiers": [
                    {
                        "seriesIdentifiers": ids,
                        "seriesAndModality": [],
                        "studyIdentifier": study_keys[uid],
                    }
                    for uid, ids in studies.items()
                ],
            }
            if "authorized" not in wanted:  # the unversioned API does not send it
                del result["authorized"]
            patients.append(result)
        patients.sort(key=lambda p: p[self.sort_key], reverse=self.descending)
        return patients

    def page(self) -> list[Row]:
        if self.start > len(self.patients):  # NBIA's subList: IndexOutOfBoundsException
            raise IndexError(self.start)
        return self.patients[self.start : self.start + self.size]

    def facet(self, column: str) -> list[Row]:
        patients: dict[str, set[str]] = {}
        for row in self.rows:
            value = row.get(column)
            if column == "SpeciesCode":
                value = value or "337915000"
            elif column == "BodyPartExamined":
                value = str(value).upper() if value else "NOT SPECIFIED"
            patients.setdefault(str(value), set()).add(row["PatientID"])
        return [{"value": v, "count": len(ids)} for v, ids in patients.items()]


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


ANSWERS: Mapping[str, Answer] = {
    "getCollectionValuesAndCounts": value_counts,
    "getModalityValuesAndCounts": value_counts,
    "getBodyPartValuesAndCounts": value_counts,
    "getManufacturerValuesAndCounts": value_counts,
    "getCollectionDescriptions": collection_descriptions,
    "getCollectionOrSeriesForDOI": doi_contents,
    "getDicomTags": dicom_tags,
    "getSimpleSearch": simple_search,
    "getManifestForSimpleSearch": search_manifest,
    "getSeriesMetadataList": series_metadata_list,
}
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
