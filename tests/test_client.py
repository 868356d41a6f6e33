"""The typed clients against the bundled server, over real HTTP."""

from __future__ import annotations

import asyncio
import datetime
import io
import logging
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest

import tcia_models._retry
from tcia_models import (
    GENERATIONS,
    QUERIES,
    APIConnectionError,
    APITimeoutError,
    AsyncTCIAClient,
    AuthenticationError,
    BadRequestError,
    DownloadError,
    InvalidParameterError,
    NotFoundError,
    PatientStudy,
    RateLimitError,
    ResponseFormatError,
    Series,
    SeriesSize,
    ServerError,
    TCIAClient,
    TCIAError,
    parse,
)
from tcia_models.testing import Fault, TCIATestServer

KEY = "SECRET-KEY-0123456789"
COLONOGRAPHY = "1.3.6.1.4.1.9328.50.4.10416"


@pytest.fixture(scope="module")
def server() -> Iterator[TCIATestServer]:
    with TCIATestServer(api_keys={KEY}) as running:
        yield running


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch, server: TCIATestServer) -> None:
    monkeypatch.setattr(tcia_models._retry, "INITIAL_RETRY_DELAY", 0.01)
    server.faults.clear()


@pytest.fixture
def tcia(server: TCIATestServer) -> Iterator[TCIAClient]:
    with TCIAClient(api="bindaas", api_key=KEY, base_url=server.base_url) as client:
        yield client


SAMPLE_ARGUMENTS: dict[str, Any] = {
    "name": "guide-breast-diagnosis",
    "collection": "TCGA-KIRC",
    "modality": "CR",
    "date": datetime.date(2000, 1, 1),
    "from_date": datetime.date(2000, 1, 1),
    "series_instance_uid": COLONOGRAPHY,
    "series_uid": COLONOGRAPHY,
    "series_instance_uids": [COLONOGRAPHY],
}


def _list_queries(api: str = "bindaas") -> list[str]:
    return sorted(
        q.method_name
        for q in QUERIES.values()
        if q.model is not None and not q.single_row and q.wire(api)
    )


def _arguments(method: str) -> dict[str, Any]:
    spec = next(q for q in QUERIES.values() if q.method_name == method)
    return {p.python_name: SAMPLE_ARGUMENTS[p.python_name] for p in spec.parameters if p.required}


@pytest.mark.parametrize(
    ("api", "method"), [(api, m) for api in GENERATIONS for m in _list_queries(api)]
)
def test_every_list_query_of_every_generation_in_every_format_gives_the_same_models(
    server: TCIATestServer, api: str, method: str
) -> None:
    spec = next(q for q in QUERIES.values() if q.method_name == method)
    with TCIAClient(api=api, api_key=KEY, base_url=server.base_url_for(api)) as tcia:  # type: ignore[arg-type]
        call = getattr(tcia, method)
        by_format = {
            fmt: call(**_arguments(method), format=fmt)
            for fmt in ("json", "csv", "xml")
            if fmt in spec.formats
        }
    json_rows = by_format.pop("json")
    assert json_rows and all(isinstance(row, spec.model) for row in json_rows)
    for rows in by_format.values():
        assert rows == json_rows  # row for row, field for field


def test_typed_results_and_filters(tcia: TCIAClient) -> None:
    series: list[Series] = tcia.get_series(collection="TCGA-GBM", modality="MR")
    assert len(series) == 1 and series[0].Collection == "TCGA-GBM"
    assert series[0].SeriesDate is not None and series[0].SeriesDate.year == 2001
    studies: list[PatientStudy] = tcia.get_patient_study(patient_id="BreastDx-01-0003")
    assert sorted(s.SeriesCount for s in studies) == [2, 5]
    assert len(tcia.get_collection_values()) == 15
    assert [m.Modality for m in tcia.get_modality_values(collection="RIDER Lung PET-CT")] == [
        "CT",
        "PT",
    ]


def test_series_size_is_one_object(tcia: TCIAClient) -> None:
    size = tcia.get_series_size(series_instance_uid=COLONOGRAPHY)
    assert isinstance(size, SeriesSize) and size.ObjectCount == 5 and size.TotalSizeInBytes > 0
    for fmt in ("csv", "xml"):
        assert tcia.get_series_size(series_instance_uid=COLONOGRAPHY, format=fmt) == size
    with pytest.raises(NotFoundError, match=r"no result for SeriesInstanceUID=1\.2\.3"):
        tcia.get_series_size(series_instance_uid="1.2.3")


