"""Typed tables: Arrow schemas from the metadata, parse_table, and the clients' table form,
over real HTTP against the bundled server."""

from __future__ import annotations

import asyncio
import datetime
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tcia_models import (
    QUERIES,
    AsyncTCIAClient,
    Patient,
    ResponseFormatError,
    Series,
    SeriesMetadata,
    TCIAClient,
    TCIAModel,
    arrow_schema,
    dicom_tags,
    parse,
    parse_table,
)
from tcia_models._body import BufferSink
from tcia_models._generated.arrow_schemas import SCHEMAS
from tcia_models._types import DATE_FORMS, parse_tcia_datetime
from tcia_models.cli import main
from tcia_models.testing import Dataset, Fault, TCIATestServer

from .conftest import ROOT, run_codegen

LIST_QUERIES = [
    spec
    for spec in QUERIES.values()
    if spec.model is not None
    and not spec.single_row
    and "zip" not in spec.formats
    and spec.model.__name__ in SCHEMAS  # nested answers (a search's patients) have no table
]
FORMATS = ("json", "csv", "xml")


@pytest.fixture(scope="module")
def server() -> Iterator[TCIATestServer]:
    with TCIATestServer(users={"nbia_guest": ""}) as running:
        yield running


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()]


def _model_rows(models: list[Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.model_dump().items() if v is not None} for m in models]


# Schemas ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", LIST_QUERIES, ids=lambda spec: spec.name)
def test_every_model_has_a_schema_with_its_fields_tags_and_descriptions(spec: Any) -> None:
    model: type[TCIAModel] = spec.model
    schema = arrow_schema(model)
    assert schema.names == list(model.model_fields)
    tags = dicom_tags(model)
    for field in schema:
        metadata = field.metadata or {}
        described = model.model_fields[field.name].description
        assert metadata.get(b"description", b"").decode() == (described or "")
        if field.name in tags:
            assert int(metadata[b"x-dicom-tag"], 16) == tags[field.name]
        else:
            assert b"x-dicom-tag" not in metadata
        assert field.nullable == (not model.model_fields[field.name].is_required())


def test_series_columns_are_typed_as_a_table_user_wants_them() -> None:
    schema = arrow_schema(Series)
    assert schema.field("SeriesDate").type == pa.date32()
    assert schema.field("DateReleased").type == pa.timestamp("us")
    assert schema.field("ImageCount").type == pa.int64()
    assert schema.field("AnnotationsFlag").type == pa.bool_()
    for low_cardinality in ("Collection", "Modality", "BodyPartExamined", "Manufacturer"):
        assert schema.field(low_cardinality).type == pa.dictionary(pa.int32(), pa.string())
    assert schema.field("SeriesInstanceUID").type == pa.string()
    wire = json.loads((schema.field("DateReleased").metadata or {})[b"x-wire-names"])
    assert wire == ["Date Released"]


# parse_table follows parse ---------------------------------------------------------------------


def _offered(spec: Any) -> list[tuple[str, str]]:
    return [(g.api, f) for g in spec.generations for f in FORMATS if f in spec.formats]


@pytest.mark.parametrize(
    ("spec", "api", "format"),
    [(spec, api, f) for spec in LIST_QUERIES for api, f in _offered(spec)],
    ids=lambda value: value if isinstance(value, str) else value.name,
)
def test_parse_table_gives_what_parse_gives(
    server: TCIATestServer, spec: Any, api: str, format: str
) -> None:
    """Every list query, in every generation and format the bundled server speaks: the same
    values, row for row (wire names, dates in each generation's form, unknown keys)."""
    arguments = {p.name: ARGUMENTS.get(p.name, "x") for p in spec.parameters if p.required}
    with TCIAClient(api=api, base_url=server.base_url_for(api)) as tcia:  # type: ignore[arg-type]
        request = tcia._core.prepare(spec, arguments, format)
        body = tcia._exchange(request, BufferSink(), tcia._core.limit(request))
    table = parse_table(spec.model, body, format)  # type: ignore[arg-type]
    assert table.schema.names[: len(spec.model.model_fields)] == list(spec.model.model_fields)
    assert _rows(table) == _model_rows(parse(spec.model, body, format))  # type: ignore[arg-type]
    if spec.name in ("getSeries", "getPatientStudy", "getPatient"):
        assert table.num_rows > 10


