"""The bundled TCIA server, spoken to with plain httpx (not our client)."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pydicom
import pytest

from tcia_models._metadata import packaged_metadata
from tcia_models.testing import Dataset, Fault, ImageShape, TCIATestServer

KEY = "secret-key"
ALL_QUERIES = packaged_metadata().documents
# The original (Bindaas) API: what the server's base_url speaks.
QUERIES = {name: doc for name, doc in ALL_QUERIES.items() if "bindaas" in doc["generations"]}
TABULAR = sorted(name for name, doc in QUERIES.items() if doc["attributes"])


@pytest.fixture(scope="module")
def server() -> Iterator[TCIATestServer]:
    with TCIATestServer(api_keys={KEY}) as running:
        yield running


@pytest.fixture
def http(server: TCIATestServer) -> Iterator[httpx.Client]:
    server.faults.clear()
    with httpx.Client(base_url=server.base_url + "/", headers={"api_key": KEY}) as client:
        yield client


def _series(http: httpx.Client, **params: str) -> list[dict[str, object]]:
    response = http.get("getSeries", params=params)
    assert response.status_code == 200
    return response.json() if response.content else []


def test_base_url_has_tcias_path_layout(server: TCIATestServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.base_url.endswith("/services/TCIA/TCIA/query")


def test_row_counts_match_the_guide(http: httpx.Client) -> None:
    assert len(http.get("getCollectionValues").json()) == 15
    assert len(http.get("getPatientStudy").json()) == 16
    assert len(_series(http)) == 44  # the guide's 42, and an RTSTRUCT and a SEG over a CT
    assert len(http.get("getPatient").json()) == 15


def test_guide_uids_are_repaired(http: httpx.Client) -> None:
    uids = [row["SeriesInstanceUID"] for row in _series(http)]
    assert "1.3.6.1.4.1.14519.5.2.1.3344.4004.135628675449902768248230773668" in uids
    assert all(isinstance(uid, str) and " " not in uid and len(uid) <= 64 for uid in uids)
    studies = {row["StudyInstanceUID"] for row in http.get("getPatientStudy").json()}
    assert "1.3.6.1.4.1.9328.50.1.7.171169503015012484365775373347971703543" in studies
    assert studies == {row["StudyInstanceUID"] for row in _series(http)}


@pytest.mark.parametrize("query", TABULAR)
@pytest.mark.parametrize("format", ["json", "csv", "xml", "html", "JSON", "Csv"])
def test_every_query_in_every_format(http: httpx.Client, query: str, format: str) -> None:
    params = _required_params(query)
    response = http.get(_at(http, query), params={**params, "format": format})
    assert response.status_code == 200
    assert response.content
    attributes = [
        a["name"]
        for a in QUERIES[query]["attributes"]
        if "bindaas" in a.get("generations", ["bindaas"])
    ]
    kind = format.lower()
    if kind == "json":
        assert response.headers["content-type"] == "application/json"
        rows = response.json()
        assert rows and all(set(row) <= set(attributes) for row in rows)
    elif kind == "csv":
        reader = csv.reader(io.StringIO(response.text))
        assert next(reader) == attributes
        assert len(list(reader)) >= 1
    elif kind == "xml":
        root = ET.fromstring(response.content)
        assert root.tag == "Results" and root[0].tag == "Row"
        assert all(element.tag in attributes and element.get("type") for element in root[0])
    else:
        assert response.text.startswith("<P ALIGN='center'><TABLE BORDER=1><TR><TH>")


def _at(http: httpx.Client, query: str) -> str:
    """Where the original API answers a query: its wire path (ContentsByName lives on the
    SharedList resource, beside TCIA's)."""
    return str(http.base_url.join(QUERIES[query]["generations"]["bindaas"].get("path", query)))


def _required_params(query: str) -> dict[str, str]:
    values = {
        "SeriesInstanceUID": "1.3.6.1.4.1.9328.50.4.10416",
        "name": "guide-breast-diagnosis",
    }
    return {
        p["name"]: values[p["name"]] for p in QUERIES[query]["queryParameters"] if p["required"]
    }


def test_json_omits_nulls_and_keeps_wire_types(http: httpx.Client) -> None:
    (colonography,) = _series(http, SeriesInstanceUID="1.3.6.1.4.1.9328.50.4.10416")
    assert "SeriesDate" not in colonography  # NULL in the guide
    assert colonography["ImageCount"] == 5 and colonography["SeriesNumber"] == 1
    lidc = _series(http, Collection="LIDC-IDRI")
    assert lidc[0]["AnnotationsFlag"] is True


def test_csv_is_fully_quoted_with_nulls_as_empty_strings(http: httpx.Client) -> None:
    text = http.get(
        "getSeries", params={"SeriesInstanceUID": "1.3.6.1.4.1.9328.50.4.10416", "format": "csv"}
    ).text
    header, row = text.splitlines()
    assert header.startswith('"SeriesInstanceUID","StudyInstanceUID",')
    assert row.startswith('"1.3.6.1.4.1.9328.50.4.10416","1.3.6.1.4.1.9328.50.4.10415","CT",')
    assert ',"",' in row  # SeriesDate


def test_xml_names_java_types_and_html_marks_nulls(http: httpx.Client) -> None:
    xml = http.get("getSeries", params={"Collection": "LIDC-IDRI", "format": "xml"}).text
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Results><Row>')
    assert "<ImageCount type='java.lang.Integer'>2</ImageCount>" in xml
    assert "<AnnotationsFlag type='java.lang.Boolean'>true</AnnotationsFlag>" in xml
    page = http.get("getSeries", params={"Collection": "CT COLONOGRAPHY", "format": "html"}).text
    assert "<TD>&nbsp;</TD>" in page


def test_filters(http: httpx.Client) -> None:
    kirc = _series(http, Collection="TCGA-KIRC")
    assert len(kirc) == 3 and {row["Modality"] for row in kirc} == {"CR"}
    assert _series(http, Collection="tcga-kirc") == kirc  # case-insensitive, as MySQL compares
    assert len(_series(http, Collection="BREAST-DIAGNOSIS", Modality="MG")) == 5
    mr = http.get("getModalityValues", params={"Collection": "BREAST-DIAGNOSIS"}).json()
    assert mr == [{"Modality": "MG"}, {"Modality": "MR"}]
    studies = http.get("getPatientStudy", params={"PatientID": "BreastDx-01-0003"}).json()
    assert len(studies) == 2 and {s["SeriesCount"] for s in studies} == {5, 2}
    contents = http.get(
        _at(http, "ContentsByName"), params={"name": "guide-rider-phantom-mri"}
    ).json()
    assert len(contents) == 7 and {row["Collection"] for row in contents} == {"RIDER PHANTOM MRI"}


def test_no_rows_is_200_with_an_empty_body(http: httpx.Client) -> None:
    for format in ("json", "csv", "xml", "html"):
        response = http.get("getSeries", params={"Collection": "NOPE", "format": format})
        assert (response.status_code, response.content) == (200, b"")


def test_unknown_format_is_a_500(http: httpx.Client) -> None:
    response = http.get("getSeries", params={"format": "lxml"})
    assert response.status_code == 500
    assert response.text == "Server was not able to process your request"


def test_missing_required_parameter_is_a_400_naming_it(http: httpx.Client) -> None:
    response = http.get("getSeriesSize")
    assert response.status_code == 400
    assert response.text == "A parameter, SeriesInstanceUID is required for this API call."
    missing = http.get(_at(http, "ContentsByName")).text
    assert missing == "A parameter, name is required for this API call."


def test_unknown_query_is_a_404(http: httpx.Client, server: TCIATestServer) -> None:
    assert http.get("getEverything").status_code == 404
    assert http.get("getSeries/extra").status_code == 404
    assert (
        httpx.get(server.origin + "/other/getSeries", headers={"api_key": KEY}).status_code == 404
    )


def test_api_key_as_header_or_query_parameter(server: TCIATestServer) -> None:
    url = server.base_url + "/getCollectionValues"
    assert httpx.get(url, headers={"api_key": KEY}).status_code == 200
    assert httpx.get(url, params={"api_key": KEY}).status_code == 200
    for response in (
        httpx.get(url),
        httpx.get(url, headers={"api_key": "wrong"}),
        httpx.get(url, params={"api_key": "wrong"}, headers={"api_key": KEY}),  # query first
        httpx.get(server.base_url + "/getSeries/metadata"),
    ):
        assert (response.status_code, response.content) == (401, b"")


def test_metadata_route_serves_the_snapshot(http: httpx.Client) -> None:
    for query, document in QUERIES.items():
        assert http.get(f"{query}/metadata").json() == document


def test_metadata_dir_serves_other_documents(tmp_path: Path) -> None:
    drifted = dict(QUERIES["getSeries"])
    drifted["attributes"] = [
        *drifted["attributes"],
        {"name": "TimeStamp", "dicomTag": "NA", "description": "", "type": "datetime"},
    ]
    (tmp_path / "getSeries.json").write_text(json.dumps(drifted))
    with TCIATestServer(metadata_dir=tmp_path) as drifting:
        served = httpx.get(drifting.base_url + "/getSeries/metadata").json()
        assert served["attributes"][-1]["name"] == "TimeStamp"
        assert httpx.get(drifting.base_url + "/getPatient").status_code == 404


def _archive(http: httpx.Client, uid: str) -> httpx.Response:
    return http.get("getImage", params={"SeriesInstanceUID": uid})


def test_get_image_streams_a_zip_of_real_dicom_files(http: httpx.Client) -> None:
    for row in _series(http, Collection="RIDER Lung PET-CT") + _series(
        http, Collection="TCGA-KIRC"
    ):
        uid = str(row["SeriesInstanceUID"])
        response = _archive(http, uid)
        assert response.status_code == 200
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.headers["content-disposition"] == f'attachment; filename="{uid}.zip"'
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        assert archive.testzip() is None
        names = archive.namelist()
        count = int(str(row["ImageCount"]))
        assert names == ["LICENSE", *(f"{n:08d}.dcm" for n in range(1, count + 1))]
        assert b"Creative Commons" in archive.read("LICENSE")
        sop_uids = set()
        for name in names[1:]:
            image = pydicom.dcmread(io.BytesIO(archive.read(name)))
            assert image.SeriesInstanceUID == uid
            assert image.StudyInstanceUID == row["StudyInstanceUID"]
            assert image.PatientID == row["PatientID"]
            assert image.Modality == row["Modality"]
            assert image.file_meta.MediaStorageSOPInstanceUID == image.SOPInstanceUID
            sop_uids.add(image.SOPInstanceUID)
        assert len(sop_uids) == count
        size = http.get("getSeriesSize", params={"SeriesInstanceUID": uid}).json()
        dicom_bytes = sum(archive.getinfo(name).file_size for name in names[1:])
        assert size == [{"TotalSizeInBytes": dicom_bytes, "ObjectCount": count}]


def test_archives_are_the_same_bytes_on_every_server(http: httpx.Client) -> None:
    uid = "1.3.6.1.4.1.9328.50.4.10416"
    with TCIATestServer() as other:
        again = httpx.get(other.base_url + "/getImage", params={"SeriesInstanceUID": uid}).content
    assert _archive(http, uid).content == again


def test_unknown_series_has_no_size_and_no_archive(http: httpx.Client) -> None:
    assert http.get("getSeriesSize", params={"SeriesInstanceUID": "1.2.3"}).content == b""
    assert _archive(http, "1.2.3").content == b""


# Faults --------------------------------------------------------------------------------------


def test_status_faults_answer_the_next_requests_then_stop(
    server: TCIATestServer, http: httpx.Client
) -> None:
    server.inject(Fault.rate_limited(retry_after=2), times=2)
    first, second, third = (http.get("getCollectionValues") for _ in range(3))
    assert (first.status_code, first.headers["retry-after"]) == (429, "2")
    assert second.status_code == 429
    assert third.status_code == 200
    server.inject(Fault.http_status(503))
    server.inject(Fault.http_status(500, body=b"Server was not able to process your request"))
    assert http.get("getSeries").status_code == 503
    assert http.get("getSeries").text == "Server was not able to process your request"


def test_a_fault_for_one_query_leaves_the_others_alone(
    server: TCIATestServer, http: httpx.Client
) -> None:
    server.inject(Fault.http_status(503), query="getSeries")
    assert http.get("getPatient").status_code == 200
    assert http.get("getSeries").status_code == 503
    assert http.get("getSeries").status_code == 200


def test_html_error_page_with_200_and_wrong_content_type(
    server: TCIATestServer, http: httpx.Client
) -> None:
    server.inject(Fault.html_error_page())
    page = http.get("getSeries")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html"
    assert page.text.startswith("<html>")
    server.inject(Fault.wrong_content_type("text/html"))
    mislabelled = http.get("getCollectionValues")
    assert mislabelled.headers["content-type"] == "text/html"
    assert len(mislabelled.json()) == 15


def test_delay_fault(server: TCIATestServer, http: httpx.Client) -> None:
    server.inject(Fault.slow(0.3))
    started = time.monotonic()
    assert http.get("getCollectionValues").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_dropped_connection(server: TCIATestServer, http: httpx.Client) -> None:
    server.inject(Fault.drop_connection(after_bytes=100), query="getImage")
    with pytest.raises(httpx.TransportError):
        _archive(http, "1.3.6.1.4.1.9328.50.4.10416")
    assert _archive(http, "1.3.6.1.4.1.9328.50.4.10416").status_code == 200


def test_truncated_and_corrupted_zips(server: TCIATestServer, http: httpx.Client) -> None:
    uid = "1.3.6.1.4.1.9328.50.4.10416"
    server.inject(Fault.truncated(to_bytes=1000))
    truncated = _archive(http, uid)
    assert truncated.status_code == 200 and len(truncated.content) == 1000
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(truncated.content))
    server.inject(Fault.corrupted())
    corrupted = _archive(http, uid).content
    with pytest.raises((zipfile.BadZipFile, zlib.error)):
        bad = zipfile.ZipFile(io.BytesIO(corrupted))
        for name in bad.namelist():
            bad.read(name)