def test_no_rows_is_an_empty_list(tcia: TCIAClient) -> None:
    assert tcia.get_series(collection="NO-SUCH-COLLECTION") == []
    assert tcia.get_series(collection="NO-SUCH-COLLECTION", format="csv") == []


def test_missing_required_parameter_is_caught_before_sending(
    tcia: TCIAClient, server: TCIATestServer
) -> None:
    before = len(server.requests)
    with pytest.raises(
        InvalidParameterError, match=r"get_series_size\(\) needs series_instance_uid"
    ):
        tcia.get_series_size(series_instance_uid=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="contents_by_name"):
        tcia.contents_by_name(name="")
    with pytest.raises(InvalidParameterError, match="format='csv'"):
        tcia.contents_by_name(name="x", format="csv")  # type: ignore[arg-type]
    assert len(server.requests) == before


def test_parse_a_saved_response_like_the_client(tcia: TCIAClient) -> None:
    for fmt in ("json", "csv", "xml"):
        body = tcia.raw("getSeries", {"Collection": "TCGA-OV"}, fmt)
        assert parse(Series, body, fmt) == tcia.get_series(collection="TCGA-OV")
    html = tcia.raw("getSeries", {"Collection": "TCGA-OV"}, "html")
    assert html.startswith(b"<P ALIGN='center'>")


def test_api_key_goes_in_the_header_never_the_url(tcia: TCIAClient, server: TCIATestServer) -> None:
    tcia.get_patient(collection="TCGA-OV")
    recorded = server.requests[-1]
    assert recorded.headers["api_key"] == KEY
    assert "api_key" not in recorded.params and KEY not in recorded.path
    assert KEY not in repr(tcia)


