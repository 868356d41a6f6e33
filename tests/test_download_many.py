"""Downloading the way researchers do (issue 14): manifests, layouts, rows in, sidecars, plans,
free space, failed-out manifests, shards and streaming outcomes, over the bundled server."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tcia_models import (
    AsyncTCIAClient,
    Series,
    Shard,
    StorageError,
    TCIAClient,
    citations,
    read_manifest,
)
from tcia_models.testing import Fault, TCIATestServer

TCIA = str(Path(sys.executable).with_name("tcia"))
RIDER = "RIDER Lung PET-CT"


@pytest.fixture(scope="module")
def server() -> Iterator[TCIATestServer]:
    with TCIATestServer() as running:
        yield running


@pytest.fixture
def v4(server: TCIATestServer) -> Iterator[TCIAClient]:
    server.faults.clear()
    with TCIAClient(base_url=server.base_url_for("nbia-v4")) as client:
        yield client


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _asked(server: TCIATestServer, since: int) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in server.requests[since:]]


def test_rows_in_spare_the_size_calls(
    v4: TCIAClient, server: TCIATestServer, tmp_path: Path
) -> None:
    rows = v4.get_series(collection=RIDER)
    assert all(row.ImageCount and row.FileSize for row in rows)
    before = len(server.requests)
    outcomes = v4.download_many(rows, tmp_path, layout="nbia-classic")
    assert all(o.ok for o in outcomes)
    asked = _asked(server, before)
    assert "getSeriesSize" not in asked and "getSeries" not in asked
    assert asked.count("getImageWithMD5Hash") == len(rows)
    for outcome, row in zip(outcomes, rows, strict=True):
        assert (
            outcome.path
            == tmp_path
            / row.Collection
            / row.PatientID
            / row.StudyInstanceUID
            / row.SeriesInstanceUID
        )
        assert outcome.result is not None and outcome.result.md5_verified


@pytest.mark.parametrize("kind", ["pyarrow", "pandas", "polars"])
def test_a_table_of_series_downloads_its_rows(
    kind: str, v4: TCIAClient, server: TCIATestServer, tmp_path: Path
) -> None:
    """A table filtered from tcia.tables downloads row by row, its sizes sparing getSeriesSize;
    a data frame is read as rows, never as its column names."""
    table = v4.tables.get_series(collection=RIDER)
    table = table.filter(pc.equal(table["Modality"], "CT"))
    expected = sorted(table["SeriesInstanceUID"].to_pylist())
    assert expected
    given = {"pyarrow": table, "pandas": table.to_pandas(), "polars": pl.from_arrow(table)}[kind]
    before = len(server.requests)
    outcomes = v4.download_many(given, tmp_path)
    assert sorted(o.series_instance_uid for o in outcomes) == expected
    assert all(o.ok for o in outcomes)
    assert "getSeriesSize" not in _asked(server, before)


def test_bare_uids_and_a_layout_fetch_the_rows(v4: TCIAClient, tmp_path: Path) -> None:
    uids = [row.SeriesInstanceUID for row in v4.get_series(collection=RIDER)]
    outcomes = v4.download_many(uids, tmp_path, layout="{Modality}/{SeriesInstanceUID:last5}")
    assert {p.parent.name for p in tmp_path.glob("*/*")} == {"CT", "PT"}
    assert {o.metadata["Collection"] for o in outcomes} == {RIDER}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_sidecar_row_per_series(
    v4: TCIAClient, server: TCIATestServer, tmp_path: Path, suffix: str
) -> None:
    rows = v4.get_series(collection="BREAST-DIAGNOSIS")
    server.inject(Fault.truncated(to_bytes=300), query="getImageWithMD5Hash")
    sidecar = tmp_path / f"series{suffix}"
    outcomes = v4.download_many(rows, tmp_path / "data", metadata=sidecar, concurrency=1)
    if suffix == ".csv":
        with sidecar.open(newline="") as source:
            written = list(csv.DictReader(source))
    else:
        written = [
            {k: "" if v is None else str(v) for k, v in row.items()}
            for row in pq.read_table(sidecar).to_pylist()
        ]
    assert [r["SeriesInstanceUID"] for r in written] == [row.SeriesInstanceUID for row in rows]
    assert sorted(r["outcome"] for r in written) == ["downloaded"] * (len(rows) - 1) + ["failed"]
    for record, outcome in zip(written, outcomes, strict=True):
        assert record["Collection"] == "BREAST-DIAGNOSIS" and record["LicenseName"]
        if outcome.result is not None:
            assert record["path"] == outcome.series_instance_uid
            assert int(record["file_count"]) == outcome.result.file_count
            assert int(record["bytes"]) == outcome.result.bytes and record["md5"] == "verified"
        else:
            assert "damaged" in record["error"] or "incomplete" in record["error"]
    assert not [p for p in sidecar.parent.iterdir() if p.name.startswith(".")]


def test_licences_and_dois_of_what_was_downloaded(v4: TCIAClient, tmp_path: Path) -> None:
    outcomes = v4.download_many(v4.get_series(collection="TCGA-KIRC"), tmp_path)
    (cited,) = citations(outcomes)
    assert cited.collections == ("TCGA-KIRC",) and cited.series == len(outcomes)
    assert (
        cited.license_name
        and cited.license_uri
        and cited.doi
        and cited.doi.startswith("https://doi.org/")
    )
    assert "TCGA-KIRC (3 series)" in cited.describe() and f"cite {cited.doi}" in cited.describe()


def test_a_plan_before_the_work(v4: TCIAClient, server: TCIATestServer, tmp_path: Path) -> None:
    rows = v4.get_series(collection=RIDER)
    v4.download_series(rows[0].SeriesInstanceUID, tmp_path)
    plan = v4.plan_downloads(rows, tmp_path)
    complete = plan.complete()
    assert complete == {rows[0].SeriesInstanceUID}
    text = plan.describe(complete)
    assert text.startswith(f"{len(rows)} series") and "1 already complete" in text
    assert f"{len(rows) - 1} to download" in text and rows[1].SeriesInstanceUID in text
    assert plan.remaining_bytes(complete) == sum(r.FileSize or 0 for r in rows[1:])


def test_a_run_refuses_to_start_without_room(
    v4: TCIAClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    monkeypatch.setattr(
        shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 10, 10)
    )  # type: ignore[attr-defined]
    rows = v4.get_series(collection=RIDER)
    with pytest.raises(StorageError, match="only 10 bytes are free there"):
        v4.download_many(rows, tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert all(o.ok for o in v4.download_many(rows, tmp_path, check_free_space=False))


def test_shards_split_a_list_with_no_coordinator(v4: TCIAClient, tmp_path: Path) -> None:
    rows = v4.get_series()
    taken = []
    for index in range(3):
        plan = v4.plan_downloads(rows, tmp_path, shard=f"{index}/3")
        taken.append({p.series_instance_uid for p in plan.series})
        assert plan.skipped_by_shard == len(rows) - len(taken[-1])
    assert set().union(*taken) == {row.SeriesInstanceUID for row in rows}
    assert sum(map(len, taken)) == len(rows) and all(taken)
    assert Shard.parse(
        "auto",
        {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4", "SLURM_ARRAY_TASK_COUNT": "3"},
    ) == Shard(1, 3)
    assert Shard.parse("auto", {"JOB_COMPLETION_INDEX": "2", "TCIA_SHARD_COUNT": "4"}) == Shard(
        2, 4
    )
    for bad in ("3/3", "x/2", "1", "auto"):
        with pytest.raises(ValueError):
            Shard.parse(bad, {})


def test_outcomes_arrive_as_they_finish(server: TCIATestServer, tmp_path: Path) -> None:
    import asyncio
    import time

    async def run() -> list[float]:
        async with AsyncTCIAClient(base_url=server.base_url_for("nbia-v4")) as tcia:
            rows = await tcia.get_series(collection="RIDER PHANTOM MRI")
            server.inject(Fault.slow(1.5), query="getImageWithMD5Hash")  # one of them is slow
            started, arrived, seen = time.monotonic(), [], set()
            async for outcome in tcia.iter_downloads(rows, tmp_path, concurrency=3):
                arrived.append(time.monotonic() - started)
                seen.add(outcome.series_instance_uid)
            assert seen == {row.SeriesInstanceUID for row in rows}
            return arrived

    arrived = asyncio.run(run())
    assert arrived[0] < arrived[-1] - 1.0  # the first came long before the slow one


def test_md5_list_kept_only_when_asked(v4: TCIAClient, tmp_path: Path) -> None:
    uid = v4.get_series(collection="TCGA-OV")[0].SeriesInstanceUID
    plain = v4.download_series(uid, tmp_path / "plain")
    kept = v4.download_series(uid, tmp_path / "kept", keep_md5_list=True)
    assert "md5hashes.csv" not in [p.name for p in plain.files]
    assert "md5hashes.csv" in [p.name for p in kept.files] and kept.md5_verified


def test_new_file_names_are_asked_for(
    v4: TCIAClient, server: TCIATestServer, tmp_path: Path
) -> None:
    uid = v4.get_series(collection="TCGA-OV")[0].SeriesInstanceUID
    result = v4.download_series(uid, tmp_path, new_file_names=True)
    request = server.requests[-1]
    assert request.path.endswith("/getImage") and request.params["NewFileNames"] == "Yes"
    assert request.params["IncludeMD5"] == "Yes" and result.md5_verified


# The command line ------------------------------------------------------------------------------


def tcia(*args: str, base_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCIA_")}
    return subprocess.run(
        [TCIA, *args, "--base-url", base_url],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        timeout=180,
    )


def test_a_tcia_manifest_into_a_layout_with_a_sidecar_and_a_licence_summary(
    server: TCIATestServer, tmp_path: Path
) -> None:
    base = server.base_url_for("nbia-v4")
    manifest = tmp_path / "cart.tcia"
    written = tcia(
        "query",
        "getSeries",
        "--collection",
        RIDER,
        "--format",
        "manifest",
        "--output",
        str(manifest),
        base_url=base,
    )
    assert written.returncode == 0, written.stderr
    uids = read_manifest(manifest).series_instance_uids
    assert manifest.read_text().startswith("downloadServerUrl=") and uids
    layout = "{Collection}/{PatientID}/{StudyInstanceUID}/{SeriesNumber}-{SeriesDescription}"
    sidecar = tmp_path / "series.csv"
    out = tmp_path / "data"
    dry = tcia(
        "download",
        "--manifest",
        str(manifest),
        "--out",
        str(out),
        "--layout",
        layout,
        "--dry-run",
        base_url=base,
    )
    assert dry.returncode == 0 and not out.exists()
    assert (
        dry.stdout.startswith(f"{len(uids)} series") and f"{RIDER}/RIDER-1225316081/" in dry.stdout
    )
    run = tcia(
        "download",
        "--manifest",
        str(manifest),
        "--out",
        str(out),
        "--layout",
        layout,
        "--metadata",
        str(sidecar),
        "--no-progress",
        base_url=base,
    )
    assert run.returncode == 0, run.stderr
    assert f"Downloaded {len(uids)} series" in run.stdout
    assert (
        "Licences and DOIs of what was downloaded" in run.stdout
        and "cite https://doi.org/" in run.stdout
    )
    with sidecar.open(newline="") as source:
        records = list(csv.DictReader(source))
    assert [r["SeriesInstanceUID"] for r in records] == list(uids)
    for record in records:
        folder = out / record["path"]
        assert folder.is_dir() and record["path"].startswith(f"{RIDER}/RIDER-1225316081/")
        assert len([p for p in folder.iterdir() if p.suffix == ".dcm"]) == int(record["file_count"])


def test_failed_series_go_to_a_manifest_to_feed_back_in(
    server: TCIATestServer, tmp_path: Path
) -> None:
    base = server.base_url_for("nbia-v4")
    with TCIAClient(base_url=base) as v4:
        uids = [row.SeriesInstanceUID for row in v4.get_series(collection="TCGA-KIRC")]
    server.inject(Fault.corrupted(), query="getImageWithMD5Hash")
    failed = tmp_path / "failed.tcia"
    first = tcia(
        "download",
        *uids,
        "--out",
        str(tmp_path / "d"),
        "--failed-out",
        str(failed),
        "--concurrency",
        "1",
        "--no-progress",
        base_url=base,
    )
    assert first.returncode == 1 and "failed:" in first.stderr
    again = read_manifest(failed).series_instance_uids
    assert len(again) == 1 and again[0] in uids
    second = tcia(
        "download",
        "--manifest",
        str(failed),
        "--out",
        str(tmp_path / "d"),
        "--failed-out",
        str(failed),
        "--no-progress",
        base_url=base,
    )
    assert second.returncode == 0, second.stderr
    assert read_manifest(failed).series_instance_uids == ()
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == sorted(uids)


def test_a_series_row_is_enough_to_skip_without_asking(
    v4: TCIAClient, server: TCIATestServer, tmp_path: Path
) -> None:
    rows: list[Series] = v4.get_series(collection="TCGA-OV")
    v4.download_many(rows, tmp_path)
    before = len(server.requests)
    again = v4.download_many(rows, tmp_path)
    assert all(o.result is not None and o.result.skipped for o in again)
    assert _asked(server, before) == []
