"""NBIA v4's whole query surface (and the unversioned API's), client and bundled server, over
real HTTP: counts, descriptions, DOIs, DICOM tags and referenced series, the criteria-indexed
search and its manifest, bulk series metadata, NLST's own server, and the original API's other
layouts."""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tcia_models import (
    AsyncTCIAClient,
    BodyPartCount,
    CollectionDescription,
    InvalidParameterError,
    ModalityCount,
    NotFoundError,
    PatientSearchResult,
    SeriesMetadataV4,
    TCIAClient,
    html_to_text,
    parse,
)
from tcia_models.testing import Dataset, TCIATestServer

from .conftest import DATA

CT = "1.3.6.1.4.1.14519.5.2.1.5099.8010.427264300850965737262860055580"
RTSTRUCT = "1.2.826.0.1.3680043.10.1404.3.1"
SEG = "1.2.826.0.1.3680043.10.1404.3.2"
NLST_SERIES = "1.2.826.0.1.3680043.10.1404.4.2"
HEAD_NECK = "Head-Neck Cetuximab"
ANALYSIS_DOI = "https://doi.org/10.7937/TCIA.2025.HNC-ANNOTATIONS"


@pytest.fixture(scope="module")
def server() -> Iterator[TCIATestServer]:
    with TCIATestServer(users={"nbia_guest": ""}) as running:
        yield running


def v4(server: TCIATestServer) -> TCIAClient:
    return TCIAClient(base_url=server.base_url_for("nbia-v4"))


def advanced(server: TCIATestServer) -> TCIAClient:
    return TCIAClient(api="nbia-advanced", base_url=server.base_url_for("nbia-advanced"))


def _last(server: TCIATestServer, query: str) -> Any:
    return next(r for r in reversed(server.requests) if r.path.endswith("/" + query))


# Values and counts ---------------------------------------------------------------------------


def test_counts_are_patients_per_value_typed_alike_from_v4_and_the_unversioned_api(
    server: TCIATestServer,
) -> None:
    with v4(server) as tcia:
        modern = tcia.get_modality_values_and_counts(collection=HEAD_NECK)
        parts = tcia.get_body_part_values_and_counts()
    with advanced(server) as tcia:
        older = tcia.get_modality_values_and_counts(collection=HEAD_NECK)
    assert all(isinstance(row, ModalityCount) for row in modern)
    assert {(r.Modality, r.Count) for r in modern} == {("CT", 1), ("RTSTRUCT", 1), ("SEG", 1)}
    assert {(r.Modality, r.Count) for r in older} == {(r.Modality, r.Count) for r in modern}
    assert {r.Authorized for r in modern} == {1} and {r.Authorized for r in older} == {None}
    # NBIA upper-cases body parts: TCGA-KIRC's "Kidney" and TCGA-KIRP's "KIDNEY" are one value
    # of two patients.
    assert next(p for p in parts if p.BodyPartExamined == "KIDNEY").Count == 2
    assert all(isinstance(p, BodyPartCount) for p in parts)


def test_counts_keep_each_generations_wire_shape(server: TCIATestServer) -> None:
    modern = httpx.get(server.base_url_for("nbia-v4") + "/getBodyPartValuesAndCounts").json()
    assert set(modern[0]) == {"BodyPart", "Count", "Authorized"}
    assert isinstance(modern[0]["Count"], int)
    with advanced(server) as tcia:  # logs in as the guest, as nbiatoolkit does
        body = tcia.raw("getModalityValuesAndCounts", {"Collection": HEAD_NECK})
    older = json.loads(body)
    assert {"criteria": "SEG", "count": "1"} in older  # Jackson's strings
    assert (
        _last(server, "getModalityValuesAndCounts").headers["authorization"].startswith("Bearer ")
    )


def test_v4_counts_send_no_format_and_an_empty_answer_is_an_empty_list(
    server: TCIATestServer,
) -> None:
    with v4(server) as tcia:
        assert tcia.get_manufacturer_values_and_counts(collection="NO-SUCH") == []
        assert "format" not in _last(server, "getManufacturerValuesAndCounts").params
    response = httpx.get(
        server.base_url_for("nbia-v4") + "/getModalityValuesAndCounts",
        params={"Collection": "NO-SUCH"},
    )
    assert (response.status_code, response.content) == (200, b"")
    assert "content-type" not in response.headers  # NBIA's Response.ok().build()
    refused = httpx.get(
        server.base_url_for("nbia-v4") + "/getModalityValuesAndCounts", params={"format": "json"}
    )
    assert refused.status_code == 400 and "Invalid query parameter: 'format'" in refused.text