def test_environment_gives_api_key_and_base_url(
    server: TCIATestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TCIA_API", "bindaas")
    monkeypatch.setenv("TCIA_API_KEY", KEY)
    monkeypatch.setenv("TCIA_BASE_URL", server.base_url)
    with TCIAClient() as tcia:
        assert tcia.api == "bindaas" and tcia.base_url == server.base_url + "/"
        assert len(tcia.get_collection_values()) == 15


def test_default_is_todays_archive_and_bindaas_the_guides_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("TCIA_API", "TCIA_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    today = TCIAClient()
    assert (today.api, today.base_url) == (
        "nbia-v4",
        "https://nbia.cancerimagingarchive.net/nbia-api/services/v4/",
    )
    guide = TCIAClient(api="bindaas")
    assert guide.base_url == "https://services.cancerimagingarchive.net/services/TCIA/TCIA/query/"
    with pytest.raises(InvalidParameterError, match="api='nbia-v9' is not one of"):
        TCIAClient(api="nbia-v9")  # type: ignore[arg-type]


# Errors --------------------------------------------------------------------------------------


def _error(call: Any) -> TCIAError:
    with pytest.raises(TCIAError) as raised:
        call()
    return raised.value


def _anonymous(server: TCIATestServer) -> TCIAError:
    with TCIAClient(api="bindaas", base_url=server.base_url, max_retries=0) as anonymous:
        return _error(anonymous.get_series)


def _lost(server: TCIATestServer) -> TCIAError:
    with TCIAClient(
        api="bindaas", api_key=KEY, base_url=server.origin + "/services/nowhere"
    ) as lost:
        return _error(lost.get_series)


def _missing_parameter(server: TCIATestServer) -> TCIAError:
    with TCIAClient(api="bindaas", api_key=KEY, base_url=server.base_url) as tcia:
        return _error(lambda: tcia.raw("getSeriesSize"))


@pytest.mark.parametrize(
    ("scenario", "error_type", "status", "query", "says"),
    [
        (_anonymous, AuthenticationError, 401, "getSeries", ["getSeries: HTTP 401", "api_key"]),
        (_lost, NotFoundError, 404, "getSeries", ["getSeries: HTTP 404", "check base_url"]),
        (
            _missing_parameter,
            BadRequestError,
            400,
            "getSeriesSize",
            ["getSeriesSize: HTTP 400", "Check the parameters"],
        ),
    ],
    ids=["no-key", "wrong-base-url", "missing-parameter"],
)
def test_errors_say_query_status_and_what_to_do(
    server: TCIATestServer,
    scenario: Any,
    error_type: type[TCIAError],
    status: int,
    query: str,
    says: list[str],
) -> None:
    error = scenario(server)
    assert type(error) is error_type
    assert (error.query, error.status) == (query, status)
    for words in says:
        assert words in str(error)


def test_a_bad_request_keeps_the_servers_words(server: TCIATestServer) -> None:
    error = _missing_parameter(server)
    assert error.body == "A parameter, SeriesInstanceUID is required for this API call."


def test_retry_then_success(tcia: TCIAClient, server: TCIATestServer) -> None:
    server.inject(Fault.http_status(503), times=2)
    before = len(server.requests)
    assert len(tcia.get_collection_values()) == 15
    assert len(server.requests) - before == 3


def test_retries_exhausted(server: TCIATestServer) -> None:
    server.inject(
        Fault.http_status(500, body=b"Server was not able to process your request"), times=3
    )
    with TCIAClient(api="bindaas", api_key=KEY, base_url=server.base_url, max_retries=2) as tcia:
        error = _error(tcia.get_patient)
    assert isinstance(error, ServerError) and error.status == 500
    assert "after 2 retries" in str(error) and "try again later" in str(error)
    assert len(server.faults) == 0


def test_retry_after_is_honoured(tcia: TCIAClient, server: TCIATestServer) -> None:
    server.inject(Fault.rate_limited(retry_after=0.3))
    started = time.monotonic()
    tcia.get_collection_values()
    assert time.monotonic() - started >= 0.3
    server.inject(Fault.rate_limited(retry_after=0.01), times=4)
    assert isinstance(_error(tcia.get_collection_values), RateLimitError)


def test_a_retry_after_beyond_the_bound_is_not_waited_for(
    tcia: TCIAClient, server: TCIATestServer
) -> None:
    server.inject(Fault.rate_limited(retry_after=3600))
    started = time.monotonic()
    assert isinstance(_error(tcia.get_collection_values), RateLimitError)
    assert time.monotonic() - started < 5


def test_html_page_with_200_is_an_error_not_an_empty_result(
    tcia: TCIAClient, server: TCIATestServer
) -> None:
    for fmt in ("json", "csv", "xml"):
        server.inject(Fault.html_error_page())
        error = _error(lambda fmt=fmt: tcia.get_series(format=fmt))
        assert isinstance(error, ResponseFormatError) and error.query == "getSeries"
        assert "<html>" in error.body


def test_unreachable_server_and_timeouts(server: TCIATestServer) -> None:
    with TCIAClient(
        api="bindaas", base_url="http://127.0.0.1:9/services", max_retries=1
    ) as nowhere:
        error = _error(nowhere.get_series)
    assert isinstance(error, APIConnectionError) and "after 1 retries" in str(error)
    server.inject(Fault.slow(1.0))
    with TCIAClient(
        api="bindaas", api_key=KEY, base_url=server.base_url, timeout=0.2, max_retries=0
    ) as impatient:
        assert isinstance(_error(impatient.get_series), APITimeoutError)


def _echoed_key(server: TCIATestServer, tcia: TCIAClient, dest: Path) -> TCIAError:
    server.inject(Fault.http_status(503, body=f"echo {KEY}".encode()), times=2)
    error = _error(tcia.get_series)
    assert "***" in error.body  # the echoed key was blanked out
    return error


def _html_page(server: TCIATestServer, tcia: TCIAClient, dest: Path) -> TCIAError:
    server.inject(Fault.html_error_page())
    return _error(tcia.get_series)


def _truncated_download(server: TCIATestServer, tcia: TCIAClient, dest: Path) -> TCIAError:
    server.inject(Fault.truncated(to_bytes=100), query="getImage")
    return _error(lambda: tcia.download_series(COLONOGRAPHY, dest))


def _dropped_connections(server: TCIATestServer, tcia: TCIAClient, dest: Path) -> TCIAError:
    server.inject(Fault.drop_connection(), times=2)
    return _error(tcia.get_series)


def _wrong_key(server: TCIATestServer, tcia: TCIAClient, dest: Path) -> TCIAError:
    with TCIAClient(api="bindaas", api_key="wrong-" + KEY, base_url=server.base_url) as wrong:
        assert KEY not in repr(wrong)
        return _error(wrong.get_series)


@pytest.mark.parametrize(
    "scenario",
    [_echoed_key, _html_page, _truncated_download, _dropped_connections, _wrong_key],
    ids=["echoed-in-body", "html-page", "truncated-download", "dropped-connection", "wrong-key"],
)
def test_the_api_key_never_appears_in_errors_or_logs(
    server: TCIATestServer, caplog: pytest.LogCaptureFixture, tmp_path: Path, scenario: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    with TCIAClient(api="bindaas", api_key=KEY, base_url=server.base_url, max_retries=1) as tcia:
        error = scenario(server, tcia, tmp_path)
        assert KEY not in repr(tcia)
    assert KEY not in str(error) and KEY not in repr(error) and KEY not in error.body
    assert error.__cause__ is None or KEY not in str(error.__cause__)
    assert all(KEY not in record.getMessage() for record in caplog.records)


# Downloads -----------------------------------------------------------------------------------


def _left_behind(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir()) if dest.exists() else []


def test_download_series(tcia: TCIAClient, server: TCIATestServer, tmp_path: Path) -> None:
    result = tcia.download_series(COLONOGRAPHY, tmp_path)
    assert result.path == tmp_path / COLONOGRAPHY and not result.skipped
    assert result.file_count == 5
    assert [p.name for p in result.files] == [*(f"{n:08d}.dcm" for n in range(1, 6)), "LICENSE"]
    assert result.bytes == sum(p.stat().st_size for p in result.files)
    assert _left_behind(tmp_path) == [COLONOGRAPHY]
    for path in result.files[:-1]:
        assert pydicom.dcmread(path).SeriesInstanceUID == COLONOGRAPHY
    before = len(server.requests)
    again = tcia.download_series(COLONOGRAPHY, tmp_path)
    assert again.skipped and again.files == result.files
    asked = [r.path.rsplit("/", 1)[-1] for r in server.requests[before:]]
    assert asked == ["getSeriesSize"]  # completeness is checked against it; no archive fetched


def test_download_without_extracting_keeps_the_zip(tcia: TCIAClient, tmp_path: Path) -> None:
    result = tcia.download_series(COLONOGRAPHY, tmp_path, extract=False)
    assert result.path == tmp_path / f"{COLONOGRAPHY}.zip" and result.file_count == 5
    assert zipfile.ZipFile(result.path).namelist()[0] == "LICENSE"
    assert _left_behind(tmp_path) == [f"{COLONOGRAPHY}.zip"]
    assert tcia.download_series(COLONOGRAPHY, tmp_path, extract=False).skipped


def test_generated_get_image_writes_the_archive(tcia: TCIAClient, tmp_path: Path) -> None:
    path = tcia.get_image(series_instance_uid=COLONOGRAPHY, path=tmp_path / "series.zip")
    assert len(zipfile.ZipFile(path).namelist()) == 6
    assert _left_behind(tmp_path) == ["series.zip"]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.truncated(to_bytes=2000), "damaged or incomplete"),
        (Fault.corrupted(), "damaged"),
        (Fault.zip_entry("../outside.txt"), "unsafe entry '../outside.txt' (it climbs out"),
        (Fault.zip_entry("/etc/cron.d/x"), "unsafe entry '/etc/cron.d/x' (absolute path)"),
        (Fault.zip_entry("00000006.dcm", b"extra"), "images grew past the 5420 bytes"),
        (Fault.html_error_page(), "damaged or incomplete"),
    ],
)
def test_bad_archives_fail_and_leave_nothing(
    tcia: TCIAClient, server: TCIATestServer, tmp_path: Path, fault: Fault, expected: str
) -> None:
    server.inject(fault, query="getImage")
    with pytest.raises(DownloadError) as raised:
        tcia.download_series(COLONOGRAPHY, tmp_path)
    assert expected in str(raised.value) and raised.value.series_instance_uid == COLONOGRAPHY
    assert _left_behind(tmp_path) == []
    assert not (tmp_path.parent / "outside.txt").exists()


