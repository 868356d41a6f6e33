"""The data a ``TCIATestServer`` serves: collections, patients, studies and series.

The default dataset is the test-server data that TCIA's usage guide (v1) lists: 15 collections,
16 patient studies and 42 series (``data/guide-test-data.json``; ``data/README.md`` tells how it
was repaired from the guide's PDF text), plus what NBIA v4's queries need: an RTSTRUCT and a SEG
series over one CT, collection descriptions, and an NLST collection on its own server. A
dataset file holds normalized tables whose keys are the API's attribute names; the server joins
them into the flat rows the queries return.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["Dataset", "ImageShape"]

Row = dict[str, Any]


@dataclass(frozen=True)
class ImageShape:
    """The pixel matrix of every generated DICOM image in a series."""

    rows: int = 8
    columns: int = 8


@dataclass(frozen=True)
class Dataset:
    collections: tuple[Row, ...]
    patients: tuple[Row, ...]
    studies: tuple[Row, ...]
    series: tuple[Row, ...]
    shared_lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict[str, tuple[str, ...]])
    image_shape: ImageShape = ImageShape()
    license: str = "Creative Commons Attribution 3.0 Unported License"
    license_uri: str = "http://creativecommons.org/licenses/by/3.0/"

    @classmethod
    def guide(cls) -> Dataset:
        """The test-server data of the TCIA REST API usage guide, v1."""
        text = (
            resources.files("tcia_models.testing")
            .joinpath("data/guide-test-data.json")
            .read_text("utf-8")
        )
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path: str | Path) -> Dataset:
        """A dataset file of the same shape as ``data/guide-test-data.json``."""
        return cls.from_dict(json.loads(Path(path).read_text("utf-8")))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Dataset:
        shape = data.get("imageShape", {})
        dataset = cls(
            collections=tuple(data["collections"]),
            patients=tuple(data["patients"]),
            studies=tuple(data["studies"]),
            series=tuple(data["series"]),
            shared_lists={k: tuple(v) for k, v in data.get("sharedLists", {}).items()},
            image_shape=ImageShape(**shape),
        )
        dataset._check_references()
        return dataset

    @classmethod
    def synthetic(
        cls,
        *,
        series_count: int,
        images_per_series: int,
        image_shape: ImageShape = ImageShape(),
        collection: str = "SYNTHETIC",
    ) -> Dataset:
        """A made-up collection of same-sized series, for load and download benchmarks."""
        root = "1.2.826.0.1.3680043.10.1404"
        studies = [
            {
                "StudyInstanceUID": f"{root}.1.{n}",
                "StudyDate": "2020-01-01",
                "PatientID": f"SYN-{n:04d}",
            }
            for n in range(series_count)
        ]
        return cls(
            collections=({"Collection": collection},),
            patients=tuple(
                {
                    "PatientID": s["PatientID"],
                    "PatientName": s["PatientID"],
                    "Collection": collection,
                }
                for s in studies
            ),
            studies=tuple(studies),
            series=tuple(
                {
                    "SeriesInstanceUID": f"{root}.2.{n}",
                    "StudyInstanceUID": study["StudyInstanceUID"],
                    "Modality": "CT",
                    "SeriesDate": "2020-01-01",
                    "SeriesNumber": 1,
                    "BodyPartExamined": "CHEST",
                    "Manufacturer": "SYNTHETIC",
                    "ImageCount": images_per_series,
                }
                for n, study in enumerate(studies)
            ),
            image_shape=image_shape,
        )

    def _check_references(self) -> None:
        patients = {p["PatientID"] for p in self.patients}
        studies = {s["StudyInstanceUID"] for s in self.studies}
        collections = {c["Collection"] for c in self.collections}
        problems = [
            f"patient {p['PatientID']}: unknown collection {p['Collection']!r}"
            for p in self.patients
            if p["Collection"] not in collections
        ]
        problems += [
            f"study {s['StudyInstanceUID']}: unknown patient {s['PatientID']!r}"
            for s in self.studies
            if s["PatientID"] not in patients
        ]
        problems += [
            f"series {s['SeriesInstanceUID']}: unknown study {s['StudyInstanceUID']!r}"
            for s in self.series
            if s["StudyInstanceUID"] not in studies
        ]
        if problems:
            raise ValueError("inconsistent dataset: " + "; ".join(problems))

    def series_rows(self) -> list[Row]:
        """One flat row per series: the series joined with its study, patient and collection."""
        patients = {p["PatientID"]: p for p in self.patients}
        studies = {s["StudyInstanceUID"]: s for s in self.studies}
        series_per_study: dict[str, int] = {}
        for series in self.series:
            uid = series["StudyInstanceUID"]
            series_per_study[uid] = series_per_study.get(uid, 0) + 1
        released = {c["Collection"]: self._released(i, c) for i, c in enumerate(self.collections)}
        collections = {c["Collection"]: c for c in self.collections}
        # The same for every series of a collection: made once per collection, not per series.
        nbia = {name: self._nbia_columns(entry, released) for name, entry in collections.items()}
        rows: list[Row] = []
        for series in self.series:
            study = studies[series["StudyInstanceUID"]]
            patient = patients[study["PatientID"]]
            collection = patient["Collection"]
            row = {
                **nbia[collection],
                **patient,
                **study,
                **series,
            }
            if "DateReleased" in series:  # a series released after its collection (an analysis)
                row["TimeStamp"] = series["DateReleased"]
                row["MaxSubmissionTimestamp"] = series["DateReleased"][:10]
            row["SeriesCount"] = series_per_study[series["StudyInstanceUID"]]
            if "StudyDescription" in row:
                row["StudyDesc"] = row["StudyDescription"]
            rows.append(row)
        return rows

    @staticmethod
    def _released(index: int, collection: Row) -> str:
        """When a collection was released: its own ``DateReleased``, else a made-up, fixed one."""
        if "DateReleased" in collection:
            return str(collection["DateReleased"])
        moment = datetime.datetime(2014, 1, 6, 12, 0, 0) + datetime.timedelta(days=45 * index)
        return moment.isoformat(" ")

    def _nbia_columns(self, entry: Row, released: Mapping[str, str]) -> Row:
        """What the NBIA generations send beyond the guide's attributes, consistently made up
        where the dataset does not say (a collection's own DataDescriptionURI, say)."""
        collection = entry["Collection"]
        phantom = "PHANTOM" in collection.upper()
        doi = entry.get("DataDescriptionURI") or self.doi(collection)
        return {
            "LicenseName": self.license,
            "LicenseURI": self.license_uri,
            "CollectionURI": doi,
            "DataDescriptionURI": doi,
            "DateReleased": released[collection],
            "TimeStamp": released[collection],
            "MaxSubmissionTimestamp": released[collection][:10],
            "ThirdPartyAnalysis": "NO",
            "ReleasedStatus": "Yes",
            "Authorized": 1,
            "Phantom": "YES" if phantom else "NO",
            **(
                {}
                if phantom
                else {"SpeciesCode": "337915000", "SpeciesDescription": "Homo sapiens"}
            ),
        }

    def released(self, collection: str) -> str:
        """When a collection was released (ISO date and time)."""
        for index, entry in enumerate(self.collections):
            if entry["Collection"] == collection:
                return self._released(index, entry)
        raise KeyError(collection)

    @staticmethod
    def doi(collection: str) -> str:
        """The made-up DOI of a collection that has none of its own."""
        slug = "".join(ch for ch in collection.upper() if ch.isalnum())
        return f"https://doi.org/10.7937/K9/TCIA.{slug}"

    def descriptions(self) -> list[Row]:
        """The collections that have a description (HTML), each with ``Description`` and a
        stable ``DescriptionId``."""
        return [
            {**c, "DescriptionId": 100 + index}
            for index, c in enumerate(self.collections)
            if "Description" in c
        ]

    def on_server(self, server: str, *, default: bool) -> Dataset:
        """The part of the dataset one server holds: the collections whose ``Server`` is
        ``server`` (or that name none, on the default server). NLST's host has NLST only."""
        kept = {
            c["Collection"]
            for c in self.collections
            if c.get("Server", server if default else None) == server
        }
        patients = tuple(p for p in self.patients if p["Collection"] in kept)
        patient_ids = {p["PatientID"] for p in patients}
        studies = tuple(s for s in self.studies if s["PatientID"] in patient_ids)
        study_ids = {s["StudyInstanceUID"] for s in studies}
        series = tuple(s for s in self.series if s["StudyInstanceUID"] in study_ids)
        series_ids = {s["SeriesInstanceUID"] for s in series}
        return replace(
            self,
            collections=tuple(c for c in self.collections if c["Collection"] in kept),
            patients=patients,
            studies=studies,
            series=series,
            shared_lists={
                name: uids for name, uids in self.shared_lists.items() if set(uids) <= series_ids
            },
        )

    def shared_list_members(self, name: str) -> Sequence[str]:
        return self.shared_lists.get(name, ())
