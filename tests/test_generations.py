"""Every API generation against the bundled server: paths, keys, dates, OAuth, MD5, quirks."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest

import tcia_models._retry
from tcia_models import (
    GENERATIONS,
    AsyncTCIAClient,
    AuthenticationError,
    DownloadError,
    InvalidParameterError,
    Patient,
    Series,
    SeriesMetadata,
    TCIAClient,
    parse,
)
from tcia_models.testing import Fault, TCIATestServer

from .conftest import DATA

COLONOGRAPHY = "1.3.6.1.4.1.9328.50.4.10416"
# The unversioned NBIA API has no getSeries (only its search, counts and tags queries).
SERIES_APIS = [api for api in GENERATIONS if api != "nbia-advanced"]
KIRC = "TCGA-KIRC"


@pytest.fixture(scope="module")
def server() -> Iterator[TCIATestServer]:
    with TCIATestServer(api_keys={"key"}) as running:
        yield running


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch, server: TCIATestServer) -> None:
    monkeypatch.setattr(tcia_models._retry, "INITIAL_RETRY_DELAY", 0.01)
    server.faults.clear()


def client(server: TCIATestServer, api: Any, **options: Any) -> TCIAClient:
    return TCIAClient(api=api, api_key="key", base_url=server.base_url_for(api), **options)


def _raw_json(server: TCIATestServer, api: str, query: str, **params: str) -> list[dict[str, Any]]:
    with client(server, api) as tcia:
        return json.loads(tcia.raw(query, params, "json"))  # type: ignore[no-any-return]


def test_todays_default_speaks_v4(server: TCIATestServer) -> None:
    with TCIAClient(base_url=server.base_url_for("nbia-v4")) as tcia:
        assert tcia.api == "nbia-v4"
        series = tcia.get_series(collection="LIDC-IDRI")
    assert [s.Modality for s in series] == ["DX"] and series[0].Authorized == 1
    assert server.requests[-1].path == "/nbia-api/services/v4/getSeries"
    assert "api_key" not in server.requests[-1].headers


def test_each_generation_writes_dates_its_own_way_and_all_parse_alike(
    server: TCIATestServer,
) -> None:
    forms = {
        api: _raw_json(server, api, "getSeries", Collection=KIRC)[0]["SeriesDate"]
        for api in SERIES_APIS
    }
    assert forms == {
        "bindaas": "1995-02-26",
        "nbia-v1": "1995-02-26 00:00:00.0",
        "nbia-v2": "1995-02-26 00:00:00.0",
        "nbia-v4": "02-26-1995",
    }
    for api in SERIES_APIS:
        with client(server, api) as tcia:
            assert {s.SeriesDate for s in tcia.get_series(collection=KIRC)} == {
                datetime.date(1995, 2, 26)
            }


def test_each_generation_sends_its_own_attributes(server: TCIATestServer) -> None:
    keys = {
        api: set(_raw_json(server, api, "getSeries", Collection=KIRC)[0]) for api in SERIES_APIS
    }
    assert "LicenseName" not in keys["bindaas"] and "TimeStamp" not in keys["bindaas"]
    assert {"TimeStamp", "CollectionURI", "FileSize"} <= keys["nbia-v1"] == keys["nbia-v2"]
    assert {"MaxSubmissionTimestamp", "DataDescriptionURI", "Authorized"} <= keys["nbia-v4"]
    assert "TimeStamp" not in keys["nbia-v4"] and "CollectionURI" not in keys["nbia-v4"]
    guide_fields = ("SeriesInstanceUID", "Modality", "SeriesDate", "ImageCount", "PatientID")
    seen = set()
    for api in SERIES_APIS:
        with client(server, api) as tcia:
            rows = tcia.get_series(collection=KIRC)
        seen.add(tuple(tuple(getattr(row, f) for f in guide_fields) for row in rows))
        assert all(row.model_extra == {} for row in rows)
    assert len(seen) == 1  # one Series model, the same rows, whatever the generation


def test_renamed_keys_fill_the_same_field(server: TCIATestServer) -> None:
    raw = _raw_json(server, "nbia-v1", "getPatient", Collection=KIRC)
    assert "PatientId" in raw[0] and "PatientID" not in raw[0]
    with client(server, "nbia-v1") as tcia:
        (patient,) = tcia.get_patient(collection=KIRC, patient_id="TCGA-B0-5094")
    assert isinstance(patient, Patient) and patient.PatientID == "TCGA-B0-5094"
    assert server.requests[-1].params["PatientId"] == "TCGA-B0-5094"  # its wire spelling
    assert Patient.model_validate({"PatientId": "X", "Collection": "C"}).PatientID == "X"


def test_v4_rejects_unknown_parameters_and_the_client_sends_none(server: TCIATestServer) -> None:
    response = httpx.get(server.base_url_for("nbia-v4") + "/getSeries", params={"api_key": "key"})
    assert response.status_code == 400
    assert response.text.startswith(
        "Invalid query parameter: 'api_key'. Allowed parameters are: [Collection,"
    )
    secret = "v4-is-never-sent-this-key"
    before = len(server.requests)
    with TCIAClient(api="nbia-v4", api_key=secret, base_url=server.base_url_for("nbia-v4")) as tcia:
        # an api_key given to v4 is not sent at all: not as a parameter, nor in any header
        assert len(tcia.get_series(collection=KIRC, modality="CR", format="csv")) == 3
    assert set(server.requests[-1].params) == {"Collection", "Modality", "format"}
    sent = server.requests[before:]
    assert sent
    for recorded in sent:
        assert "api_key" not in recorded.headers and "authorization" not in recorded.headers
        assert all(secret not in value for value in recorded.headers.values())
        assert secret not in recorded.path and secret not in str(recorded.params)


def test_date_parameters_are_dates_formatted_per_generation(server: TCIATestServer) -> None:
    since = datetime.date(2014, 6, 1)  # the guide's collections are "released" from 2014 on
    results = {}
    for api in ("nbia-v1", "nbia-v4"):
        with client(server, api) as tcia:
            results[api] = {
                p.PatientID
                for p in tcia.new_patients_in_collection(collection="TCGA-BRCA", date=since)
            }
            wire = dict(server.requests[-1].params)
            updated = tcia.get_updated_series(from_date=datetime.date(2100, 1, 1))
        results[api + " wire"] = wire
        assert updated == []
    assert results["nbia-v1 wire"]["Date"] == "2014/06/01"
    assert results["nbia-v4 wire"]["fromDate"] == "06-01-2014"
    assert results["nbia-v1"] == results["nbia-v4"] == {"TCGA-AO-A03M"}
    with client(server, "nbia-v1") as tcia:
        tcia.get_updated_series(from_date=datetime.date(2001, 2, 3))
        assert server.requests[-1].params["fromDate"] == "03/02/2001"


def test_a_query_a_generation_lacks_is_refused_before_sending(server: TCIATestServer) -> None:
    before = len(server.requests)
    with client(server, "bindaas") as tcia:
        with pytest.raises(
            InvalidParameterError, match=r"api='bindaas' has no getSeriesMetaData; it is offered by"
        ):
            tcia.get_series_meta_data(series_instance_uid=COLONOGRAPHY)
    assert len(server.requests) == before


def test_contents_by_name_on_v4_goes_to_v1_as_tcias_own_client_does(server: TCIATestServer) -> None:
    with client(server, "nbia-v4") as tcia:
        rows = tcia.contents_by_name(name="guide-rider-phantom-mri")
    assert len(rows) == 7
    assert server.requests[-1].path == "/nbia-api/services/v1/getContentsByName"


def test_series_metadata_arrives_as_spaced_strings_and_is_typed(server: TCIATestServer) -> None:
    (raw,) = _raw_json(server, "nbia-v1", "getSeriesMetaData", SeriesInstanceUID=COLONOGRAPHY)
    assert raw["Series UID"] == COLONOGRAPHY and raw["Number of Images"] == "5"
    with client(server, "nbia-v1") as tcia:
        (metadata,) = tcia.get_series_meta_data(series_instance_uid=COLONOGRAPHY)
    assert isinstance(metadata, SeriesMetadata)
    assert (metadata.SeriesInstanceUID, metadata.ImageCount, metadata.SOPClassUID) == (
        COLONOGRAPHY,
        5,
        "1.2.840.10008.5.1.4.1.1.2",
    )


def test_sop_instances_and_single_images(server: TCIATestServer, tmp_path: Path) -> None:
    with client(server, "nbia-v4") as tcia:
        instances = tcia.get_sop_instance_uids(series_instance_uid=COLONOGRAPHY)
        assert len(instances) == 5
        path = tcia.get_single_image(
            series_instance_uid=COLONOGRAPHY,
            sop_instance_uid=instances[2].SOPInstanceUID,
            path=tmp_path / "one.dcm",
        )
    image = pydicom.dcmread(path)
    assert (
        image.SOPInstanceUID == instances[2].SOPInstanceUID
        and image.SeriesInstanceUID == COLONOGRAPHY
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.dcm"]


def test_patients_by_collection_and_modality(server: TCIATestServer) -> None:
    with client(server, "nbia-v2") as tcia:
        patients = tcia.get_patient_by_collection_and_modality(
            collection="RIDER Lung PET-CT", modality="PT"
        )
    assert [p.PatientID for p in patients] == ["RIDER-1225316081"]


# OAuth (v2) ----------------------------------------------------------------------------------


def _token_grants(server: TCIATestServer, since: int) -> list[str]:
    return [
        r.params.get("grant_type", "")
        for r in server.requests[since:]
        if r.path.endswith("oauth/token")
    ]


def test_v2_logs_in_as_the_guest_and_with_credentials() -> None:
    with TCIATestServer(users={"nbia_guest": "", "alice": "wonderland"}) as nbia:
        with TCIAClient(api="nbia-v2", base_url=nbia.base_url_for("nbia-v2")) as guest:
            assert len(guest.get_collection_values()) == 15
        assert nbia.requests[0].params["username"] == "nbia_guest"
        with TCIAClient(
            api="nbia-v2",
            base_url=nbia.base_url_for("nbia-v2"),
            username="alice",
            password="wonderland",
        ) as alice:
            assert len(alice.get_series(collection=KIRC)) == 3
            assert nbia.requests[-1].headers["authorization"].startswith("Bearer ")
        with TCIAClient(
            api="nbia-v2", base_url=nbia.base_url_for("nbia-v2"), username="alice", password="nope"
        ) as wrong:
            with pytest.raises(AuthenticationError) as raised:
                wrong.get_series()
            assert (
                "alice" in str(raised.value)
                and "nope" not in str(raised.value)
                and "nope" not in repr(wrong)
            )


def test_the_token_is_refreshed_once_before_expiry_even_under_concurrency(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # Tokens live 60.4 s and are refreshed 60 s early: each one is fresh for 0.4 s.
    with TCIATestServer(token_lifetime=60.4) as nbia:

        async def waves() -> list[int]:
            counts = []
            async with AsyncTCIAClient(
                api="nbia-v2", base_url=nbia.base_url_for("nbia-v2")
            ) as tcia:
                for _ in range(3):
                    results = await asyncio.gather(
                        *(tcia.get_collection_values() for _ in range(30))
                    )
                    counts += [len(r) for r in results]
                    await asyncio.sleep(0.5)
            return counts

        assert asyncio.run(waves()) == [15] * 90
        assert _token_grants(nbia, 0) == ["password", "refresh_token", "refresh_token"]
        tokens = [r.headers["authorization"] for r in nbia.requests if "authorization" in r.headers]
    secrets = {token.split()[1] for token in tokens}
    assert len(secrets) == 3
    assert all(secret not in record.getMessage() for record in caplog.records for secret in secrets)


def test_sync_clients_share_one_refresh_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with TCIATestServer(token_lifetime=60.3) as nbia:
        with TCIAClient(api="nbia-v2", base_url=nbia.base_url_for("nbia-v2")) as tcia:
            with ThreadPoolExecutor(16) as pool:
                assert (
                    list(pool.map(lambda _: len(tcia.get_modality_values()), range(32))) == [8] * 32
                )
                time.sleep(0.4)
                assert (
                    list(pool.map(lambda _: len(tcia.get_modality_values()), range(32))) == [8] * 32
                )
        assert _token_grants(nbia, 0) == ["password", "refresh_token"]


# MD5 -----------------------------------------------------------------------------------------


def test_downloads_verify_md5_where_the_generation_offers_it(
    server: TCIATestServer, tmp_path: Path
) -> None:
    with client(server, "nbia-v4") as tcia:
        result = tcia.download_series(COLONOGRAPHY, tmp_path / "ok")
        assert server.requests[-1].path.endswith("/v4/getImageWithMD5Hash")
        assert result.md5_verified and result.file_count == 5
        assert "md5hashes.csv" not in [p.name for p in result.files]  # used, not left behind
        server.inject(Fault.tampered_image(), query="getImageWithMD5Hash")
        with pytest.raises(DownloadError, match=r"MD5 mismatch for '00000001\.dcm'"):
            tcia.download_series(COLONOGRAPHY, tmp_path / "bad")
    assert not (tmp_path / "bad").exists() or list((tmp_path / "bad").iterdir()) == []


def test_without_hashes_a_tampered_image_goes_unnoticed(
    server: TCIATestServer, tmp_path: Path
) -> None:
    """Why MD5 matters: the original API has no hashes, so only sizes and CRCs are checked."""
    server.inject(Fault.tampered_image(), query="getImage")
    with client(server, "bindaas") as tcia:
        assert tcia.download_series(COLONOGRAPHY, tmp_path).file_count == 5
    with client(server, "nbia-v4") as tcia:
        server.inject(Fault.tampered_image(), query="getImageWithMD5Hash")
        assert (
            tcia.download_series(COLONOGRAPHY, tmp_path / "opted-out", verify_md5=False).file_count
            == 5
        )


# Real payloads -------------------------------------------------------------------------------


def test_real_nbia_payloads_parse_into_the_models() -> None:
    samples = DATA / "tcia-samples"
    (metadata,) = parse(
        SeriesMetadata, (samples / "nbia-v1-getSeriesMetaData-LIDC-IDRI-DX.json").read_bytes()
    )
    assert metadata.PatientID == "LIDC-IDRI-0001" and metadata.ImageCount == 2
    assert metadata.SeriesNumber == 3000923 and metadata.FileSize == 16357620
    assert metadata.StudyDate == datetime.date(2000, 1, 1)
    assert metadata.DataDescriptionURI == "https://doi.org/10.7937/K9/TCIA.2015.LO9QL9SX"
    (v4,) = parse(Series, (samples / "nbia-v4-getSeriesMetadata-4D-Lung.csv").read_bytes(), "csv")
    assert (v4.Collection, v4.Site, v4.SeriesNumber, v4.ImageCount) == ("4D-Lung", "VCU", 500, 50)
    assert v4.SeriesDate == datetime.date(
        1997, 9, 15
    ) and v4.MaxSubmissionTimestamp == datetime.date(2015, 7, 20)
    assert v4.PatientAge == "000Y" and v4.ReleasedStatus == "Yes" and v4.Authorized == 1
    assert v4.model_extra == {
        "PatientName": "P100",
        "Phantom": "NO",
        "SpeciesCode": "337915000",
        "SpeciesDescription": "Homo sapiens",
        "PixelSpacing(mm)-Row": "0.878906",
        "SliceThickness(mm)": "3.000000",
    }


# Response drift (NBIA has no /metadata) ------------------------------------------------------


def test_drift_responses_agree_with_an_unchanged_server(server: TCIATestServer) -> None:
    from tcia_models.drift import check_responses

    for api in ("nbia-v4", "nbia-v1"):
        report = check_responses(api, server.base_url_for(api))
        assert not report.drifted, report.as_text()
        assert {q.query for q in report.queries} >= {
            "getSeries",
            "getPatientStudy",
            "getSOPInstanceUIDs",
        }
        assert all(q.rows > 0 for q in report.queries)
        (series,) = [q for q in report.queries if q.query == "getSeries"]
        assert "TimeStamp" not in series.never_seen or api == "nbia-v1"  # v4 never sends it


def test_drift_responses_name_keys_the_models_do_not_know(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tcia_models._metadata import packaged_metadata
    from tcia_models.testing import Dataset

    guide = Dataset.guide()
    data = {
        "collections": list(guide.collections),
        "patients": list(guide.patients),
        "studies": list(guide.studies),
        "series": [{**s, "SliceThickness": 2.5} for s in guide.series],
    }
    (tmp_path / "data.json").write_text(json.dumps(data))
    metadata = tmp_path / "metadata"
    metadata.mkdir()
    for name, document in packaged_metadata().documents.items():
        document = json.loads(json.dumps(document))
        if name == "getSeries":
            document["attributes"].append(
                {
                    "name": "SliceThickness",
                    "dicomTag": "0018 0050",
                    "description": "",
                    "type": "number",
                }
            )
        (metadata / f"{name}.json").write_text(json.dumps(document))
    with TCIATestServer(
        dataset=Dataset.load(tmp_path / "data.json"), metadata_dir=metadata
    ) as drifting:
        tcia = str(Path(sys.executable).with_name("tcia"))
        result = subprocess.run(
            [
                tcia,
                "drift",
                "--responses",
                "--api",
                "nbia-v4",
                "--base-url",
                drifting.base_url_for("nbia-v4"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        as_json = subprocess.run(
            [
                tcia,
                "drift",
                "--responses",
                "--api",
                "nbia-v4",
                "--format",
                "json",
                "--base-url",
                drifting.base_url_for("nbia-v4"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1, result.stderr
    assert (
        "getSeries (15 rows): keys the models do not know: SliceThickness" not in result.stdout
    )  # filtered by collection
    assert "getSeries (3 rows): keys the models do not know: SliceThickness" in result.stdout
    report = json.loads(as_json.stdout)
    assert report["drift"] is True
    assert [q["unknown_keys"] for q in report["queries"] if q["query"] == "getSeries"] == [
        ["SliceThickness"]
    ]