def test_dropped_connection_mid_download_is_retried(
    tcia: TCIAClient, server: TCIATestServer, tmp_path: Path
) -> None:
    server.inject(Fault.drop_connection(after_bytes=1500), query="getImage")
    result = tcia.download_series(COLONOGRAPHY, tmp_path)
    assert result.file_count == 5 and _left_behind(tmp_path) == [COLONOGRAPHY]


def test_dropped_every_time_fails_and_leaves_nothing(
    server: TCIATestServer, tmp_path: Path
) -> None:
    server.inject(Fault.drop_connection(after_bytes=1500), query="getImage", times=3)
    with TCIAClient(api="bindaas", api_key=KEY, base_url=server.base_url, max_retries=2) as tcia:
        with pytest.raises(APIConnectionError, match="getImage: could not talk"):
            tcia.download_series(COLONOGRAPHY, tmp_path)
    assert _left_behind(tmp_path) == []


def test_refused_download_leaves_nothing(server: TCIATestServer, tmp_path: Path) -> None:
    with TCIAClient(api="bindaas", api_key="wrong", base_url=server.base_url) as tcia:
        with pytest.raises(AuthenticationError):
            tcia.download_series(COLONOGRAPHY, tmp_path / "data")
    assert _left_behind(tmp_path / "data") == []