ARGUMENTS = {
    "Collection": "BREAST-DIAGNOSIS",
    "Date": datetime.date(2000, 1, 1),
    "fromDate": datetime.date(2000, 1, 1),
    "Modality": "MR",
    "name": "guide-breast-diagnosis",
    "SeriesInstanceUID": "1.3.6.1.4.1.14519.5.2.1.4792.2001.116629832395416985379282582747",
    "SeriesUID": "1.3.6.1.4.1.14519.5.2.1.4792.2001.116629832395416985379282582747",
}


@pytest.mark.parametrize("form", DATE_FORMS, ids=lambda form: form.example)
@pytest.mark.parametrize("format", FORMATS)
def test_every_date_form_the_models_read_the_table_reads(form: Any, format: str) -> None:
    rows = [
        {"SeriesInstanceUID": "1.2", "StudyInstanceUID": "1.3", "Modality": "CT"},
        {"Collection": "X", "PatientID": "P", "SeriesDate": form.example},
        {"DateReleased": form.example, "MaxSubmissionTimestamp": form.example},
    ]
    body = _body([{**rows[0], **rows[1], **rows[2]}] * 3, format)
    table = parse_table(Series, body, format)  # type: ignore[arg-type]
    (model, *_) = parse(Series, body, format)  # type: ignore[arg-type]
    assert table.column("SeriesDate")[0].as_py() == model.SeriesDate
    assert table.column("MaxSubmissionTimestamp")[0].as_py() == model.MaxSubmissionTimestamp
    # The models' DateTime lets pydantic try first, which reads 20031212 as seconds since 1970;
    # the table reads every form as DATE_FORMS says.
    assert table.column("DateReleased")[0].as_py() == parse_tcia_datetime(form.example)


def _body(rows: list[dict[str, Any]], format: str) -> bytes:
    from tcia_models.testing.formats import WRITERS

    columns = [(key, "string") for key in dict.fromkeys(k for row in rows for k in row)]
    return WRITERS[format](rows, columns)


REQUIRED = {"SeriesInstanceUID": "1.2", "StudyInstanceUID": "1.3", "Modality": "CT"}
REQUIRED |= {"Collection": "X", "PatientID": "P"}


@pytest.mark.parametrize("format", FORMATS)
def test_an_empty_body_is_an_empty_table_with_the_schema(format: str) -> None:
    for body in (b"", b"  \n"):
        table = parse_table(Series, body, format)  # type: ignore[arg-type]
        assert table.num_rows == 0 and table.schema == arrow_schema(Series)
    assert parse_table(Series, b"[]", "json").schema == arrow_schema(Series)
    header_only = _body([REQUIRED], "csv").split(b"\n")[0] + b"\n"
    assert parse_table(Series, header_only, "csv").num_rows == 0


def test_empty_csv_values_are_missing_and_unknown_columns_are_kept() -> None:
    body = (
        b'"SeriesInstanceUID","StudyInstanceUID","Modality","Collection","PatientID",'
        b'"ImageCount","Date Released","NewColumn"\n'
        b'"1.2","1.3","CT","X","P","","2014-01-06 12:00:00.0","7"\n'
        b'"1.4","1.3","MR","X","P","12","","",\n'.rstrip(b",\n")
        + b"\n"
    )
    table = parse_table(Series, body, "csv")
    assert table.column("ImageCount").to_pylist() == [None, 12]
    assert table.column("DateReleased").to_pylist() == [datetime.datetime(2014, 1, 6, 12), None]
    assert table.column("NewColumn").to_pylist() == ["7", None]  # text, as parse keeps it
    assert table.schema.names[-1] == "NewColumn"


def test_json_keeps_unknown_keys_with_their_json_types_and_reads_wire_names() -> None:
    rows = [{**REQUIRED, "Date Released": "01-06-2014", "Brand": "new", "Count": 3}]
    table = parse_table(Series, json.dumps(rows).encode(), "json")
    assert table.column("DateReleased").to_pylist() == [datetime.datetime(2014, 1, 6)]
    assert table.column("Brand").to_pylist() == ["new"]
    assert table.column("Count").to_pylist() == [3]


