"""The client's promises against a server that lies, over real sockets (issue 11).

Each test names the promise it holds: secrets stay with their origin, memory and disk stay
bounded, every failure is a ``TCIAError`` that says what to do.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import resource
import struct
import subprocess
import sys
import time
import urllib.parse
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import tcia_models._retry
from tcia_models import (
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    DownloadError,
    InvalidParameterError,
    ResponseFormatError,
    ResponseTooLargeError,
    ServerError,
    StorageError,
    TCIAClient,
    TCIAError,
)

from .hostile import Answer, HostileServer, endless, gzip_bomb, trickle

KEY = "hostile-secret-KEY-0123456789"
UID = "1.3.6.1.4.1.9328.50.4.10416"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcia_models._retry, "INITIAL_RETRY_DELAY", 0.01)


def _client(server: HostileServer, **options: object) -> TCIAClient:
    return TCIAClient(api="bindaas", api_key=KEY, base_url=server.url, **options)  # type: ignore[arg-type]


def _raises(call: object) -> TCIAError:
    with pytest.raises(TCIAError) as raised:
        call()  # type: ignore[operator]
    return raised.value


def _assert_no_key(error: TCIAError) -> None:
    for shown in (str(error), repr(error), error.body, error.message):
        assert KEY not in shown
        assert urllib.parse.quote(KEY) not in shown and KEY[:12] not in shown


# 1. Secrets go only to the origin they were given for -----------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_carries_no_key(status: int) -> None:
    with HostileServer([Answer(200, body=b"[]")]) as elsewhere:
        target = elsewhere.url + "/getSeries"
        with HostileServer([Answer(status, (("Location", target),))]) as hostile:
            with _client(hostile) as tcia:
                assert tcia.get_series() == []
            assert hostile.seen[0].headers["api_key"] == KEY
        assert len(elsewhere.seen) == 1
        assert "api_key" not in elsewhere.seen[0].headers
        assert "authorization" not in elsewhere.seen[0].headers
        assert KEY not in elsewhere.seen[0].target


def test_a_redirect_within_the_origin_keeps_the_key() -> None:
    with HostileServer(
        [Answer(302, (("Location", "/services/TCIA/TCIA/query/moved"),)), Answer(200, body=b"[]")]
    ) as hostile:
        with _client(hostile) as tcia:
            assert tcia.get_series() == []
    assert [seen.headers.get("api_key") for seen in hostile.seen] == [KEY, KEY]


def test_drift_sends_no_key_to_where_a_redirect_points() -> None:
    with HostileServer([Answer(404)]) as elsewhere:
        script = [Answer(302, (("Location", elsewhere.url + "/x/metadata"),))]
        with HostileServer(script) as hostile:
            result = subprocess.run(
                [str(Path(sys.executable).with_name("tcia")), "drift", "--base-url", hostile.url],
                capture_output=True,
                text=True,
                env={**os.environ, "TCIA_API_KEY": KEY},
                timeout=120,
            )
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert elsewhere.seen and all("api_key" not in seen.headers for seen in elsewhere.seen)
        assert KEY not in result.stdout + result.stderr


@pytest.mark.parametrize("status", [302, 307, 308])
def test_the_token_post_never_follows_a_redirect(status: int) -> None:
    with HostileServer([Answer(200, body=b"{}")]) as elsewhere:
        script = [Answer(status, (("Location", elsewhere.origin + "/steal"),))]
        with HostileServer(script) as hostile:
            base = hostile.origin + "/nbia-api/services/v2"
            with TCIAClient(api="nbia-v2", base_url=base, username="u", password="pw-SECRET") as c:
                error = _raises(c.get_collection_values)
        assert isinstance(error, AuthenticationError) and "redirected the login" in str(error)
        assert elsewhere.seen == []  # neither the password nor anything else went there
        assert "pw-SECRET" not in str(error)


def _echo_body(key: str) -> bytes:
    spaced = " " * 190  # the key straddles the 200-character excerpt
    return (
        f"{spaced}{key} and {urllib.parse.quote(key)} and {urllib.parse.quote_plus(key)}".encode()
    )


@pytest.mark.parametrize("status", [400, 403, 404, 500])
def test_an_echoed_key_is_blanked_in_status_errors(status: int) -> None:
    with HostileServer([Answer(status, body=_echo_body(KEY))]) as hostile:
        with _client(hostile, max_retries=0) as tcia:
            error = _raises(tcia.get_series)
    _assert_no_key(error)
    assert "***" in error.body or error.body.strip() == ""


def test_an_echoed_key_is_blanked_in_format_errors() -> None:
    rows = json.dumps([{"SeriesInstanceUID": 5, "Note": KEY}]).encode()
    for body in (rows, b"<html>" + _echo_body(KEY), _echo_body(KEY) + b"{"):
        with HostileServer([Answer(200, body=body)]) as hostile:
            with _client(hostile) as tcia:
                error = _raises(tcia.get_series)
        assert isinstance(error, ResponseFormatError)
        _assert_no_key(error)


def test_the_key_never_travels_in_a_url_or_a_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    with HostileServer([Answer(503), Answer(200, body=b"[]")]) as hostile:
        with _client(hostile) as tcia:
            tcia.get_series()
            assert KEY not in repr(tcia)
    assert all(KEY not in seen.target for seen in hostile.seen)
    assert caplog.records and all(KEY not in record.getMessage() for record in caplog.records)


# 2. Memory and disk stay bounded --------------------------------------------------------------


def test_a_gzip_bomb_stops_at_the_cap_without_inflating_it() -> None:
    bomb = gzip_bomb(2 << 30)  # 2 GiB of zeros in about 2 MB
    assert len(bomb) < 4 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with HostileServer([Answer(200, (("Content-Encoding", "gzip"),), bomb)]) as hostile:
        with _client(hostile, max_response_size=64 << 20) as tcia:
            error = _raises(tcia.get_series)
    assert isinstance(error, ResponseTooLargeError) and "max_response_size" in str(error)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 400, f"peak memory grew by {grown_mb:.0f} MB"


def test_an_endless_body_stops_at_the_cap() -> None:
    with HostileServer([Answer(200, body=endless(), chunked=True)]) as hostile:
        with _client(hostile, max_response_size=8 << 20) as tcia:
            assert isinstance(_raises(tcia.get_series), ResponseTooLargeError)
            assert isinstance(_raises(lambda: tcia.raw("getSeries")), ResponseTooLargeError)


def test_a_body_that_trickles_meets_the_deadline() -> None:
    body = json.dumps([{"Collection": "A"}] * 50).encode()
    answer = Answer(200, body=trickle(body, step=2), chunked=True, pause=0.05)
    with HostileServer([answer]) as hostile:
        with _client(hostile, deadline=1.0, timeout=5) as tcia:
            started = time.monotonic()
            error = _raises(tcia.get_collection_values)
    assert isinstance(error, APITimeoutError) and "deadline" in str(error)
    assert time.monotonic() - started < 3


def _series_size(count: int, total: int) -> Answer:
    return Answer(
        200, body=json.dumps([{"TotalSizeInBytes": total, "ObjectCount": count}]).encode()
    )


def _zip(entries: list[tuple[str, bytes]], *, level: int = 9) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def _raw_zip(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A stored ZIP written byte by byte, for names zipfile refuses to write (empty, repeated)."""
    local, central = io.BytesIO(), io.BytesIO()
    for name, data in entries:
        crc, offset = zlib.crc32(data), local.tell()
        local.write(
            struct.pack(
                "<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, len(data), len(data), len(name), 0
            )
        )
        local.write(name + data)
        central.write(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                0,
                0,
                0,
                crc,
                len(data),
                len(data),
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
        )
        central.write(name)
    start, size = local.tell(), central.tell()
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), size, start, 0)
    return local.getvalue() + central.getvalue() + end


