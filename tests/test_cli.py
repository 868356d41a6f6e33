"""``tcia`` through its entry point, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tcia_models._metadata import packaged_metadata
from tcia_models.testing import Fault, TCIATestServer

from .conftest import free_port

KEY = "cli-secret-key-42"
TCIA = str(Path(sys.executable).with_name("tcia"))
RIDER_CT = "1.3.6.1.4.1.9328.50.1.7.109790496340142304700741635171089234345"
RIDER_PT = "1.3.6.1.4.1.9328.50.1.7.209366194844802036292714836428653144268"


@pytest.fixture(scope="module")
def server() -> Iterator[TCIATestServer]:
    with TCIATestServer(api_keys={KEY}) as running:
        yield running


def tcia(
    *args: str, server: TCIATestServer | None = None, key: str | None = KEY
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCIA_")}
    env["COLUMNS"] = "200"
    if server is not None:
        env["TCIA_BASE_URL"] = server.base_url
        env["TCIA_API"] = "bindaas"
    if key is not None:
        env["TCIA_API_KEY"] = key
    return subprocess.run([TCIA, *args], capture_output=True, text=True, env=env, timeout=120)


def _one_clean_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_help_lists_the_commands() -> None:
    result = tcia("--help")
    assert result.returncode == 0
    # The subcommands as argparse lists them ("    name  help", under the positional
    # arguments), not mere words: the description names most of them too.
    section = result.stdout.split("positional arguments:", 1)[1].split("options:", 1)[0]
    listed = re.findall(r"^ {4}([a-z]+) {2,}\S", section, flags=re.MULTILINE)
    assert listed == ["query", "download", "plan", "drift", "serve", "demo"]


def test_one_query_subcommand_per_query_with_options_from_the_metadata() -> None:
    listing = tcia("query", "--help").stdout
    for name, document in packaged_metadata().documents.items():
        assert (name in listing) == bool(document["attributes"]), name
    assert (
        "--api {bindaas,nbia-v1,nbia-v2,nbia-advanced,nbia-v4}"
        in tcia("query", "getSeries", "--help").stdout
    )
    series_help = tcia("query", "getSeries", "--help").stdout
    assert "--patient-id" in series_help and "--study-instance-uid" in series_help
    assert "Patient identifier, as getPatient returns it." in series_help


def test_query_as_json_csv_and_table(server: TCIATestServer) -> None:
    as_json = tcia(
        "query", "getSeries", "--collection", "TCGA-KIRC", "--format", "json", server=server
    )
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)
    assert len(rows) == 3 and rows[0]["SeriesDate"] == "1995-02-26" and rows[0]["ImageCount"] == 1
    as_csv = tcia(
        "query", "getSeries", "--collection", "TCGA-KIRC", "--format", "csv", server=server
    ).stdout
    header, *lines = as_csv.splitlines()
    assert header.startswith("SeriesInstanceUID,StudyInstanceUID,Modality") and len(lines) == 3
    table = tcia("query", "getCollectionValues", server=server).stdout
    assert "RIDER PHANTOM PET-CT" in table and "15 rows" in table
    size = tcia(
        "query",
        "get-series-size",
        "--series-instance-uid",
        RIDER_CT,
        "--format",
        "json",
        server=server,
    )
    assert json.loads(size.stdout)[0]["ObjectCount"] == 5


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("query", "getEverything"), "invalid choice: 'getEverything'"),
        (("query", "getSeries", "--colection", "X"), "unrecognized arguments: --colection X"),
        (("query", "getSeriesSize"), "the following arguments are required: --series-instance-uid"),
        (("query", "getSeries", "--format", "yaml"), "invalid choice: 'yaml'"),
        (("download", "--out", "x"), "give series UIDs or --manifest FILE"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_is_one_clear_line(
    server: TCIATestServer, args: tuple[str, ...], expected: str
) -> None:
    line = _one_clean_line(tcia(*args, server=server))
    assert expected in line


def test_unreachable_server_and_bad_key_are_one_clear_line(server: TCIATestServer) -> None:
    unreachable = tcia(
        "query", "getSeries", "--api", "bindaas", "--base-url", "http://127.0.0.1:9/x"
    )
    assert "could not talk to http://127.0.0.1:9/x/" in _one_clean_line(unreachable)
    refused = tcia("query", "getSeries", "--api-key", "not-the-key", server=server)
    line = _one_clean_line(refused)
    assert "HTTP 401" in line and "not-the-key" not in line + refused.stdout


def test_download_with_summary(server: TCIATestServer, tmp_path: Path) -> None:
    listing = tmp_path / "uids.txt"
    listing.write_text(f"# RIDER\n{RIDER_PT}\n")
    result = tcia(
        "download",
        RIDER_CT,
        "--from-file",
        str(listing),
        "--out",
        str(tmp_path / "data"),
        server=server,
    )
    assert result.returncode == 0, result.stderr
    assert "Downloaded 2 series (8 images," in result.stdout and "0 failed" in result.stdout
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted([RIDER_CT, RIDER_PT])
    again = tcia("download", RIDER_CT, "--out", str(tmp_path / "data"), server=server)
    assert "Downloaded 0 series" in again.stdout and "1 already complete" in again.stdout


def test_download_failures_exit_non_zero_naming_them(
    server: TCIATestServer, tmp_path: Path
) -> None:
    server.inject(Fault.zip_entry("../evil"), query="getImage")
    result = tcia(
        "download",
        RIDER_CT,
        "1.2.3",
        "--out",
        str(tmp_path),
        "--no-progress",
        "--concurrency",
        "1",
        server=server,
    )
    assert result.returncode == 1
    assert "2 failed" in result.stdout
    assert (
        f"failed: {RIDER_CT}: {RIDER_CT}: the archive holds an unsafe entry '../evil'"
        in result.stderr
    )
    assert "failed: 1.2.3: getSeriesSize: no result" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_drift_agrees_with_an_unchanged_server(server: TCIATestServer) -> None:
    result = tcia("drift", server=server)
    assert result.returncode == 0, result.stderr
    assert "No drift" in result.stdout
    as_json = json.loads(tcia("drift", "--format", "json", server=server).stdout)
    assert as_json == {"base_url": server.base_url, "drift": False, "queries": []}


def _drifted_metadata(directory: Path) -> Path:
    documents = {
        name: json.loads(json.dumps(doc)) for name, doc in packaged_metadata().documents.items()
    }
    series = documents["getSeries"]
    series["attributes"] = [a for a in series["attributes"] if a["name"] != "SoftwareVersions"]
    series["attributes"].append(
        {"name": "SliceThickness", "dicomTag": "0018 0050", "description": "", "type": "number"}
    )
    for attribute in series["attributes"]:
        if attribute["name"] == "SeriesNumber":
            attribute["type"] = "string"
        if attribute["name"] == "ProtocolName":
            attribute["dicomTag"] = "0018 1031"
    series["queryParameters"].append(
        {"name": "PatientName", "required": False, "description": "", "type": "string"}
    )
    documents["getSeriesSize"]["returnTypes"] = ["JSON"]
    del documents["ContentsByName"]
    for name, document in documents.items():
        (directory / f"{name}.json").write_text(json.dumps(document))
    return directory


def test_drift_reports_every_change(tmp_path: Path) -> None:
    with TCIATestServer(metadata_dir=_drifted_metadata(tmp_path)) as drifting:
        result = tcia("drift", server=drifting, key=None)
        as_json = json.loads(tcia("drift", "--format", "json", server=drifting, key=None).stdout)
    assert result.returncode == 1
    report = result.stdout
    assert "ContentsByName: query removed" in report
    assert "getSeries:" in report
    assert "attribute SoftwareVersions removed" in report
    assert "attribute SliceThickness added: tag '0018 0050'; type 'number'" in report
    assert "attribute SeriesNumber changed: type 'integer' -> 'string'" in report
    assert "attribute ProtocolName changed: tag '0018 1030' -> '0018 1031'" in report
    assert "parameter PatientName added" in report
    for removed in ("CSV", "HTML", "XML"):
        assert f"return type {removed} removed" in report
    assert as_json["drift"] is True
    assert {q["query"] for q in as_json["queries"]} == {
        "ContentsByName",
        "getSeries",
        "getSeriesSize",
    }


def test_drift_that_cannot_run_exits_2(tmp_path: Path) -> None:
    unreachable = tcia("drift", "--base-url", "http://127.0.0.1:9/services/TCIA/TCIA/query")
    assert unreachable.returncode == 2 and "could not talk to" in _one_clean_line(unreachable)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name, document in packaged_metadata().documents.items():
        document = json.loads(json.dumps(document))
        if name == "getPatient":
            document["attributes"][0]["dicomTag"] = "10,20"
        (broken / f"{name}.json").write_text(json.dumps(document))
    with TCIATestServer(metadata_dir=broken) as bad:
        result = tcia("drift", server=bad, key=None)
    assert result.returncode == 2
    assert 'getPatient: $.attributes[0].dicomTag: "10,20"' in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_and_demo(tmp_path: Path) -> None:
    port = free_port()
    with subprocess.Popen(
        [TCIA, "serve", "--port", str(port), "--api-key", "k"], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            assert f"http://127.0.0.1:{port}/services/TCIA/TCIA/query" in process.stdout.readline()
            url = f"http://127.0.0.1:{port}/services/TCIA/TCIA/query/getCollectionValues"
            assert httpx.get(url).status_code == 401
            assert len(httpx.get(url, headers={"api_key": "k"}).json()) == 15
        finally:
            process.terminate()
    demo = subprocess.run(
        [TCIA, "demo", "--out", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert demo.returncode == 0, demo.stderr
    assert "No drift" in demo.stdout and len(list(tmp_path.iterdir())) == 2