# Descriptions and DOIs -----------------------------------------------------------------------


def test_collection_descriptions_with_dois_and_their_plain_text(server: TCIATestServer) -> None:
    with v4(server) as tcia:
        every = tcia.get_collection_descriptions()
        (kirc,) = tcia.get_collection_descriptions(collection_name="TCGA-KIRC")
        (bare,) = tcia.get_collection_descriptions(collection_name="TCGA-OV")
        assert tcia.get_collection_descriptions(collection_name="tcga-kirc") == []
    assert isinstance(kirc, CollectionDescription) and len(every) == 4
    assert kirc.description is not None and kirc.description.startswith("<p>")
    assert kirc.descriptionURI == "https://doi.org/10.7937/K9/TCIA.TCGAKIRC"
    text = html_to_text(kirc.description)
    assert text is not None and "<" not in text and text.startswith("The Cancer Genome Atlas")
    assert kirc.collectionDescTimestamp is None  # v4 removes it
    assert (bare.collectionName, bare.description, bare.descriptionURI) == ("TCGA-OV", None, None)
    with advanced(server) as tcia:
        (older,) = tcia.get_collection_descriptions(collection_name="TCGA-KIRC")
    assert older.collectionDescTimestamp is not None and older.licenseId == 1


def test_collections_and_series_of_a_doi(server: TCIATestServer) -> None:
    with v4(server) as tcia:
        collections = tcia.get_collection_or_series_for_doi(doi=ANALYSIS_DOI)
        series = tcia.get_collection_or_series_for_doi(
            doi=ANALYSIS_DOI, collection_or_series="series"
        )
        assert tcia.get_collection_or_series_for_doi(doi="https://doi.org/none") == []
    assert [(c.collection, c.thirdPartyAnalysis) for c in collections] == [(HEAD_NECK, "YES")]
    assert {s.seriesInstanceUID for s in series} == {RTSTRUCT, SEG}
    sent = _last(server, "getCollectionOrSeriesForDOI")
    assert sent.method == "POST" and set(sent.params) == {"DOI"}  # no format: v4 refuses it
    refused = httpx.post(
        server.base_url_for("nbia-v4") + "/getCollectionOrSeriesForDOI", data={"format": "json"}
    )
    assert refused.status_code == 400 and refused.text.startswith("Invalid form parameter")


# DICOM tags and referenced series ------------------------------------------------------------


def test_dicom_tags_are_the_first_images_header_with_sequences_opened_and_closed(
    server: TCIATestServer,
) -> None:
    with v4(server) as tcia:
        rows = tcia.get_dicom_tags(series_uid=RTSTRUCT)
    elements = [row.element for row in rows]
    assert elements[0] == "(0002,0000)" and "(7FE0,0010)" not in elements
    assert next(r for r in rows if r.element == "(0008,0060)").data == "RTSTRUCT"
    opened = elements.index("(3006,0010)")
    assert rows[opened].name == "Referenced Frame of Reference Sequence"
    closing = [r for r in rows if r.element == "(3006,0010)"][-1]
    assert closing.name == "End Referenced Frame of Reference Sequence"
    assert [r.data for r in rows if r.name == "ROI Number"] == ["1", "2", "3", "4", "5"]
    series_row = elements.index(">>(3006,0014)")
    assert (rows[series_row + 1].element, rows[series_row + 1].data) == (">>>(0020,000E)", CT)


def test_referenced_series_of_an_rtstruct_and_a_seg(server: TCIATestServer) -> None:
    with v4(server) as tcia:
        assert tcia.get_referenced_series(series_instance_uid=RTSTRUCT) == [CT]
        assert tcia.get_referenced_series(series_instance_uid=SEG) == [CT]
        with pytest.raises(InvalidParameterError, match="is CT, not SEG or RTSTRUCT"):
            tcia.get_referenced_series(series_instance_uid=CT)
        with pytest.raises(NotFoundError, match="No such public series"):
            tcia.get_referenced_series(series_instance_uid="1.2.3")

    async def both() -> list[list[str]]:
        async with AsyncTCIAClient(
            api="nbia-advanced", base_url=server.base_url_for("nbia-advanced")
        ) as tcia:
            return list(
                await asyncio.gather(
                    tcia.get_referenced_series(series_instance_uid=RTSTRUCT),
                    tcia.get_referenced_series(series_instance_uid=SEG),
                )
            )

    assert asyncio.run(both()) == [[CT], [CT]]