def test_planted_zip_entry(server: TCIATestServer, http: httpx.Client) -> None:
    server.inject(Fault.zip_entry("../outside.txt"))
    names = zipfile.ZipFile(
        io.BytesIO(_archive(http, "1.3.6.1.4.1.9328.50.4.10416").content)
    ).namelist()
    assert names[-1] == "../outside.txt"


# Shaping, concurrency, keep-alive ------------------------------------------------------------


def test_latency_and_bandwidth_shaping() -> None:
    dataset = Dataset.synthetic(
        series_count=1, images_per_series=4, image_shape=ImageShape(128, 128)
    )
    with TCIATestServer(dataset=dataset, latency=0.2, bandwidth=400_000) as shaped:
        uid = dataset.series[0]["SeriesInstanceUID"]
        started = time.monotonic()
        response = httpx.get(shaped.base_url + "/getImage", params={"SeriesInstanceUID": uid})
        elapsed = time.monotonic() - started
    assert response.status_code == 200 and len(response.content) > 130_000
    assert elapsed >= 0.2 + len(response.content) / 400_000 * 0.9


def test_fifty_concurrent_clients(server: TCIATestServer) -> None:
    errors: list[BaseException] = []
    counts: list[int] = []

    def client() -> None:
        try:
            with httpx.Client(base_url=server.base_url + "/", headers={"api_key": KEY}) as http:
                for _ in range(4):
                    counts.append(len(http.get("getSeries").json()))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert counts == [44] * 200