def test_a_json_string_holding_the_row_separator_is_never_misread() -> None:
    rows = [{**REQUIRED, "SeriesDescription": 'a},{"Modality":"XX"'}, REQUIRED]
    body = json.dumps(rows, separators=(",", ":")).encode()
    table = parse_table(Series, body, "json")
    assert table.column("SeriesDescription").to_pylist() == ['a},{"Modality":"XX"', None]
    assert table.column("Modality").to_pylist() == ["CT", "CT"]


def test_pretty_printed_json_and_string_values_are_read_too() -> None:
    rows = [{**REQUIRED, "ImageCount": "12", "AnnotationsFlag": "yes"}]
    table = parse_table(Series, json.dumps(rows, indent=2).encode(), "json")
    assert table.column("ImageCount").to_pylist() == [12]
    assert table.column("AnnotationsFlag").to_pylist() == [True]


@pytest.mark.parametrize(
    ("body", "format", "says"),
    [
        (b"<html><body>Maintenance</body></html>", "json", "HTML page"),
        (b"<html><body>Maintenance</body></html>", "csv", "HTML page"),
        (b'[{"SeriesInstanceUID": "1.2"', "json", "not a JSON list"),
        (b"<Results><Row><A>1</A></Results>", "xml", "not valid XML"),
    ],
)
def test_a_body_that_is_not_the_format_is_a_response_format_error(
    body: bytes, format: str, says: str
) -> None:
    with pytest.raises(ResponseFormatError, match=says):
        parse_table(Series, body, format)  # type: ignore[arg-type]


@pytest.mark.parametrize("format", FORMATS)
def test_a_row_that_does_not_fit_is_named(format: str) -> None:
    rows = [{**REQUIRED, "SeriesDate": "2008-10-18"}] * 3 + [{**REQUIRED, "SeriesDate": "18.10."}]
    with pytest.raises(ResponseFormatError, match=r"row 3 does not fit Series: SeriesDate: "):
        parse_table(Series, _body(rows, format), format)  # type: ignore[arg-type]
    missing = [REQUIRED, {k: v for k, v in REQUIRED.items() if k != "SeriesInstanceUID"}]
    with pytest.raises(ResponseFormatError, match=r"row 1 does not fit Series: SeriesInstanceUID"):
        parse_table(Series, _body(missing, format), format)  # type: ignore[arg-type]


def test_a_generation_that_sends_every_value_as_a_string(server: TCIATestServer) -> None:
    uid = "1.3.6.1.4.1.9328.50.4.10416"
    with TCIAClient(api="nbia-v1", base_url=server.base_url_for("nbia-v1")) as tcia:
        table = tcia.tables.get_series_meta_data(series_instance_uid=uid)
        (model,) = tcia.get_series_meta_data(series_instance_uid=uid)
    assert table.schema.names[: len(SeriesMetadata.model_fields)] == list(
        SeriesMetadata.model_fields
    )
    assert _rows(table) == _model_rows([model])


# The clients' table form -----------------------------------------------------------------------


def test_tables_ask_for_csv_and_give_what_the_models_give(server: TCIATestServer) -> None:
    with TCIAClient(base_url=server.base_url_for("nbia-v4")) as tcia:
        table = tcia.tables.get_series(collection="TCGA-BRCA")
        asked = server.requests[-1].params
        models = tcia.get_series(collection="TCGA-BRCA")
        patients = tcia.tables.get_patient(collection="TCGA-BRCA", format="json")
    assert asked["format"] == "csv"
    assert table.num_rows == len(models) > 0
    assert _rows(table) == _model_rows(models)
    assert table.schema.field("Modality").type == pa.dictionary(pa.int32(), pa.string())
    assert patients.schema.names[: len(Patient.model_fields)] == list(Patient.model_fields)
    assert tcia.tables is not None


def test_the_async_client_has_the_same_tables(server: TCIATestServer) -> None:
    async def run() -> list[pa.Table]:
        async with AsyncTCIAClient(base_url=server.base_url_for("nbia-v4")) as tcia:
            return await asyncio.gather(
                tcia.tables.get_series(), tcia.tables.get_patient_study(), tcia.tables.get_series()
            )

    series, studies, again = asyncio.run(run())
    with TCIAClient(base_url=server.base_url_for("nbia-v4")) as tcia:
        count = len(tcia.get_series())
    assert series.num_rows == count and studies.num_rows == 16 and again.equals(series)