def _left(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir()) if dest.exists() else []


def test_an_endless_archive_stops_past_the_announced_size(tmp_path: Path) -> None:
    script = [_series_size(2, 2000), Answer(200, body=endless(b"PK" * 32768), chunked=True)]
    with HostileServer(script) as hostile:
        with _client(hostile, max_retries=0) as tcia:
            error = _raises(lambda: tcia.download_series(UID, tmp_path))
    assert isinstance(error, (ResponseTooLargeError, DownloadError))
    assert _left(tmp_path) == []


@pytest.mark.parametrize("name", ["LICENSE", "deep/LICENSE", "md5hashes.csv", "x/md5hashes.csv"])
def test_licence_and_hash_entries_count_against_the_announced_bytes(
    tmp_path: Path, name: str
) -> None:
    images = [(f"{n:08d}.dcm", b"D" * 100) for n in range(1, 3)]
    archive = _zip([*images, (name, b"\0" * (64 << 20))])  # 64 MB of zeros in ~64 kB
    with HostileServer([_series_size(2, 200), Answer(200, body=archive)]) as hostile:
        with _client(hostile, max_retries=0) as tcia:
            error = _raises(lambda: tcia.download_series(UID, tmp_path))
    assert isinstance(error, DownloadError)
    assert _left(tmp_path) == []


