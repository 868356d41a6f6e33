"""The generated models: DICOM tags and descriptions from the guide, TCIA's wire types."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from pydantic import ValidationError
from pydicom.tag import Tag

import tcia_models
from tcia_models import (
    BodyPartExamined,
    Collection,
    Manufacturer,
    Modality,
    Patient,
    PatientStudy,
    Series,
    SeriesSize,
    TCIAModel,
    dicom_tags,
    parse,
)

from .conftest import DATA

SAMPLES = DATA / "tcia-samples"


def _guide_return_values() -> dict[str, list[tuple[str, str, str]]]:
    """The usage guide's Return Values tables: object -> [(attribute, tag, description)]."""
    text = (DATA / "seeds" / "usage-guide-v1.txt").read_text()
    section = text[text.index("Return Values") : text.index("Production / Test URLs")]
    tables: dict[str, list[tuple[str, str, str]]] = {}
    current: list[tuple[str, str, str]] = []
    lines = section.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("An object that represents"):
            current = tables.setdefault(lines[index - 2].strip(), [])
        elif "\t" in line and not line.startswith("Attribute\t"):
            name, tag, description = [*line.split("\t"), ""][:3]
            current.append((name.strip(), tag.strip(), description.strip()))
    return tables


GUIDE = _guide_return_values()
MODELS: dict[str, type[TCIAModel]] = {
    "Collection": Collection,
    "Modality": Modality,
    "BodyPartExamined": BodyPartExamined,
    "Manufacturer": Manufacturer,
    "Patient": Patient,
    "PatientStudy": PatientStudy,
    "Series": Series,
    "SeriesSize": SeriesSize,
}


def test_the_guide_tables_were_read() -> None:
    assert set(GUIDE) == {*MODELS, "Image"}
    assert len(GUIDE["Series"]) == 15 and len(GUIDE["PatientStudy"]) == 13


@pytest.mark.parametrize("object_name", sorted(MODELS))
def test_every_attribute_of_the_guide_is_a_field_with_its_tag_and_description(
    object_name: str,
) -> None:
    model = MODELS[object_name]
    tags = dicom_tags(model)
    guide = [name for name, _, _ in GUIDE[object_name]]
    assert list(model.model_fields)[: len(guide)] == guide  # then what NBIA added
    for name, tag, description in GUIDE[object_name]:
        field = model.model_fields[name]
        assert (field.description or "").startswith(description)
        if tag == "NA":
            assert name not in tags
        else:
            assert tags[name] == Tag(tag.replace(" ", "")), name
            assert model.model_json_schema()["properties"][name]["x-dicom-tag"] == tag.replace(
                " ", ""
            )


def test_issue_examples() -> None:
    assert Series.model_fields["ImageCount"].annotation == int | None
    assert dicom_tags(Series)["Modality"] == 0x00080060
    assert dicom_tags(PatientStudy)["StudyDate"] == Tag("StudyDate")


def test_models_are_exported_from_the_package() -> None:
    for name in MODELS:
        assert name in tcia_models.__all__


@pytest.mark.parametrize(
    "wire",
    ["2003-12-12", "2003-12-12 00:00:00.0", "12-12-2003", "20031212", "2003-12-12T00:00:00"],
)
def test_dates_accept_every_form_tcia_has_sent(wire: str) -> None:
    row = {"SeriesInstanceUID": "1.2", "StudyInstanceUID": "1.3", "Modality": "CT"}
    series = Series.model_validate({**row, "Collection": "C", "PatientID": "P", "SeriesDate": wire})
    assert series.SeriesDate == datetime.date(2003, 12, 12)
    from_json = Series.model_validate_json(
        json.dumps({**row, "Collection": "C", "PatientID": "P", "SeriesDate": wire})
    )
    assert from_json.SeriesDate == datetime.date(2003, 12, 12)


@pytest.mark.parametrize("wire", ["13-45-2003", "2003/12/12", "yesterday", "20031332"])
def test_a_date_in_no_known_form_is_a_validation_error(wire: str) -> None:
    with pytest.raises(ValidationError) as raised:
        PatientStudy.model_validate(
            {
                "StudyInstanceUID": "1",
                "PatientID": "P",
                "Collection": "C",
                "SeriesCount": 1,
                "StudyDate": wire,
            }
        )
    assert "StudyDate" in str(raised.value)


def test_counts_accept_numeric_strings_and_flags_accept_words() -> None:
    series = Series.model_validate(
        {
            "SeriesInstanceUID": "1",
            "StudyInstanceUID": "2",
            "Modality": "CT",
            "Collection": "C",
            "PatientID": "P",
            "ImageCount": "133",
            "SeriesNumber": "500.000000",
            "AnnotationsFlag": "YES",
        }
    )
    assert (series.ImageCount, series.SeriesNumber, series.AnnotationsFlag) == (133, 500, True)


def test_a_missing_required_attribute_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="SeriesInstanceUID"):
        Series.model_validate(
            {"StudyInstanceUID": "2", "Modality": "CT", "Collection": "C", "PatientID": "P"}
        )


