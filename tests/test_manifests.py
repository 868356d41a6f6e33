"""Manifests in and out: the archive's real ``.tcia`` files, CSV/TSV tables, plain lists."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tcia_models import InvalidParameterError, Series, manifest_text, read_manifest, write_manifest

from .conftest import DATA, ROOT

MANIFESTS = DATA / "manifests"


@pytest.mark.parametrize(
    ("name", "count", "skipped"),
    [
        ("nbia-submission-test-data-225.tcia", 225, ["Series ID"]),
        ("acns0332-test-2022.tcia", 45, []),
        ("nsclc-radiomics-interobserver1-2020.tcia", 64, []),
        ("nbia-cmb-aml-test-2025.tcia", 14, []),
    ],
)
def test_real_manifests_give_their_series_and_nothing_else(
    name: str, count: int, skipped: list[str]
) -> None:
    manifest = read_manifest(MANIFESTS / name)
    assert len(manifest.series_instance_uids) == count
    assert all(uid[0].isdigit() and " " not in uid for uid in manifest.series_instance_uids)
    assert [text for _, text in manifest.skipped_lines] == skipped
    assert manifest.manifest_version == "3.0" and manifest.retries == 4
    assert manifest.download_server_url is not None
    assert manifest.download_server_url.endswith("/nbia-download/servlet/DownloadServlet")


def test_a_manifest_written_is_byte_for_byte_what_the_archive_writes() -> None:
    original = (MANIFESTS / "acns0332-test-2022.tcia").read_text()
    manifest = read_manifest(MANIFESTS / "acns0332-test-2022.tcia")
    assert manifest.include_annotation is True and manifest.databasket_id is not None
    rewritten = manifest_text(
        manifest.series_instance_uids,
        download_server_url=manifest.download_server_url or "",
        include_annotation=True,
        retries=4,
        databasket_id=manifest.databasket_id,
    )
    assert rewritten == original


def test_written_from_rows_and_read_back(tmp_path: Path) -> None:
    rows = [
        Series(
            SeriesInstanceUID=f"1.2.3.{n}",
            StudyInstanceUID="1.2",
            Modality="CT",
            Collection="C",
            PatientID="P",
        )  # type: ignore[call-arg]
        for n in range(3)
    ]
    path = write_manifest(tmp_path / "cart.tcia", [*rows, "1.2.3.0", {"SeriesInstanceUID": "9.9"}])
    text = path.read_text()
    assert text.splitlines()[:6] == [
        "downloadServerUrl=https://nbia.cancerimagingarchive.net/nbia-download/servlet/DownloadServlet",
        "includeAnnotation=false",
        "noOfrRetry=4",
        "databasketId=cart.tcia",
        "manifestVersion=3.0",
        "ListOfSeriesToDownload=",
    ]
    assert read_manifest(path).series_instance_uids == ("1.2.3.0", "1.2.3.1", "1.2.3.2", "9.9")
    assert "\r" not in text and text.endswith("9.9\n")


def test_tcia_utils_reads_what_we_write(tmp_path: Path) -> None:
    """tcia_utils skips exactly six header lines: ours has exactly six."""
    path = write_manifest(tmp_path / "ours.tcia", ["1.2.3", "4.5.6"])
    script = (
        "import sys; from tcia_utils import nbia; print(','.join(nbia.manifestToList(sys.argv[1])))"
    )
    result = subprocess.run(
        [str(ROOT / ".venv-bench" / "bin" / "python"), "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "1.2.3,4.5.6"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('"SeriesInstanceUID","Modality"\n"1.2.3","CT"\n"4.5.6","MR"\n', "csv"),
        ("Collection,Series UID\nX,1.2.3\nY,4.5.6\n", "csv"),
        ("Series Instance UID\tModality\n1.2.3\tCT\n4.5.6\tMR\n", "tsv"),
        ("series_instance_uid\n1.2.3\n\n4.5.6\n1.2.3\n", "csv"),
        ("# my series\n1.2.3\n4.5.6\n\n", "list"),
        ("\ufeff1.2.3\r\n4.5.6\r\n", "list"),
    ],
)
def test_tables_and_lists(tmp_path: Path, text: str, kind: str) -> None:
    path = tmp_path / "input"
    path.write_text(text, newline="")
    manifest = read_manifest(path)
    assert manifest.series_instance_uids == ("1.2.3", "4.5.6") and manifest.format == kind


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "downloadServerUrl=x\nincludeAnnotation=true\nnoOfrRetry=4\ntempLoc=/tmp/\n"
            "databasketId=old\nmanifestVersion=2.0\n",
            "before version 3.0",
        ),
        ("Modality,Collection\nCT,X\n", "no SeriesInstanceUID column"),
    ],
)
def test_what_names_no_series_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad"
    path.write_text(text)
    with pytest.raises(InvalidParameterError, match=expected):
        read_manifest(path)


def test_a_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "binary.tcia"
    path.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(InvalidParameterError, match="not UTF-8"):
        read_manifest(path)