def test_a_zip_bomb_image_stops_at_the_announced_bytes(tmp_path: Path) -> None:
    archive = _zip([("00000001.dcm", b"\0" * (256 << 20))])
    with HostileServer([_series_size(1, 1000), Answer(200, body=archive)]) as hostile:
        with _client(hostile, max_retries=0) as tcia:
            error = _raises(lambda: tcia.download_series(UID, tmp_path))
    assert isinstance(error, DownloadError) and "grew past the 1000 bytes" in str(error)
    assert _left(tmp_path) == []


# 3. Every failure is a TCIAError that says what to do -----------------------------------------


@pytest.mark.parametrize(
    "retry_after", ["Wed, 21 Oct 2015 07:28:00", "Wed, 21 Oct 2015 07:28:00 GMT", "-3", "nan", "x"]
)
def test_any_retry_after_is_a_server_error_after_retries(retry_after: str) -> None:
    with HostileServer([Answer(503, (("Retry-After", retry_after),))]) as hostile:
        with _client(hostile, max_retries=2) as tcia:
            error = _raises(tcia.get_series)
    assert isinstance(error, ServerError) and "after 2 retries" in str(error)
    assert len(hostile.seen) == 3


def test_broken_gzip_is_a_format_error() -> None:
    broken = gzip.compress(json.dumps([{"Collection": "A"}] * 100).encode())[:-30] + b"junk"
    with HostileServer([Answer(200, (("Content-Encoding", "gzip"),), broken)]) as hostile:
        with _client(hostile) as tcia:
            error = _raises(tcia.get_collection_values)
    assert isinstance(error, ResponseFormatError) and "does not decode" in str(error)


def test_an_encoding_not_asked_for_is_refused() -> None:
    with HostileServer([Answer(200, (("Content-Encoding", "br"),), b"\x0b\x02\x80[]\x03")]) as h:
        with _client(h) as tcia:
            error = _raises(tcia.get_collection_values)
    assert isinstance(error, ResponseFormatError) and "'br'" in str(error)


def test_a_redirect_loop_stops() -> None:
    with HostileServer([Answer(302, (("Location", "/services/TCIA/TCIA/query/getSeries"),))]) as h:
        with _client(h) as tcia:
            error = _raises(tcia.get_series)
    assert isinstance(error, APIStatusError) and "redirected more than" in str(error)


@pytest.mark.parametrize("where", ["ftp://example.org/x", "http://", "javascript:alert(1)"])
def test_a_redirect_to_what_is_not_http_is_refused(where: str) -> None:
    with HostileServer([Answer(302, (("Location", where),))]) as h:
        with _client(h) as tcia:
            error = _raises(tcia.get_series)
    assert isinstance(error, APIStatusError) and "not an http(s) URL" in str(error)


def test_a_declared_length_longer_than_the_body_is_retried_then_a_connection_error() -> None:
    with HostileServer([Answer(200, body=b"[]", content_length=500)]) as h:
        with _client(h, max_retries=1) as tcia:
            error = _raises(tcia.get_series)
    assert type(error).__name__ == "APIConnectionError" and "after 1 retries" in str(error)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"base_url": "not a url"}, "base_url="),
        ({"base_url": "ftp://x/y"}, r"not an http\(s\) URL"),
        ({"base_url": "http://[::1"}, "base_url="),
        ({"api_key": "kéy"}, "cannot travel in an HTTP header"),
        ({"api_key": "key\r\nX-Evil: 1"}, "cannot travel in an HTTP header"),
        ({"timeout": -1}, "timeout must be more than 0"),
        ({"timeout": 0}, "timeout must be more than 0"),
        ({"deadline": 0}, "deadline must be more than 0"),
        ({"max_retries": -1}, "max_retries must be 0 or more"),
        ({"max_response_size": 0}, "max_response_size"),
        ({"api": "nbia-v9"}, "is not one of"),
    ],
)
def test_bad_options_are_refused_before_anything_is_sent(
    options: dict[str, object], expected: str
) -> None:
    with pytest.raises(InvalidParameterError, match=expected) as raised:
        TCIAClient(api=options.pop("api", "bindaas"), **options)  # type: ignore[arg-type]
    assert "kéy" not in str(raised.value) and "X-Evil" not in str(raised.value)