def test_the_archive_holds_real_rtstruct_and_seg_files(server: TCIATestServer) -> None:
    import pydicom

    (_, rtstruct), *_ = server.images(RTSTRUCT)
    structure = pydicom.dcmread(__import__("io").BytesIO(rtstruct))
    frame = structure.ReferencedFrameOfReferenceSequence[0]
    study = frame.RTReferencedStudySequence[0]
    assert study.RTReferencedSeriesSequence[0].SeriesInstanceUID == CT
    ct_uids = [
        pydicom.dcmread(__import__("io").BytesIO(f)).SOPInstanceUID for _, f in server.images(CT)
    ]
    contour_images = study.RTReferencedSeriesSequence[0].ContourImageSequence
    assert [item.ReferencedSOPInstanceUID for item in contour_images] == ct_uids
    (_, seg), *_ = server.images(SEG)
    segmentation = pydicom.dcmread(__import__("io").BytesIO(seg))
    assert segmentation.ReferencedSeriesSequence[0].SeriesInstanceUID == CT
    assert segmentation.SegmentSequence[0].SegmentLabel == "GTV"


# Simple search -------------------------------------------------------------------------------


def test_search_sends_nbias_criteria_form_and_returns_typed_patients(
    server: TCIATestServer,
) -> None:
    with v4(server) as tcia:
        (patient,) = tcia.get_simple_search(modalities=["SEG"], collections=[HEAD_NECK])
    assert isinstance(patient, PatientSearchResult)
    assert (patient.subjectId, patient.project) == ("0522c0001", HEAD_NECK)
    assert patient.modalities == ["SEG"] and patient.totalNumberOfSeries == 3
    form = _last(server, "getSimpleSearch")
    assert form.method == "POST"
    assert {k: v for k, v in form.params.items() if k[-1].isdigit()} == {
        "criteriaType0": "CollectionCriteria",
        "value0": HEAD_NECK,
        "criteriaType1": "ImageModalityCriteria",
        "value1": "SEG",
    }
    assert (form.params["start"], form.params["size"], form.params["sortField"]) == (
        "0",
        "100",
        "subject",
    )


def test_search_criteria_combine_and_a_lone_date_gets_its_open_end(
    server: TCIATestServer,
) -> None:
    with v4(server) as tcia:
        recent = tcia.get_simple_search(from_date=datetime.date(2025, 1, 1))
        form = _last(server, "getSimpleSearch")
        several = tcia.get_simple_search(min_studies=2)
        both = tcia.get_simple_search(modalities=["MR", "CR"], body_parts=["kidney"])
        nobody = tcia.get_simple_search(collections=["NO-SUCH"])
    assert [p.subjectId for p in recent] == ["0522c0001"]  # its analyses came out in 2025
    assert form.params["criteriaType0"] == "DateRangeCriteria"
    assert (form.params["fromDate0"], form.params["toDate0"]) == ("01-01-2025", "12-31-9999")
    assert [p.subjectId for p in several] == ["BreastDx-01-0003"]  # at least two studies
    assert {p.subjectId for p in both} == {"TCGA-B0-5094", "TCGA-BQ-5885"}
    assert nobody == []


def test_search_pages_are_walked_for_the_user_sync_and_async(server: TCIATestServer) -> None:
    with v4(server) as tcia:
        first = tcia.get_simple_search(size=4)
        every = list(tcia.iter_simple_search(size=4))
        backwards = tcia.get_simple_search(size=100, sort_direction="descending")
    assert len(first) == 4 and len(every) == 15  # one patient per collection
    assert [p.subjectId for p in every] == sorted(p.subjectId for p in every)
    assert [p.subjectId for p in backwards] == [p.subjectId for p in reversed(every)]
    starts = [r.params["start"] for r in server.requests if r.path.endswith("getSimpleSearch")]
    assert starts[-5:-1] == ["0", "4", "8", "12"]  # 4 + 4 + 4 + 3: the short page ends it

    async def walk() -> list[str]:
        async with AsyncTCIAClient(base_url=server.base_url_for("nbia-v4")) as tcia:
            return [p.subjectId async for p in tcia.iter_simple_search(size=5)]

    assert asyncio.run(walk()) == [p.subjectId for p in every]
    with v4(server) as tcia, pytest.raises(InvalidParameterError, match="page size"):
        list(tcia.iter_simple_search(size=0))