def test_an_empty_answer_is_an_empty_table(server: TCIATestServer) -> None:
    with TCIAClient(base_url=server.base_url_for("nbia-v4")) as tcia:
        table = tcia.tables.get_series(collection="NO-SUCH-COLLECTION")
    assert table.num_rows == 0 and table.schema == arrow_schema(Series)


def test_a_dropped_connection_is_retried_and_the_table_is_whole() -> None:
    dataset = Dataset.synthetic(series_count=20_000, images_per_series=0)
    with TCIATestServer(dataset=dataset) as server:
        server.inject(Fault.drop_connection(after_bytes=3_000_000), query="getSeries")
        with TCIAClient(base_url=server.base_url_for("nbia-v4")) as tcia:
            table = tcia.tables.get_series()
        assert table.num_rows == 20_000
        assert table.column("SeriesInstanceUID").unique().to_pylist()[:1] == [
            dataset.series[0]["SeriesInstanceUID"]
        ]
        server.inject(Fault.html_error_page(), query="getSeries")
        with (
            TCIAClient(base_url=server.base_url_for("nbia-v4"), max_retries=0) as tcia,
            pytest.raises(ResponseFormatError, match="HTML"),
        ):
            tcia.tables.get_series()


def test_the_body_is_parsed_while_it_streams_in_never_held_whole() -> None:
    """tracemalloc sees every byte Python holds (pyarrow's own memory it does not): while a
    big CSV body streams in, Python holds a few MB of it at a time, not the body."""
    dataset = Dataset.synthetic(series_count=100_000, images_per_series=0)
    with TCIATestServer(dataset=dataset) as server:
        base_url = server.base_url_for("nbia-v4")
        body = httpx.get(base_url + "/getSeries", params={"format": "csv"}, timeout=60)
        size = len(body.content)
        with TCIAClient(base_url=base_url) as tcia:
            tcia.tables.get_series()  # what it imports is not the body
            tracemalloc.start()
            try:
                table = tcia.tables.get_series()
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert table.num_rows == 100_000
    assert peak < size / 2, (peak, size)  # bounded by blocks in flight, whatever the size


# The command line ------------------------------------------------------------------------------


def test_tcia_query_writes_parquet(
    server: TCIATestServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out" / "series.parquet"
    base = ["--base-url", server.base_url_for("nbia-v4")]
    assert main(["query", "getSeries", "--format", "parquet", "--output", str(target), *base]) == 0
    with TCIAClient(base_url=server.base_url_for("nbia-v4")) as tcia:
        count = len(tcia.get_series())
    assert f"{count} rows of getSeries" in capsys.readouterr().err
    table = pq.read_table(target)
    assert table.num_rows == count
    assert table.schema.field("SeriesDate").type == pa.date32()
    assert (table.schema.field("Modality").metadata or {})[b"x-dicom-tag"] == b"00080060"
    assert sorted(p.name for p in target.parent.iterdir()) == ["series.parquet"]
    args = ["--format", "parquet", "--output", str(target), "--columns", "Modality", *base]
    assert main(["query", "getSeries", *args]) == 0
    assert pq.read_table(target).column_names == ["Modality"]
    with pytest.raises(SystemExit, match="needs --output"):
        main(["query", "getSeries", "--format", "parquet", *base])


def test_without_pyarrow_the_error_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "import tcia_models\n"
        "tcia_models.TCIAClient  # the client needs no pyarrow\n"
        "try:\n"
        "    tcia_models.parse_table\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install 'tcia-models[arrow]'" in result.stdout


def test_codegen_refuses_a_tables_file_naming_no_string_attribute(project_copy: Path) -> None:
    tables_file = project_copy / "schema" / "tables.json"
    tables = json.loads(tables_file.read_text())
    tables["dictionaryEncoded"]["attributes"] += ["NoSuchAttribute", "ImageCount"]
    tables_file.write_text(json.dumps(tables))
    result = run_codegen(project_copy, "--check")
    assert result.returncode == 2
    assert "'NoSuchAttribute' is no attribute" in result.stderr
    assert "'ImageCount' is of type integer" in result.stderr
    assert (ROOT / "schema" / "tables.json").read_text() != tables_file.read_text()
