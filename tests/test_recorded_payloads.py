"""Every recorded real TCIA/NBIA response (tests/data/recorded/sources.json says where each came
from) parses into its query's model: every row, nothing dropped, the right Python types."""

from __future__ import annotations

import csv
import datetime
import io
import json
import types
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import AliasChoices
from pydantic.fields import FieldInfo

from tcia_models import QUERIES, Patient, PatientStudy, SeriesMetadata, TCIAModel, parse

from .conftest import DATA

SOURCES = json.loads((DATA / "recorded" / "sources.json").read_text())["payloads"]


def _raw_rows(body: str, format: str) -> list[dict[str, Any]]:
    if format == "csv":
        return list(csv.DictReader(io.StringIO(body)))
    rows = json.loads(body)
    assert isinstance(rows, list)
    return rows


def _keys(name: str, field: FieldInfo) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [name]


def _python_type(field: FieldInfo) -> type | tuple[type, ...]:
    annotation = field.annotation
    if get_origin(annotation) in (Union, types.UnionType):
        (annotation,) = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation)
    return origin if isinstance(origin, type) else annotation  # type: ignore[return-value]


def test_every_recorded_file_is_listed_with_its_source() -> None:
    listed = {entry["file"] for entry in SOURCES}
    on_disk = {
        path.relative_to(DATA).as_posix()
        for folder in ("recorded", "tcia-samples")
        for path in (DATA / folder).iterdir()
        if path.suffix in (".json", ".csv") and path.name != "sources.json"
    }
    # error bodies and headers are not rows of a model
    not_rows = {"tcia-samples/bindaas-v4-getSingleImage-error.json"}
    assert listed == on_disk - not_rows
    for entry in SOURCES:
        assert entry["source"] and entry["captured"] and entry["query"] in QUERIES, entry


@pytest.mark.parametrize("entry", SOURCES, ids=[entry["file"] for entry in SOURCES])
def test_a_recorded_payload_parses_whole_with_python_types(entry: dict[str, Any]) -> None:
    spec = QUERIES[entry["query"]]
    assert spec.model is not None and spec.wire(entry["generation"]) is not None
    body = (DATA / entry["file"]).read_text("utf-8")
    raw = _raw_rows(body, entry["format"])
    rows: list[TCIAModel] = parse(spec.model, body, entry["format"], query=spec.name)
    assert len(rows) == len(raw) > 0
    fields = spec.model.model_fields
    owner = {key: name for name, field in fields.items() for key in _keys(name, field)}
    for source, row in zip(raw, rows, strict=True):
        assert row.model_extra == {}, f"dropped into model_extra: {row.model_extra}"
        for key, value in source.items():
            name = owner[key]
            parsed = getattr(row, name)
            if value == "":  # one rule in every format: an empty value is a missing value
                assert parsed is None, (key, parsed)
                continue
            expected = _python_type(fields[name])
            assert isinstance(parsed, expected), (key, value, parsed)
            if expected is datetime.date:
                assert not isinstance(parsed, datetime.datetime), (key, value)
            if isinstance(parsed, datetime.date):
                assert 1900 <= parsed.year <= 2030, (key, value)
        for name in fields.keys() - {owner[key] for key in source}:
            assert getattr(row, name) is None, name  # nothing invented


def test_the_full_soft_tissue_sarcoma_series_list_types() -> None:
    body = (
        DATA / "recorded" / "nbia-v2-getSeries-Soft-tissue-Sarcoma-2025-05-all.json"
    ).read_text()
    series = parse(QUERIES["getSeries"].model, body)  # type: ignore[arg-type]
    assert len(series) == 612
    assert sum(s.FileSize or 0 for s in series) > 9_000_000_000  # 9.87 GB over the collection
    assert all(isinstance(s.TimeStamp, datetime.datetime) for s in series)
    assert all(s.AnnotationsFlag is None and s.ThirdPartyAnalysis is None for s in series)