def test_the_unversioned_search_writes_its_own_date_form(server: TCIATestServer) -> None:
    with advanced(server) as tcia:
        found = tcia.get_simple_search(
            from_date=datetime.date(2025, 1, 1), to_date=datetime.date(2025, 12, 31)
        )
    assert [p.subjectId for p in found] == ["0522c0001"] and found[0].authorized is None
    form = _last(server, "getSimpleSearchWithModalityAndBodyPartPaged")
    assert (form.params["fromDate0"], form.params["toDate0"]) == ("01/01/2025", "31/12/2025")


def test_nbia_fails_a_search_without_its_paging_fields_and_past_the_end(
    server: TCIATestServer,
) -> None:
    url = server.base_url_for("nbia-v4") + "/getSimpleSearch"
    assert httpx.post(url, data={"criteriaType0": "CollectionCriteria"}).status_code == 500
    paging = {"sortField": "subject", "sortDirection": "ascending", "size": "10"}
    assert httpx.post(url, data={**paging, "start": "16"}).status_code == 500
    at_the_end = httpx.post(url, data={**paging, "start": "15"}).json()
    assert at_the_end["resultSet"] == [] and at_the_end["totalPatients"] == 15
    unknown_type = httpx.post(
        url, data={**paging, "start": "0", "criteriaType0": "NoSuchCriteria", "value0": "x"}
    )
    assert unknown_type.json()["totalPatients"] == 15  # ignored, as NBIA ignores it


def test_a_manifest_of_the_search_for_nbia_data_retriever(
    server: TCIATestServer, tmp_path: Path
) -> None:
    with v4(server) as tcia:
        path = tcia.get_manifest_for_simple_search(
            collections=[HEAD_NECK], path=tmp_path / "head-neck.tcia"
        )
    lines = path.read_text().splitlines()
    assert lines[0].startswith("downloadServerUrl=https://")
    assert lines[5] == "ListOfSeriesToDownload=" and sorted(lines[6:]) == sorted(
        [CT, RTSTRUCT, SEG]
    )
    sent = _last(server, "getManifestForSimpleSearch")
    assert sent.params["size"] == "1000000" and "format" not in sent.params


# Bulk series metadata ------------------------------------------------------------------------


def test_series_metadata_for_many_series_in_chunks_of_ten_thousand(
    server: TCIATestServer,
) -> None:
    unknown = [f"1.2.3.{n}" for n in range(20_500)]
    with v4(server) as tcia:
        rows = tcia.get_series_metadata_list(series_instance_uids=[SEG, *unknown, CT], format="csv")
    posts = [r for r in server.requests if r.path.endswith("/v4/getSeriesMetadata")][-3:]
    assert [len(p.params["list"].split(",")) for p in posts] == [10_000, 10_000, 502]
    assert [r.SeriesInstanceUID for r in rows] == [SEG, CT]  # in the order asked, unknown left out
    (seg, ct) = rows
    assert isinstance(seg, SeriesMetadataV4) and seg.ThirdPartyAnalysis == "YES"
    assert seg.DateReleased == datetime.date(2025, 3, 14) and seg.StudyDescription is not None
    assert ct.FileSize is not None and ct.FileSize > 0 and ct.ImageCount == 5


def test_bulk_metadata_of_no_known_series_is_an_empty_answer(server: TCIATestServer) -> None:
    response = httpx.post(
        server.base_url_for("nbia-v4") + "/getSeriesMetadata", data={"list": "1.2.3"}
    )
    assert (response.status_code, response.content, response.headers.get("content-type")) == (
        200,
        b"",
        None,
    )
    with v4(server) as tcia:
        assert tcia.get_series_metadata_list(series_instance_uids=["1.2.3"]) == []
        with pytest.raises(InvalidParameterError, match="needs series_instance_uids"):
            tcia.get_series_metadata_list(series_instance_uids=[])