def test_an_overlong_parameter_is_an_invalid_parameter() -> None:
    with HostileServer([Answer(200, body=b"[]")]) as h:
        with _client(h) as tcia:
            error = _raises(lambda: tcia.get_series(collection="C" * 100_000))
    assert isinstance(error, (InvalidParameterError, APIStatusError))
    assert len(str(error)) < 1000


@pytest.mark.parametrize(
    "uid", ["1.2.3\n", "1." * 150 + "1", "../../etc", "", "1..2", " 1.2", "1.2/3", "1.2\x00"]
)
def test_a_uid_that_is_not_a_uid_is_refused_before_anything(tmp_path: Path, uid: str) -> None:
    with HostileServer([Answer(500)]) as h:
        with _client(h) as tcia:
            error = _raises(lambda: tcia.download_series(uid, tmp_path))
        assert h.seen == []
    assert isinstance(error, InvalidParameterError) and _left(tmp_path) == []
    assert len(str(error)) < 300


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([("x", b"1"), ("x/y", b"2")], "is also a folder"),
        ([("x/y", b"1"), ("x", b"2")], "same name"),
        ([("", b"1")], "empty name"),
        ([(".", b"1")], "empty name"),
        ([("00000001.dcm", b"1"), ("00000001.dcm", b"1")], "same name"),
        ([("a//b.dcm", b"1")], "empty part"),
        (
            [("C:\\evil.dcm", b"1")],
            "absolute path",
        ),
        ([("bad\x1b[31m.dcm", b"1")], "control characters"),
    ],
)
def test_archives_with_entries_that_cannot_be_written_fail_cleanly(
    tmp_path: Path, entries: list[tuple[str, bytes]], expected: str
) -> None:
    total = sum(len(data) for _, data in entries)
    archive = _raw_zip([(name.encode(), data) for name, data in entries])
    script = [_series_size(len(entries), total), Answer(200, body=archive)]
    with HostileServer(script) as h:
        with _client(h, max_retries=0) as tcia:
            error = _raises(lambda: tcia.download_series(UID, tmp_path))
    assert isinstance(error, DownloadError) and expected in str(error)
    assert _left(tmp_path) == []


def test_dest_that_is_a_file_is_a_storage_error(tmp_path: Path) -> None:
    dest = tmp_path / "a-file"
    dest.write_text("not a folder")
    with HostileServer([_series_size(1, 1)]) as h:
        with _client(h) as tcia:
            error = _raises(lambda: tcia.download_series(UID, dest))
            assert isinstance(error, StorageError) and "not a folder" in str(error)
            error = _raises(lambda: tcia.download_series(UID, dest / "below"))
            assert isinstance(error, StorageError) and "a part of the path is a file" in str(error)
    assert dest.read_text() == "not a folder"


def test_get_image_into_a_folder_is_an_invalid_parameter(tmp_path: Path) -> None:
    with HostileServer([Answer(200, body=b"PK")]) as h:
        with _client(h) as tcia:
            error = _raises(lambda: tcia.get_image(series_instance_uid=UID, path=tmp_path))
    assert isinstance(error, InvalidParameterError) and "is a directory" in str(error)


def test_get_image_never_writes_through_a_planted_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / ".series.zip.part").symlink_to(victim)
    with HostileServer([Answer(200, body=b"PK-archive")]) as h:
        with _client(h) as tcia:
            written = tcia.get_image(series_instance_uid=UID, path=tmp_path / "series.zip")
    assert written.read_bytes() == b"PK-archive" and victim.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".series.zip.part",
        "series.zip",
        "victim",
    ]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 kB file system (tmpfs), to fill up."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)]).returncode:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_a_storage_error_and_leaves_nothing(small_disk: Path) -> None:
    images = [(f"{n:08d}.dcm", os.urandom(100_000)) for n in range(1, 6)]
    script = [_series_size(5, 500_000), Answer(200, body=_zip(images, level=1))]
    with HostileServer(script) as h:
        with _client(h, max_retries=0) as tcia:
            error = _raises(lambda: tcia.download_series(UID, small_disk))
    assert isinstance(error, StorageError) and "the disk is full" in str(error)
    assert _left(small_disk) == []


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mount)]
    ).returncode:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_read_only_destination_is_a_storage_error(read_only: Path) -> None:
    with HostileServer([_series_size(1, 1)]) as h:
        with _client(h) as tcia:
            error = _raises(lambda: tcia.download_series(UID, read_only))
    assert isinstance(error, StorageError) and "read-only" in str(error)