def _xml(rows: list[dict[str, str]]) -> str:
    cells = "".join(
        "<Row>"
        + "".join(f"<{k} type='java.lang.String'>{v}</{k}>" for k, v in r.items())
        + "</Row>"
        for r in rows
    )
    return f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Results>{cells}</Results>'


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize(
    ("model", "sample"),
    [
        (Patient, "recorded/nbia-v1-getPatient-LIDC-IDRI-2026-09.json"),
        (PatientStudy, "tcia-samples/nbia-v1-getPatientStudy-LIDC-IDRI-0001.json"),
    ],
)
def test_the_same_data_gives_the_same_values_in_json_csv_and_xml(
    model: type[TCIAModel], sample: str
) -> None:
    rows = json.loads((DATA / sample).read_text())
    as_text = [{k: str(v) for k, v in row.items()} for row in rows]
    from_json = parse(model, json.dumps(rows), "json")
    assert parse(model, _csv(as_text), "csv") == from_json
    assert parse(model, _xml(as_text), "xml") == from_json
    assert all(row.PatientName is None for row in from_json)  # sent as "": a missing value


def test_empty_values_in_every_format_and_the_fast_json_path_agree() -> None:
    row = {"PatientId": "P1", "PatientName": "", "Collection": "C", "PatientSex": ""}
    expected = Patient(PatientID="P1", Collection="C")
    assert parse(Patient, json.dumps([row])) == [expected]
    assert parse(Patient, json.dumps([row]).encode()) == [expected]
    assert parse(Patient, _csv([row]), "csv") == [expected]
    assert parse(Patient, _xml([row]), "xml") == [expected]
    assert parse(Patient, json.dumps([{"PatientId": "P1", "Collection": "C"}])) == [expected]


def test_java_date_to_string_from_getseriesmetadata_v2() -> None:
    """NBIA v2 getSeriesMetaData sends Series Date, Date Released and TimeStamp as Java's
    Date.toString()."""
    row = {
        "Series UID": "1.2.3",
        "Collection": "LIDC-IDRI",
        "Series Date": "Sat Jan 01 00:00:00 UTC 2000",
        "Date Released": "Mon Nov 04 11:45:52 UTC 2013",
        "TimeStamp": "Tue Dec 10 09:01:02 EST 2019",
        "Number of Images": "2",
        "Series Number": "3000923.000000",
    }
    (item,) = parse(SeriesMetadata, json.dumps([row]))
    assert item.SeriesDate == datetime.date(2000, 1, 1)
    assert item.DateReleased == datetime.datetime(2013, 11, 4, 11, 45, 52)
    assert item.TimeStamp == datetime.datetime(2019, 12, 10, 9, 1, 2)
    assert (item.ImageCount, item.SeriesNumber) == (2, 3000923)
    assert item.model_extra == {}


@pytest.mark.parametrize("format", ["json", "csv", "xml"])
def test_tables_follow_the_same_empty_value_rule_and_date_forms(format: str) -> None:
    from tcia_models.tables import parse_table

    rows = json.loads((DATA / "recorded" / "nbia-v1-getPatient-LIDC-IDRI-2026-09.json").read_text())
    as_text = [{k: str(v) for k, v in row.items()} for row in rows]
    body = {"json": json.dumps(rows), "csv": _csv(as_text), "xml": _xml(as_text)}[format]
    table = parse_table(Patient, body, format)  # type: ignore[arg-type]
    assert table.column("PatientName").null_count == len(rows)
    assert table.to_pylist() == [row.model_dump() for row in parse(Patient, body, format)]  # type: ignore[arg-type]
    java = [{"Series UID": "1.2", "Date Released": "Mon Nov 04 11:45:52 UTC 2013"}]
    (released,) = parse_table(SeriesMetadata, json.dumps(java), "json").column("DateReleased")
    assert released.as_py() == datetime.datetime(2013, 11, 4, 11, 45, 52)