def test_the_recorded_v4_csv_parses_under_its_wire_names() -> None:
    body = (DATA / "tcia-samples" / "nbia-v4-getSeriesMetadata-4D-Lung.csv").read_bytes()
    (row,) = parse(SeriesMetadataV4, body, format="csv")
    assert row.PixelSpacing == "0.878906" and row.SliceThickness == "3.000000"
    assert row.SeriesNumber == 500 and row.StudyDescription == "p4"
    assert row.DateReleased == datetime.date(2016, 10, 19) and row.Authorized == 1
    assert row.model_extra == {}


# NLST ----------------------------------------------------------------------------------------


def test_nlst_is_its_own_server_with_its_own_collections(server: TCIATestServer) -> None:
    assert TCIAClient(server="nlst").base_url == (
        "https://nlst.cancerimagingarchive.net/nbia-api/services/v4/"
    )
    assert TCIAClient(server="nlst", api="nbia-v2").base_url.startswith("https://nlst.")
    with pytest.raises(InvalidParameterError, match="does not serve api='bindaas'"):
        TCIAClient(server="nlst", api="bindaas")
    nlst_url = server.base_url_for("nbia-v4", server="nlst")
    assert nlst_url.endswith("/nlst/nbia-api/services/v4")
    with TCIAClient(server="nlst", base_url=nlst_url) as tcia:
        assert [c.Collection for c in tcia.get_collection_values()] == ["NLST"]
        assert [s.SeriesInstanceUID for s in tcia.get_series(collection="NLST")] == [NLST_SERIES]
        assert tcia.server == "nlst"
    with v4(server) as tcia:
        assert "NLST" not in {c.Collection for c in tcia.get_collection_values()}
    lost = httpx.get(
        server.base_url_for("nbia-v4") + "/getImage", params={"SeriesInstanceUID": NLST_SERIES}
    )
    assert lost.status_code == 400 and "has not been granted the access" in lost.text


def test_the_cli_speaks_to_nlst_and_searches(server: TCIATestServer) -> None:
    from tcia_models.cli import main

    nlst_url = server.base_url_for("nbia-v4", server="nlst")
    assert (
        main(
            [
                "query",
                "getCollectionValues",
                "--server",
                "nlst",
                "--base-url",
                nlst_url,
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "query",
                "get-simple-search",
                "--modalities",
                "SEG",
                "--modalities",
                "RTSTRUCT",
                "--base-url",
                server.base_url_for("nbia-v4"),
                "--format",
                "json",
            ]
        )
        == 0
    )
    form = _last(server, "getSimpleSearch")
    assert (form.params["value0"], form.params["value1"], form.params["size"]) == (
        "SEG",
        "RTSTRUCT",
        "100",
    )


# The original API's other layouts --------------------------------------------------------------


@pytest.mark.parametrize(
    "layout",
    [
        "services/TCIA/TCIA/query",
        "services/v2/TCIA/query",
        "services/v3/TCIA/query",
        "services/v4/TCIA/query",
    ],
)
def test_every_bindaas_layout_and_its_shared_lists(server: TCIATestServer, layout: str) -> None:
    with TCIAClient(api="bindaas", base_url=f"{server.origin}/{layout}") as tcia:
        assert len(tcia.get_collection_values()) == 15
        contents = tcia.contents_by_name(name="guide-rider-phantom-mri")
    assert len(contents) == 7
    resource = layout.replace("/TCIA/query", "/SharedList/query")
    assert server.requests[-1].path == f"/{resource}/ContentsByName"


# Fidelity --------------------------------------------------------------------------------------


def test_v1_series_metadata_of_an_unknown_series_is_204(server: TCIATestServer) -> None:
    response = httpx.get(
        server.base_url_for("nbia-v1") + "/getSeriesMetaData",
        params={"SeriesInstanceUID": "1.2.3"},
    )
    assert (response.status_code, response.content) == (204, b"")
    with TCIAClient(api="nbia-v1", base_url=server.base_url_for("nbia-v1")) as tcia:
        assert tcia.get_series_meta_data(series_instance_uid="1.2.3") == []