def test_keep_alive_queries_do_not_stall_on_nagle(http: httpx.Client) -> None:
    http.get("getSeriesSize", params={"SeriesInstanceUID": "1.3.6.1.4.1.9328.50.4.10416"})
    started = time.monotonic()
    for _ in range(200):
        http.get("getSeriesSize", params={"SeriesInstanceUID": "1.3.6.1.4.1.9328.50.4.10416"})
    assert time.monotonic() - started < 1.0


def test_pytest_fixture_from_the_plugin(tcia_server: TCIATestServer) -> None:
    assert len(httpx.get(tcia_server.base_url + "/getCollectionValues").json()) == 15


def test_another_dataset(tmp_path: Path) -> None:
    dataset = Dataset.synthetic(series_count=3, images_per_series=2)
    with TCIATestServer(dataset=dataset) as synthetic:
        rows = httpx.get(synthetic.base_url + "/getSeries").json()
        assert [row["Collection"] for row in rows] == ["SYNTHETIC"] * 3
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps(
            {
                "collections": [],
                "patients": [],
                "studies": [],
                "series": [{"SeriesInstanceUID": "1", "StudyInstanceUID": "2", "Modality": "CT"}],
            }
        )
    )
    with pytest.raises(ValueError, match="series 1: unknown study '2'"):
        Dataset.load(broken)