def test_a_uid_that_is_not_a_uid_is_refused(tcia: TCIAClient, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="is not a DICOM UID"):
        tcia.download_series("../../etc", tmp_path)


def test_download_many_reports_each_series(
    tcia: TCIAClient, server: TCIATestServer, tmp_path: Path
) -> None:
    uids = [s.SeriesInstanceUID for s in tcia.get_series(collection="BREAST-DIAGNOSIS")]
    server.inject(Fault.truncated(to_bytes=500), query="getImage")
    outcomes = tcia.download_many([*uids, "1.2.3"], tmp_path, concurrency=3, progress=True)
    assert [o.series_instance_uid for o in outcomes] == [*uids, "1.2.3"]
    failed = [o for o in outcomes if not o.ok]
    assert len(failed) == 2
    assert isinstance(outcomes[-1].error, NotFoundError)
    assert sum(isinstance(o.error, DownloadError) for o in failed) == 1
    done = [o.result for o in outcomes if o.result]
    assert len(done) == len(uids) - 1
    assert sorted(_left_behind(tmp_path)) == sorted(r.path.name for r in done)


# Async ---------------------------------------------------------------------------------------


def test_async_and_sync_give_the_same_results(tcia: TCIAClient, server: TCIATestServer) -> None:
    async def run() -> dict[str, Any]:
        async with AsyncTCIAClient(api="bindaas", api_key=KEY, base_url=server.base_url) as client:
            results = {}
            for method in _list_queries():
                results[method] = await getattr(client, method)(**_arguments(method))
            results["size"] = await client.get_series_size(series_instance_uid=COLONOGRAPHY)
            return results

    results = asyncio.run(run())
    for method in _list_queries():
        assert results[method] == getattr(tcia, method)(**_arguments(method)), method
    assert results["size"] == tcia.get_series_size(series_instance_uid=COLONOGRAPHY)


def test_two_hundred_concurrent_async_queries(server: TCIATestServer) -> None:
    async def run() -> list[int]:
        async with AsyncTCIAClient(api="bindaas", api_key=KEY, base_url=server.base_url) as client:
            sizes = await asyncio.gather(
                *(client.get_series_size(series_instance_uid=COLONOGRAPHY) for _ in range(200))
            )
            return [size.ObjectCount for size in sizes]

    assert asyncio.run(run()) == [5] * 200


def test_async_download_many_and_faults(server: TCIATestServer, tmp_path: Path) -> None:
    async def run() -> list[Any]:
        async with AsyncTCIAClient(api="bindaas", api_key=KEY, base_url=server.base_url) as client:
            uids = [
                s.SeriesInstanceUID for s in await client.get_series(collection="RIDER PHANTOM MRI")
            ]
            server.inject(Fault.zip_entry("../escape.dcm"), query="getImage")
            server.inject(Fault.drop_connection(after_bytes=700), query="getImage")
            return await client.download_many(uids, tmp_path, concurrency=4)

    outcomes = asyncio.run(run())
    assert len(outcomes) == 7
    failed = [o for o in outcomes if not o.ok]
    assert len(failed) == 1 and "unsafe entry '../escape.dcm'" in str(failed[0].error)
    assert len(_left_behind(tmp_path)) == 6
    assert not (tmp_path.parent / "escape.dcm").exists()
    for outcome in outcomes:
        if outcome.result:
            names = [p.name for p in outcome.result.files]
            assert names[-1] == "LICENSE" and len(names) == outcome.result.file_count + 1


def test_async_download_series_and_archive(server: TCIATestServer, tmp_path: Path) -> None:
    async def run() -> tuple[Any, Path]:
        async with AsyncTCIAClient(api="bindaas", api_key=KEY, base_url=server.base_url) as client:
            result = await client.download_series(COLONOGRAPHY, tmp_path / "a")
            archive = await client.get_image(
                series_instance_uid=COLONOGRAPHY, path=tmp_path / "b.zip"
            )
            return result, archive

    result, archive = asyncio.run(run())
    assert result.file_count == 5
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.read("00000001.dcm") == (result.path / "00000001.dcm").read_bytes()
        assert pydicom.dcmread(io.BytesIO(zipped.read("00000005.dcm"))).InstanceNumber == 5
