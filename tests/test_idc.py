"""The IDC path (issue 16), with real parts: moto's S3 server on loopback holding a bucket laid
out as IDC's (the bundled server's real DICOM files), an index of our own in IDC's schema, and
the real s5cmd binary; the archive's side is the bundled TCIA server."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tcia_models import TCIAClient, TCIAError, citations
from tcia_models._s5cmd import find_s5cmd
from tcia_models.idc import IDCOptions, index_path, lookup
from tcia_models.testing import TCIATestServer
from tcia_models.testing.idc import (
    IDC_INDEX_COLUMNS,
    crdc_series_uuid,
    instance_key,
    publish,
    write_index,
)
from tcia_models.testing.s3 import S3TestServer

TCIA = str(Path(sys.executable).with_name("tcia"))
BUCKET = "idc-open-data"

# RIDER Lung PET-CT: two series in IDC, the third only in the archive.
RIDER = [
    "1.3.6.1.4.1.9328.50.1.7.109790496340142304700741635171089234345",
    "1.3.6.1.4.1.9328.50.1.7.209366194844802036292714836428653144268",
    "1.3.6.1.4.1.9328.50.1.7.23371440247832824408105272699654489729",
]
# TCGA-KIRP (4 images each): what can go wrong in a bucket.
KIRP = "1.3.6.1.4.1.14519.5.2.1.9203.4004."
NO_OBJECTS = KIRP + "137177099658421704145863895493"  # in the index, nothing in the bucket
MISSING_ONE = KIRP + "143287988644147518880117782980"  # one of its four objects gone
SHORT_ONE = KIRP + "197057952797597751215816105842"  # one object cut short
NOT_DICOM = KIRP + "197900822168366244860588196227"  # one object not DICOM (same size)
OTHER_SERIES = KIRP + "307101751442496057217506331577"  # one file of another series (same size)
# TCGA-OV: one series whose IDC version has one image fewer than the archive's.
OLDER_IN_IDC = "1.3.6.1.4.1.14519.5.2.1.7777.4007.248574192248637448743886883231"
# BREAST-DIAGNOSIS: one series in the non-commercial bucket, under CC BY-NC 4.0.
NON_COMMERCIAL = "1.3.6.1.4.1.14519.5.2.1.4792.2001.261292236871631755539819127331"


@pytest.fixture(scope="module")
def tcia() -> Iterator[TCIATestServer]:
    with TCIATestServer() as server:
        yield server


@pytest.fixture(scope="module")
def s3() -> Iterator[S3TestServer]:
    with S3TestServer() as server:
        yield server


def _replace(s3: S3TestServer, uid: str, body_of: Any) -> None:
    """Replace the first object of a published series with ``body_of(original)``."""
    first = sorted(s3.keys(BUCKET, crdc_series_uuid(uid) + "/"))[0]
    original = next(body for name, body in _files_by_key(uid) if instance_key(uid, name) == first)
    s3.put(BUCKET, first, body_of(original))


def _files_by_key(uid: str) -> list[tuple[str, bytes]]:
    return _FILES[uid]


_FILES: dict[str, list[tuple[str, bytes]]] = {}


@pytest.fixture(scope="module")
def index(tcia: TCIATestServer, s3: S3TestServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bucket and its index: every case above, laid out once for the module."""
    for uid in [*RIDER, NO_OBJECTS, MISSING_ONE, SHORT_ONE, NOT_DICOM, OTHER_SERIES]:
        _FILES[uid] = list(tcia.images(uid))
    rows = publish(tcia, s3, [*RIDER[:2], MISSING_ONE, SHORT_ONE, NOT_DICOM, OTHER_SERIES])
    rows += publish(tcia, s3, [NO_OBJECTS])
    for key in s3.keys(BUCKET, crdc_series_uuid(NO_OBJECTS) + "/"):
        s3.delete(BUCKET, key)
    s3.delete(BUCKET, sorted(s3.keys(BUCKET, crdc_series_uuid(MISSING_ONE) + "/"))[-1])
    _replace(s3, SHORT_ONE, lambda body: body[: len(body) // 2])
    _replace(s3, NOT_DICOM, lambda body: b"\0" * len(body))
    _replace(s3, OTHER_SERIES, lambda body: _as_series(body, RIDER[1]))
    # IDC's version of OLDER_IN_IDC lacks its last image: the index and the bucket agree.
    older = publish(tcia, s3, [OLDER_IN_IDC])[0]
    last = sorted(s3.keys(BUCKET, crdc_series_uuid(OLDER_IN_IDC) + "/"))[-1]
    gone = len(
        next(b for n, b in tcia.images(OLDER_IN_IDC) if instance_key(OLDER_IN_IDC, n) == last)
    )
    s3.delete(BUCKET, last)
    older.update(instanceCount=4, series_size_MB=round(older["series_size_MB"] - gone / 1e6, 6))
    rows += [older]
    rows += publish(tcia, s3, [NON_COMMERCIAL], bucket="idc-open-data-cr", license="CC BY-NC 4.0")
    return write_index(tmp_path_factory.mktemp("idc") / "idc_index.parquet", rows)


def _as_series(body: bytes, other_uid: str) -> bytes:
    """The same DICOM file, said to be of another series (a UID of the same length)."""
    from pydicom import dcmread

    image = dcmread(io.BytesIO(body))
    uid = image.SeriesInstanceUID
    image.SeriesInstanceUID = (other_uid + "9" * len(uid))[: len(uid)]
    out = io.BytesIO()
    image.save_as(out, enforce_file_format=True)
    assert len(out.getvalue()) == len(body)
    return out.getvalue()


@pytest.fixture
def options(index: Path, s3: S3TestServer) -> IDCOptions:
    return IDCOptions(index=index, endpoint_url=s3.endpoint_url, retries=0)


@pytest.fixture
def v4(tcia: TCIATestServer) -> Iterator[TCIAClient]:
    with TCIAClient(base_url=tcia.base_url_for("nbia-v4")) as client:
        yield client


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _hidden(root: Path) -> list[str]:
    return [p.name for p in root.rglob(".*")] if root.exists() else []


def _archive_calls(tcia: TCIATestServer, since: int) -> list[tuple[str, str]]:
    """(query, series) of each request to the archive; a bulk metadata POST names each of its
    series (its form's ``list``)."""
    calls = []
    for r in tcia.requests[since:]:
        query = r.path.rsplit("/", 1)[-1]
        listed = [uid for uid in r.params.get("list", "").split(",") if uid]
        calls += [(query, uid) for uid in listed or [r.params.get("SeriesInstanceUID", "")]]
    return calls


# The index ------------------------------------------------------------------------------------


def test_our_index_has_idcs_exact_schema(index: Path) -> None:
    import idc_index_data

    theirs = pq.read_schema(idc_index_data.IDC_INDEX_PARQUET_FILEPATH)
    ours = pq.read_schema(index)
    assert [(f.name, str(f.type)) for f in ours] == [(f.name, str(f.type)) for f in theirs]
    assert [name for name, _ in IDC_INDEX_COLUMNS] == theirs.names


def test_the_default_index_is_idc_index_datas(monkeypatch: pytest.MonkeyPatch) -> None:
    import idc_index_data

    monkeypatch.delenv("TCIA_IDC_INDEX", raising=False)
    real = Path(idc_index_data.IDC_INDEX_PARQUET_FILEPATH)
    assert index_path() == real
    first = pq.ParquetFile(real).read_row_group(0, columns=["SeriesInstanceUID"])
    uid = first["SeriesInstanceUID"][0].as_py()
    (found,) = lookup([uid, "1.2.3.4"]).values()  # 1.2.3.4: not in IDC
    assert found.url.startswith("s3://idc-open-data") and found.url.endswith(
        f"/{found.crdc_series_uuid}/*"
    )
    assert found.instance_count >= 1 and found.size_bytes > 0 and found.license


def test_a_missing_index_says_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(TCIAError, match="no such file"):
        lookup(["1.2.3"], tmp_path / "nowhere.parquet")
    (tmp_path / "other.parquet").write_bytes(b"not parquet")
    with pytest.raises(TCIAError, match="IDC's schema"):
        lookup(["1.2.3"], tmp_path / "other.parquet")


def test_s5cmd_is_the_go_binary_not_its_python_wrapper() -> None:
    binary = find_s5cmd()
    assert binary.parent.name == "bin" and binary.parent.parent.name == "s5cmd"
    assert binary.read_bytes()[:4] == b"\x7fELF"
    wrapper = Path(sys.executable).with_name("s5cmd")
    assert wrapper.read_bytes()[:2] == b"#!"  # the console script we do not use
    with pytest.raises(TCIAError, match="not an executable"):
        find_s5cmd("/nonexistent/s5cmd")


# Routing and downloads ------------------------------------------------------------------------


def test_auto_takes_idcs_series_from_the_bucket_and_the_rest_from_the_archive(
    v4: TCIAClient, tcia: TCIATestServer, options: IDCOptions, tmp_path: Path
) -> None:
    before = len(tcia.requests)
    outcomes = v4.download_many(RIDER, tmp_path, source="auto", idc=options)
    assert [o.source for o in outcomes] == ["idc", "idc", "nbia"]
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    calls = _archive_calls(tcia, before)
    # The archive is asked only for the series IDC lacks: no getSeriesSize nor image of the rest.
    assert {uid for _, uid in calls} == {RIDER[2]}
    for outcome in outcomes:
        assert outcome.result is not None
        got = sorted(p.read_bytes() for p in outcome.result.files)
        assert got == sorted(body for _, body in tcia.images(outcome.series_instance_uid))
        assert outcome.result.path == tmp_path / outcome.series_instance_uid
    idc_names = sorted(p.name for p in outcomes[0].result.files)  # type: ignore[union-attr]
    assert idc_names == sorted(k.split("/")[1] for k in _keys_of(RIDER[0]))  # IDC's own names
    assert _hidden(tmp_path) == []
    again = v4.download_many(RIDER, tmp_path, source="auto", idc=options)
    assert all(o.result is not None and o.result.skipped for o in again)


def test_shards_split_the_series_across_both_sources_each_once(
    v4: TCIAClient, options: IDCOptions, tmp_path: Path
) -> None:
    """Two tasks of an array, source auto: each series lands once, from where it should."""
    sources: dict[str, str] = {}
    for index in range(2):
        outcomes = v4.download_many(RIDER, tmp_path, source="auto", idc=options, shard=f"{index}/2")
        assert all(o.ok for o in outcomes), [o.error for o in outcomes]
        for outcome in outcomes:
            assert outcome.series_instance_uid not in sources
            sources[outcome.series_instance_uid] = outcome.source
    assert sources == {RIDER[0]: "idc", RIDER[1]: "idc", RIDER[2]: "nbia"}


def _keys_of(uid: str) -> list[str]:
    return [instance_key(uid, name) for name, _ in _FILES[uid]]


def test_sequential_names_number_the_files_in_key_order(
    v4: TCIAClient, options: IDCOptions, tmp_path: Path
) -> None:
    sequential = IDCOptions(
        index=options.index, endpoint_url=options.endpoint_url, file_names="sequential"
    )
    (outcome,) = v4.download_many([RIDER[0]], tmp_path, source="idc", idc=sequential)
    assert outcome.result is not None
    names = [p.name for p in outcome.result.files]
    assert names == [f"{n:08d}.dcm" for n in range(1, 6)]
    by_key = dict(zip(_keys_of(RIDER[0]), (b for _, b in _FILES[RIDER[0]]), strict=True))
    assert [p.read_bytes() for p in outcome.result.files] == [by_key[k] for k in sorted(by_key)]


@pytest.mark.parametrize(
    ("uid", "message"),
    [
        (NO_OBJECTS, "s5cmd could not copy .*no object found"),
        (MISSING_ONE, "the bucket gave 3 files .* IDC's index lists 4"),
        (SHORT_ONE, "the bucket gave 4 files of .* bytes, but IDC's index lists 4 of"),
        (NOT_DICOM, "is not a DICOM file"),
        (OTHER_SERIES, "belongs to series"),
    ],
)
def test_a_bad_series_fails_alone_and_leaves_nothing(
    v4: TCIAClient, options: IDCOptions, tmp_path: Path, uid: str, message: str
) -> None:
    outcomes = v4.download_many([uid, RIDER[0]], tmp_path, source="auto", idc=options)
    bad, good = outcomes
    assert bad.error is not None and bad.source == "idc"
    with pytest.raises(TCIAError, match=message):
        _raise(bad.error)
    assert "nothing was kept" in str(bad.error)
    assert good.ok and good.result is not None and good.result.file_count == 5
    assert not (tmp_path / uid).exists() and _hidden(tmp_path) == []


def _raise(error: BaseException | None) -> None:
    assert error is not None
    raise error


def test_source_idc_for_a_series_idc_lacks_fails_it(
    v4: TCIAClient, options: IDCOptions, tmp_path: Path
) -> None:
    (outcome,) = v4.download_many([RIDER[2]], tmp_path, source="idc", idc=options)
    assert outcome.error is not None and "IDC's index does not have this series" in str(
        outcome.error
    )


def test_an_unreachable_endpoint_fails_fast_and_says_which(
    v4: TCIAClient, index: Path, tmp_path: Path
) -> None:
    dead = IDCOptions(index=index, endpoint_url="http://127.0.0.1:1", retries=0)
    started = time.monotonic()
    outcomes = v4.download_many(RIDER, tmp_path, source="auto", idc=dead)
    assert time.monotonic() - started < 20
    assert [o.ok for o in outcomes] == [False, False, True]  # the archive's series still comes
    assert "http://127.0.0.1:1" in str(outcomes[0].error)
    assert "connection refused" in str(outcomes[0].error)
    assert _hidden(tmp_path) == []


def test_an_incomplete_folder_is_downloaded_again(
    v4: TCIAClient, options: IDCOptions, tmp_path: Path
) -> None:
    folder = tmp_path / RIDER[0]
    folder.mkdir()
    (folder / "leftover.dcm").write_bytes(b"half")
    (outcome,) = v4.download_many([RIDER[0]], tmp_path, source="idc", idc=options)
    assert outcome.result is not None and not outcome.result.skipped
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        k.split("/")[1] for k in _keys_of(RIDER[0])
    )


def test_a_layout_and_a_sidecar_as_on_the_archives_path(
    v4: TCIAClient, options: IDCOptions, tmp_path: Path
) -> None:
    sidecar = tmp_path / "series.csv"
    outcomes = v4.download_many(
        [*RIDER, NON_COMMERCIAL],
        tmp_path / "data",
        layout="nbia-classic",
        source="auto",
        idc=options,
        metadata=sidecar,
    )
    assert all(o.ok for o in outcomes)
    rows = v4.get_series(collection="RIDER Lung PET-CT")
    for outcome, row in zip(outcomes, rows, strict=False):
        assert (
            outcome.path
            == (tmp_path / "data" / row.Collection / row.PatientID / row.StudyInstanceUID)
            / row.SeriesInstanceUID
        )
    with sidecar.open(newline="") as source:
        written = {r["SeriesInstanceUID"]: r for r in csv.DictReader(source)}
    assert [written[uid]["source"] for uid in RIDER] == ["idc", "idc", "nbia"]
    assert written[NON_COMMERCIAL]["license_short_name"] == "CC BY-NC 4.0"
    assert written[NON_COMMERCIAL]["aws_bucket"] == "idc-open-data-cr"
    cited = {c.license_name: c for c in citations(outcomes)}
    assert cited["CC BY-NC 4.0"].series == 1 and cited["CC BY 3.0"].series == 2
    assert (cited["CC BY 3.0"].doi or "").startswith("https://doi.org/10.7937/")


def test_the_async_client_downloads_from_idc_too(
    tcia: TCIATestServer, options: IDCOptions, tmp_path: Path
) -> None:
    import asyncio

    from tcia_models import AsyncTCIAClient

    async def run() -> list[str]:
        async with AsyncTCIAClient(base_url=tcia.base_url_for("nbia-v4")) as client:
            outcomes = await client.download_many(RIDER, tmp_path, source="auto", idc=options)
            return [o.source for o in outcomes if o.ok]

    assert asyncio.run(run()) == ["idc", "idc", "nbia"]


# The command line -----------------------------------------------------------------------------


def _tcia(
    tcia: TCIATestServer, s3: S3TestServer, index: Path, *args: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TCIA_BASE_URL": tcia.base_url_for("nbia-v4"),
        "TCIA_IDC_INDEX": str(index),
        "TCIA_IDC_ENDPOINT_URL": s3.endpoint_url,
    }
    return subprocess.run(
        [TCIA, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_tcia_plan_shows_coverage_licences_and_a_version_difference(
    tcia: TCIATestServer, s3: S3TestServer, index: Path, tmp_path: Path
) -> None:
    result = _tcia(
        tcia,
        s3,
        index,
        "plan",
        "--collection",
        "RIDER Lung PET-CT",
        "--collection",
        "TCGA-OV",
        NON_COMMERCIAL,
        "--output",
        "plan.parquet",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rider = next(line for line in lines if line.startswith("RIDER Lung PET-CT"))
    assert rider.split()[3:8] == ["3", "2", "1", "0", "2"]  # series, IDC, only NBIA, differ, from
    ov = next(line for line in lines if line.startswith("TCGA-OV"))
    assert ov.split()[1:5] == ["2", "1", "1", "1"]
    assert f"instance counts differ: {OLDER_IN_IDC}: the archive lists 5 images, IDC's index 4" in (
        result.stdout
    )
    assert "CC BY-NC 4.0" in result.stdout
    table = {
        r["SeriesInstanceUID"]: r for r in pq.read_table(tmp_path / "plan.parquet").to_pylist()
    }
    assert len(table) == 6
    assert table[OLDER_IN_IDC]["instance_counts_differ"] is True
    assert table[OLDER_IN_IDC]["expected_files"] == 4  # what IDC's bucket will bring
    assert table[RIDER[0]]["instance_counts_differ"] is False
    assert table[RIDER[2]]["source"] == "nbia" and table[RIDER[2]]["crdc_series_uuid"] is None
    assert table[NON_COMMERCIAL]["license"] == "CC BY-NC 4.0"
    assert table[RIDER[0]]["series_aws_url"] == f"s3://{BUCKET}/{crdc_series_uuid(RIDER[0])}/*"
    as_csv = _tcia(tcia, s3, index, "plan", *RIDER, "--output", "plan.csv", cwd=tmp_path)
    assert as_csv.returncode == 0, as_csv.stderr
    with (tmp_path / "plan.csv").open(newline="") as source:
        assert [r["source"] for r in csv.DictReader(source)] == ["idc", "idc", "nbia"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.csv", "plan.parquet"]


def test_tcia_download_source_auto_end_to_end(
    tcia: TCIATestServer, s3: S3TestServer, index: Path, tmp_path: Path
) -> None:
    common = ["download", *RIDER, OLDER_IN_IDC, "--out", "data", "--source", "auto"]
    dry = _tcia(tcia, s3, index, *common, "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "1 from the archive (NBIA), 3 from IDC's buckets" in dry.stdout
    assert not (tmp_path / "data").exists()
    result = _tcia(
        tcia, s3, index, *common, "--no-progress", "--metadata", "data/series.csv", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "Downloaded 4 series" in result.stdout and "3 of them from IDC" in result.stdout
    assert "CC BY 3.0" in result.stdout
    assert len(list((tmp_path / "data" / OLDER_IN_IDC).iterdir())) == 4  # IDC's version
    assert _hidden(tmp_path / "data") == []