def test_requests_are_recorded(server: TCIATestServer, http: httpx.Client) -> None:
    before = len(server.requests)
    http.get("getPatient", params={"Collection": "TCGA-OV"})
    recorded = server.requests[before]
    assert recorded.path.endswith("/getPatient") and recorded.params == {"Collection": "TCGA-OV"}


# NBIA paths, tokens, remote fault control -----------------------------------------------------


def test_nbia_paths_serve_the_same_data(server: TCIATestServer) -> None:
    nbia = server.origin + "/nbia-api/services"
    for version in ("v1", "v4"):
        rows = httpx.get(f"{nbia}/{version}/getSeries", params={"Collection": "TCGA-KIRC"}).json()
        assert len(rows) == 3
    assert (
        len(
            httpx.get(
                f"{nbia}/v1/getContentsByName", params={"name": "guide-rider-phantom-mri"}
            ).json()
        )
        == 7
    )
    assert httpx.get(f"{nbia}/v4/getNothing").status_code == 404


def test_nbia_v2_needs_a_bearer_token_from_the_token_endpoint() -> None:
    with TCIATestServer(users={"alice": "pw"}, token_lifetime=0.5) as nbia:
        url = nbia.origin + "/nbia-api/services/v2/getCollectionValues"
        assert httpx.get(url).status_code == 401
        refused = httpx.post(
            nbia.origin + "/nbia-api/oauth/token",
            data={"grant_type": "password", "username": "alice", "password": "no"},
        )
        assert refused.status_code == 401
        token = httpx.post(
            nbia.origin + "/nbia-api/services/oauth/token",
            data={
                "grant_type": "password",
                "username": "alice",
                "password": "pw",
                "client_id": "NBIA",
            },
        ).json()
        assert token["expires_in"] == 0.5 and token["refresh_token"]
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        assert len(httpx.get(url, headers=bearer).json()) == 15
        time.sleep(0.6)
        assert httpx.get(url, headers=bearer).status_code == 401  # expired
        renewed = httpx.post(
            nbia.origin + "/nbia-api/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        ).json()
        assert (
            httpx.get(
                url, headers={"Authorization": f"Bearer {renewed['access_token']}"}
            ).status_code
            == 200
        )


def test_get_image_with_md5_hash(server: TCIATestServer) -> None:
    uid = "1.3.6.1.4.1.9328.50.4.10416"
    response = httpx.get(
        server.origin + "/nbia-api/services/v1/getImageWithMD5Hash",
        params={"SeriesInstanceUID": uid},
    )
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = archive.namelist()
    assert "LICENSE" not in names and names[-1] == "md5hashes.csv"
    lines = archive.read("md5hashes.csv").decode().splitlines()
    assert lines[0] == "Filename,MD5Hash" and len(lines) == 6
    import hashlib

    for line in lines[1:]:
        name, digest = line.split(",")
        assert hashlib.md5(archive.read(name)).hexdigest() == digest


def test_faults_can_be_injected_from_another_process(
    server: TCIATestServer, http: httpx.Client
) -> None:
    control = server.origin + "/_tcia_test/faults"
    assert (
        httpx.post(
            control,
            json={
                "fault": {"kind": "http_status", "status": 503, "retry_after": 1},
                "query": "getPatient",
            },
        ).status_code
        == 204
    )
    response = http.get("getPatient")
    assert (response.status_code, response.headers["retry-after"]) == (503, "1")
    assert http.get("getPatient").status_code == 200
    assert httpx.post(control, json={"fault": {"nonsense": 1}}).status_code == 400


def test_connect_latency_is_paid_once_per_connection() -> None:
    with TCIATestServer(connect_latency=0.2) as far:
        with httpx.Client() as reused:
            started = time.monotonic()
            for _ in range(3):
                reused.get(far.base_url + "/getCollectionValues")
            assert 0.2 <= time.monotonic() - started < 0.6
        started = time.monotonic()
        for _ in range(3):
            httpx.get(far.base_url + "/getCollectionValues")
        assert time.monotonic() - started >= 0.6


def test_images_are_the_same_bytes_in_every_process() -> None:
    """getImage sends the same files on every run (SOP Instance UIDs included), so sizes and
    hashes recorded in one test process hold in another."""
    import subprocess
    import sys

    script = (
        "import hashlib; from tcia_models.testing import TCIATestServer; "
        "s = TCIATestServer(); "
        "print(hashlib.sha256(s._archive.images.archive('1.3.6.1.4.1.9328.50.4.10416')).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(3)
    }
    assert len(digests) == 1