def test_v4_get_image_of_an_unknown_series_is_nbias_400_and_a_not_found_error(
    server: TCIATestServer, tmp_path: Path
) -> None:
    response = httpx.get(
        server.base_url_for("nbia-v4") + "/getImage", params={"SeriesInstanceUID": "1.2.3"}
    )
    assert response.status_code == 400
    assert response.text == (
        "The user has not been granted the access to image with given SeriesInstanceUID,1.2.3."
        " Please contact System Admin to resolve this issue."
    )
    with v4(server) as tcia, pytest.raises(NotFoundError, match="check the SeriesInstanceUID"):
        tcia.get_image(series_instance_uid="1.2.3", path=tmp_path / "x.zip")


def test_new_file_names_are_nbias_acquisition_instance_names(tmp_path: Path) -> None:
    import zipfile

    dataset = Dataset.synthetic(series_count=1, images_per_series=12)
    uid = dataset.series[0]["SeriesInstanceUID"]
    with TCIATestServer(dataset=dataset) as running:
        response = httpx.get(
            running.base_url_for("nbia-v4") + "/getImage",
            params={"SeriesInstanceUID": uid, "NewFileNames": "Yes"},
        )
        plain = httpx.get(
            running.base_url_for("nbia-v4") + "/getImage", params={"SeriesInstanceUID": uid}
        )
    (tmp_path / "a.zip").write_bytes(response.content)
    (tmp_path / "b.zip").write_bytes(plain.content)
    named = zipfile.ZipFile(tmp_path / "a.zip").namelist()
    assert named == ["LICENSE", *(f"1-{n:02d}.dcm" for n in range(1, 13))]
    assert zipfile.ZipFile(tmp_path / "b.zip").namelist()[1] == "00000001.dcm"


def test_a_refused_refresh_is_keycloaks_invalid_grant_and_the_client_logs_in_again() -> None:
    with TCIATestServer(token_lifetime=60.3) as nbia:
        token_url = nbia.origin + "/nbia-api/oauth/token"
        refused = httpx.post(
            token_url, data={"grant_type": "refresh_token", "refresh_token": "nope"}
        )
        assert refused.status_code == 400
        assert refused.json() == {
            "error": "invalid_grant",
            "error_description": "Invalid refresh token",
        }
        with TCIAClient(api="nbia-v2", base_url=nbia.base_url_for("nbia-v2")) as tcia:
            assert len(tcia.get_collection_values()) == 15
            nbia._gate.tokens._refresh.clear()  # the server forgets every refresh token
            __import__("time").sleep(0.4)  # the access token is now near its expiry
            assert len(tcia.get_collection_values()) == 15
        grants = [r.params["grant_type"] for r in nbia.requests if r.path.endswith("oauth/token")]
        assert grants[-3:] == ["password", "refresh_token", "password"]


def test_logout_is_a_post_that_ends_the_token(server: TCIATestServer) -> None:
    token = httpx.post(
        server.origin + "/nbia-api/services/oauth/token",
        data={"grant_type": "password", "username": "nbia_guest", "password": ""},
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    url = server.base_url_for("nbia-v2") + "/getCollectionValues"
    assert httpx.get(url, headers=bearer).status_code == 200
    assert httpx.get(server.origin + "/nbia-api/logout", headers=bearer).status_code == 405
    assert httpx.post(server.origin + "/nbia-api/logout", headers=bearer).status_code == 204
    assert httpx.get(url, headers=bearer).status_code == 401
    assert httpx.post(server.origin + "/nbia-api/services/logout").status_code == 500


def test_download_many_learns_sizes_in_one_bulk_request(
    server: TCIATestServer, tmp_path: Path
) -> None:
    before = len(server.requests)
    with v4(server) as tcia:
        uids = [s.SeriesInstanceUID for s in tcia.get_series(collection=HEAD_NECK)]
        outcomes = tcia.download_many([*uids, "1.2.3"], tmp_path, concurrency=2)
    asked = [r.path.rsplit("/", 1)[-1] for r in server.requests[before:]]
    assert asked.count("getSeriesMetadata") == 1
    assert asked.count("getSeriesSize") == 1  # only the series the bulk answer left out
    assert [o.ok for o in outcomes] == [True, True, True, False]
    assert {len(list((tmp_path / uid).glob("*.dcm"))) for uid in uids} == {1, 5}
    failed = outcomes[-1].error
    assert failed is not None and "1.2.3" in str(failed)