def _sample(name: str) -> list[dict[str, object]]:
    rows = json.loads((SAMPLES / name).read_text())
    assert isinstance(rows, list)
    return rows


@pytest.mark.parametrize(
    "sample",
    [
        "nbia-v1-getSeries-LIDC-IDRI-2022-10.json",
        "nbia-v2-getSeries-Soft-tissue-Sarcoma-2025-05.json",
    ],
)
def test_real_getseries_payloads_validate_with_python_types(sample: str) -> None:
    rows = _sample(sample)
    series = [Series.model_validate(row) for row in rows]
    for row, item in zip(rows, series, strict=True):
        assert re.fullmatch(r"[0-9.]+", item.SeriesInstanceUID)
        assert isinstance(item.ImageCount, int) and item.ImageCount == row["ImageCount"]
        assert item.SeriesDate is None or isinstance(item.SeriesDate, datetime.date)
        assert item.SeriesNumber is None or isinstance(item.SeriesNumber, int)
        assert item.AnnotationsFlag in (None, True, False)
        for key in row.keys() - Series.model_fields.keys():
            assert item.model_extra is not None and item.model_extra[key] == row[key]
        for key in Series.model_fields.keys() - row.keys():
            assert getattr(item, key) is None
    assert series[0].SeriesDate is not None and series[0].SeriesDate.year in (2000, 2003)


def test_real_v2_series_fill_the_attributes_nbia_added() -> None:
    first = Series.model_validate(_sample("nbia-v2-getSeries-Soft-tissue-Sarcoma-2025-05.json")[0])
    assert first.model_extra == {}  # every key of today's v2 rows is a field now
    assert first.FileSize == 25273786
    assert first.LicenseName is not None and first.LicenseName.startswith("Creative Commons")
    assert first.CollectionURI == "https://doi.org/10.7937/K9/TCIA.2015.7GO2GSKS"
    assert first.TimeStamp == datetime.datetime(2015, 5, 27, 17, 12, 21)
    assert first.StudyDate == datetime.date(2003, 12, 12)


def test_a_key_the_models_do_not_know_is_kept() -> None:
    row = {
        "SeriesInstanceUID": "1",
        "StudyInstanceUID": "2",
        "Modality": "CT",
        "Collection": "C",
        "PatientID": "P",
    }
    series = Series.model_validate({**row, "NewColumn2030": [1, 2]})
    assert series.model_extra == {"NewColumn2030": [1, 2]}
    assert series.model_dump()["NewColumn2030"] == [1, 2]


def test_real_patient_study_size_and_value_list_payloads() -> None:
    body = (SAMPLES / "nbia-v1-getPatientStudy-LIDC-IDRI-0001.json").read_text()
    studies = parse(PatientStudy, body)
    assert [s.SeriesCount for s in studies] == [1, 9]
    assert studies[0].StudyDate == datetime.date(2000, 1, 1)
    # PatientName is sent as "": a missing value, as it is from CSV and XML
    assert studies[0].PatientName is None and studies[0].PatientAge is None
    size = SeriesSize.model_validate(_sample("nbia-v1-getSeriesSize-LIDC-IDRI-DX.json")[0])
    assert (size.TotalSizeInBytes, size.ObjectCount) == (16357620, 2)
    collections = [
        Collection.model_validate(r) for r in _sample("nbia-v2-getCollectionValues-2025-05.json")
    ]
    assert len(collections) == 135 and collections[0].Collection == "4D-Lung"
    modalities = [
        Modality.model_validate(r)
        for r in _sample("nbia-v2-getModalityValues-ACNS0332-2022-11.json")
    ]
    assert [m.Modality for m in modalities] == ["CT", "MR", "RTSTRUCT", "SEG"]


def test_a_null_value_list_row_is_an_empty_model() -> None:
    assert BodyPartExamined.model_validate({}).BodyPartExamined is None


def test_models_are_immutable_and_hashable() -> None:
    modality = Modality(Modality="CT")
    assert hash(modality) == hash(Modality(Modality="CT"))
    with pytest.raises(ValidationError):
        modality.Modality = "MR"  # type: ignore[misc]


def test_every_spelling_a_generation_uses_is_accepted() -> None:
    """Bindaas named a key after its SQL column when a query did not alias it."""
    row = {"series_instance_uid": "1.2", "study_instance_uid": "1.3", "project": "LIDC-IDRI"}
    series = Series.model_validate_json(json.dumps({**row, "Date Released": "2015-05-27"}))
    assert (series.SeriesInstanceUID, series.StudyInstanceUID) == ("1.2", "1.3")
    assert series.Collection == "LIDC-IDRI" and series.DateReleased is not None
    assert series.model_extra == {}
    assert Patient.model_validate({"PatientId": "P"}).PatientID == "P"


def test_only_the_key_of_a_series_is_required() -> None:
    assert [n for n, f in Series.model_fields.items() if f.is_required()] == ["SeriesInstanceUID"]
    assert Series.model_validate({"SeriesInstanceUID": "1.2"}).Modality is None
