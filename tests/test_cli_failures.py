"""Every failure of ``tcia`` is one line and exit 1 or 2, never a traceback, and nothing a server
sends can drive the terminal (issue 11)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcia_models.testing import TCIATestServer

from .hostile import Answer, HostileServer

TCIA = str(Path(sys.executable).with_name("tcia"))


def tcia(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TCIA_")}
    return subprocess.run(
        [TCIA, *args],
        capture_output=True,
        text=True,
        env={**clean, "COLUMNS": "200", **env},
        timeout=120,
    )


def one_line(result: subprocess.CompletedProcess[str], codes: tuple[int, ...] = (1, 2)) -> str:
    assert result.returncode in codes, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert len(lines[0]) < 2100
    return lines[0]


@pytest.fixture(scope="module")
def server() -> Iterator[TCIATestServer]:
    with TCIATestServer() as running:
        yield running


def test_a_busy_port_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line(tcia("serve", "--port", str(port)))
    assert f"127.0.0.1:{port}" in line and "choose another --port" in line


@pytest.mark.parametrize("port", ["99999", "-1", "eighty"])
def test_a_port_that_is_no_port_is_a_usage_error(port: str) -> None:
    one_line(tcia("serve", "--port", port), codes=(2,))


def test_an_unknown_host_is_one_line() -> None:
    line = one_line(tcia("serve", "--host", "no-such-host.invalid", "--port", "0"))
    assert "no-such-host.invalid" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--api-key", "kéy", "--api", "bindaas"], "cannot travel in an HTTP header"),
        (["--base-url", "not a url"], "base_url="),
        (["--base-url", "ftp://host/path"], "http(s)"),
        (["--base-url", "http://[::1"], "base_url="),
    ],
)
def test_bad_connection_options_are_one_line(args: list[str], expected: str) -> None:
    line = one_line(tcia("query", "getCollectionValues", *args))
    assert expected in line and "kéy" not in line


def test_a_hundred_thousand_character_option_is_one_line(server: TCIATestServer) -> None:
    result = tcia(
        "query",
        "getSeries",
        "--collection",
        "C" * 100_000,
        "--base-url",
        server.base_url_for("nbia-v4"),
    )
    one_line(result)


def test_a_from_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "uids.txt"
    bad.write_bytes(b"1.2.3\n\xff\xfe\x00garbage\n")
    line = one_line(tcia("download", "--from-file", str(bad), "--out", str(tmp_path / "d")))
    assert "not UTF-8" in line


def test_demo_into_a_place_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    line = one_line(tcia("demo", "--out", str(blocker / "demo")))
    assert (
        "cannot write" in line or "not a folder" in line or "a part of the path is a file" in line
    )
    assert blocker.read_text() == "in the way"


def test_server_data_cannot_style_or_drive_the_terminal() -> None:
    rows = [{"Collection": "[/] [bold red]x[/bold red] \x1b[2J\x1b]0;pwned\x07 \u202eevil"}]
    with HostileServer([Answer(200, body=json.dumps(rows).encode())]) as hostile:
        result = tcia("query", "getCollectionValues", "--api", "bindaas", "--base-url", hostile.url)
    assert result.returncode == 0, result.stderr
    assert (
        "\x1b" not in result.stdout
        and "\x07" not in result.stdout
        and "\u202e" not in result.stdout
    )
    assert "[/] [bold red]x[/bold red]" in result.stdout  # shown as text, not applied
    assert "\\x1b[2J" in result.stdout and "\\u202e" in result.stdout


def test_an_error_message_from_a_server_cannot_drive_the_terminal() -> None:
    with HostileServer([Answer(500, body=b"\x1b[2J\x1b]0;pwned\x07 broken")]) as hostile:
        result = tcia("query", "getCollectionValues", "--api", "bindaas", "--base-url", hostile.url)
    line = one_line(result)
    assert "\x1b" not in line and "\x07" not in line
