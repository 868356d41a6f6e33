"""The series sink and target (``_download``) and the parsers (``parsing``) as units: fast and
table-driven, for ``make mutation`` as much as for ``make test``."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tcia_models import (
    DownloadError,
    InvalidParameterError,
    ResponseFormatError,
    ResponseTooLargeError,
    Series,
    SeriesSize,
    StorageError,
    TCIAError,
    parse,
)
from tcia_models._download import (
    DownloadResult,
    Expected,
    SeriesSink,
    SeriesTarget,
    check_uid,
    describe_failure,
    remove_path,
)
from tcia_models.parsing import READERS, parse_rows

UID = "1.2.3.4"


def zipped(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # duplicate names are what some tests want
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def md5_list(entries: dict[str, bytes]) -> bytes:
    rows = ["Filename,MD5"] + [
        f"{n},{hashlib.md5(d).hexdigest().upper()}" for n, d in entries.items()
    ]
    return "\n".join(rows).encode()


IMAGES = {"00000001.dcm": b"a" * 100, "00000002.dcm": b"b" * 50}
EXPECTED = Expected(2, 150)


def consume(
    tmp_path: Path,
    body: bytes,
    *,
    expected: Expected = EXPECTED,
    extract: bool = True,
    batch: int = 64,
    **options: Any,
) -> DownloadResult:
    target = SeriesTarget(UID, tmp_path, extract=extract)
    target.acquire()
    try:
        sink = SeriesSink(target, expected, **options)
        pieces = [body[i : i + batch] for i in range(0, len(body), batch)]
        return sink.consume([pieces[i : i + 4] for i in range(0, len(pieces), 4)])
    finally:
        target.release()


def left(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


def test_a_series_is_extracted_checked_and_moved_into_place(tmp_path: Path) -> None:
    body = zipped([("LICENSE", b"CC"), *IMAGES.items(), ("md5hashes.csv", md5_list(IMAGES))])
    result = consume(tmp_path, body, md5=True)
    assert result.md5_verified and result.file_count == 2 and not result.skipped
    assert result.path == tmp_path / UID and result.bytes == 152
    assert [p.name for p in result.files] == ["00000001.dcm", "00000002.dcm", "LICENSE"]
    assert left(tmp_path) == [UID]
    assert left(tmp_path / UID) == ["00000001.dcm", "00000002.dcm", "LICENSE"]
    again = SeriesTarget(UID, tmp_path, extract=True).complete(EXPECTED)
    assert again is not None and again.skipped and again.files == result.files
    assert again.bytes == 152 and again.file_count == 2
    assert SeriesTarget(UID, tmp_path, extract=True).complete(Expected(2, 151)) is None
    assert SeriesTarget(UID, tmp_path, extract=True).complete(Expected(3, 150)) is None
    assert SeriesTarget(UID, tmp_path, extract=True).complete(Expected(2, 151, 1)) is not None


def test_the_md5_list_is_kept_when_asked(tmp_path: Path) -> None:
    listed = md5_list(IMAGES)
    body = zipped([*IMAGES.items(), ("md5hashes.csv", listed)])
    result = consume(tmp_path, body, md5=True, keep_md5_list=True)
    assert (tmp_path / UID / "md5hashes.csv").read_bytes() == listed
    assert result.file_count == 2 and result.md5_verified


def test_images_in_folders(tmp_path: Path) -> None:
    body = zipped([("a/", b""), ("a/b/00000001.dcm", b"x" * 100), ("a/00000002.dcm", b"y" * 50)])
    result = consume(tmp_path, body, md5=False)
    assert [p.relative_to(tmp_path / UID).as_posix() for p in result.files] == [
        "a/00000002.dcm",
        "a/b/00000001.dcm",
    ]


def test_a_listed_md5_is_checked_when_the_archive_has_one(tmp_path: Path) -> None:
    body = zipped([*IMAGES.items(), ("md5hashes.csv", md5_list(IMAGES))])
    assert consume(tmp_path, body, md5=False, verify_listed=True).md5_verified
    remove_path(tmp_path / UID)
    assert not consume(tmp_path, body, md5=False).md5_verified  # not hashed: not verified
    remove_path(tmp_path / UID)
    plain = zipped(list(IMAGES.items()))
    assert not consume(tmp_path, plain, md5=False, verify_listed=True).md5_verified


def test_the_zip_itself_is_kept_with_extract_false(tmp_path: Path) -> None:
    body = zipped([("LICENSE", b"CC"), *IMAGES.items()])
    result = consume(tmp_path, body, md5=False, extract=False)
    assert result.path == tmp_path / f"{UID}.zip" and result.files == (result.path,)
    assert result.path.read_bytes() == body and result.bytes == len(body)
    assert result.file_count == 2 and left(tmp_path) == [f"{UID}.zip"]
    target = SeriesTarget(UID, tmp_path, extract=False)
    done = target.complete(EXPECTED)
    assert done is not None and done.skipped and done.bytes == len(body) and done.file_count == 2
    assert target.complete(Expected(2, 149)) is None and target.complete(Expected(1, 150)) is None
    result.path.write_bytes(b"not a zip")
    assert target.complete(EXPECTED) is None


BAD_ARCHIVES = [
    (
        [("00000001.dcm", b"a" * 100)],
        {},
        "the archive holds 1 images of 100 bytes, but getSeriesSize promised 2 of 150",
    ),
    (
        list(IMAGES.items()),
        {"md5": True},
        "the archive has no md5hashes.csv to verify the images with",
    ),
    (
        [*IMAGES.items(), ("md5hashes.csv", md5_list({"00000001.dcm": IMAGES["00000001.dcm"]}))],
        {"md5": True},
        "md5hashes.csv does not list '00000002.dcm'",
    ),
    (
        [*IMAGES.items(), ("md5hashes.csv", md5_list({**IMAGES, "00000002.dcm": b"c" * 50}))],
        {"md5": True},
        "MD5 mismatch for '00000002.dcm': the image is not what the server hashed",
    ),
    (
        [("../x.dcm", b"a")],
        {},
        "the archive holds an unsafe entry '../x.dcm' (it climbs out of the folder)",
    ),
    ([("/x.dcm", b"a")], {}, "the archive holds an unsafe entry '/x.dcm' (absolute path)"),
    ([("C:x.dcm", b"a")], {}, "the archive holds an unsafe entry 'C:x.dcm' (absolute path)"),
    ([("a\\x.dcm", b"a")], {}, "the archive holds an unsafe entry 'a\\\\x.dcm' (absolute path)"),
    (
        [("a//x.dcm", b"a")],
        {},
        "the archive holds an unsafe entry 'a//x.dcm' (an empty part in its path)",
    ),
    (
        [("./x.dcm", b"a")],
        {},
        "the archive holds an unsafe entry './x.dcm' (an empty part in its path)",
    ),
    ([(".", b"a")], {}, "the archive holds an unsafe entry '.' (an empty name)"),
    (
        [("x\x07.dcm", b"a")],
        {},
        "the archive holds an unsafe entry 'x\\x07.dcm' (control characters in its name)",
    ),
    (
        [("x.dcm", b"a"), ("x.dcm", b"b")],
        {},
        "the archive holds an unsafe entry 'x.dcm' (a second entry of the same name)",
    ),
    (
        [("x/", b""), ("x", b"b")],
        {},
        "the archive holds an unsafe entry 'x' (a second entry of the same name)",
    ),
    (
        [("x", b"a"), ("x/y.dcm", b"b")],
        {},
        "the archive holds an unsafe entry 'x/y.dcm' (a file of that name is also a folder)",
    ),
    (
        [("LICENSE", b"L" * ((1 << 20) + 1))],
        {},
        "the archive's its LICENSE grew past the 1048576 bytes getSeriesSize announced; stopped there",
    ),
    ([("md5hashes.csv", b"m" * 4609)], {}, "its md5hashes.csv is larger than 4608 bytes"),
    (
        [(f"{n}.txt", b"") for n in range(19)],
        {},
        "the archive holds more entries than the series has images",
    ),
    (
        [("00000001.dcm", b"a" * 151)],
        {},
        "the archive's images grew past the 150 bytes getSeriesSize announced; stopped there",
    ),
]


@pytest.mark.parametrize(("entries", "options", "problem"), BAD_ARCHIVES)
def test_a_bad_archive_is_refused_and_leaves_nothing(
    tmp_path: Path, entries: list[tuple[str, bytes]], options: dict[str, Any], problem: str
) -> None:
    options.setdefault("md5", False)
    with pytest.raises(DownloadError) as raised:
        consume(tmp_path, zipped(entries), **options)
    assert str(raised.value) == (
        f"{UID}: {problem}; nothing was kept. Try again, and report the series if it persists."
    )
    assert raised.value.series_instance_uid == UID and raised.value.query == "getImage"
    assert left(tmp_path) == []


@pytest.mark.parametrize("cut", [10, 200])
def test_a_cut_archive_is_damaged(tmp_path: Path, cut: int) -> None:
    with pytest.raises(DownloadError, match=r"the archive is damaged or incomplete \("):
        consume(tmp_path, zipped(list(IMAGES.items()))[:cut], md5=False)
    assert left(tmp_path) == []


def test_an_archive_past_its_raw_bound_is_cut_off(tmp_path: Path) -> None:
    expected = Expected(1, 10)
    bound = expected.raw_bound()
    assert bound == 10 + 0 + 2048 + (2 << 20) and expected.md5_list_bound() == 4352
    with pytest.raises(ResponseTooLargeError) as raised:
        consume(tmp_path, b"\0" * (bound + 1), expected=expected, md5=False, batch=bound + 1)
    assert str(raised.value).startswith(f"{UID}: the archive grew past {bound} bytes, more than 1 ")
    assert left(tmp_path) == []


def test_a_cancelled_download_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="the download was cancelled"):
        consume(tmp_path, zipped(list(IMAGES.items())), md5=False, cancelled=lambda: True)
    assert left(tmp_path) == []


class Progress:
    def __init__(self) -> None:
        self.advanced = 0.0
        self.restarts = 0

    def advance(self, amount: float) -> None:
        self.advanced += amount

    def restart(self) -> None:
        self.restarts += 1


def test_progress_counts_the_archives_bytes(tmp_path: Path) -> None:
    body = zipped(list(IMAGES.items()))
    progress = Progress()
    consume(tmp_path, body, md5=False, progress=progress)
    assert (progress.advanced, progress.restarts) == (len(body), 1)


def test_a_new_download_replaces_an_incomplete_copy_and_sweeps_leftovers(tmp_path: Path) -> None:
    (tmp_path / UID).mkdir()
    (tmp_path / UID / "stale.dcm").write_bytes(b"old")
    for leftover in (f".{UID}.tcia-partial", f".{UID}.tcia-old", f".{UID}.x1.zip.part"):
        (tmp_path / leftover).mkdir()
    (tmp_path / f".{UID}.y2.partial").write_bytes(b"")
    (tmp_path / ".9.9.tcia-partial").write_bytes(b"another series'")
    consume(tmp_path, zipped(list(IMAGES.items())), md5=False)
    assert left(tmp_path) == [".9.9.tcia-partial", UID]
    assert left(tmp_path / UID) == ["00000001.dcm", "00000002.dcm"]


def test_a_destination_that_is_a_file_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    target = SeriesTarget(UID, tmp_path / "file", extract=True)
    with pytest.raises(StorageError) as raised:
        target.acquire()
    assert raised.value.path == str(tmp_path / "file") and "it is a file, not a folder" in str(
        raised.value
    )


def test_the_lock_file_goes_with_the_lock(tmp_path: Path) -> None:
    target = SeriesTarget(UID, tmp_path, extract=True)
    target.acquire()
    assert left(tmp_path) == [f".{UID}.tcia-lock"]
    target.release()
    target.release()
    assert left(tmp_path) == []


@pytest.mark.parametrize("uid", ["1.2.3", "1", "1." + "2" * 62, "12.345.6789"])
def test_uids_that_are_uids(uid: str) -> None:
    assert check_uid(uid) == uid


@pytest.mark.parametrize(
    "uid", ["", "1.2.", ".1", "1..2", "a.b", "../1", "1." + "2" * 63, 123, None, "1.2\n"]
)
def test_uids_that_are_not(uid: Any) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        check_uid(uid)
    assert str(raised.value) == (
        f"{uid!r} is not a DICOM UID (digits and dots, at most 64 characters); nothing was sent"
    )
    assert raised.value.query == "getImage"


def test_a_long_non_uid_is_shown_shortened() -> None:
    with pytest.raises(InvalidParameterError) as raised:
        check_uid("x" * 100)
    assert str(raised.value).startswith("'" + "x" * 76 + "... is not a DICOM UID")


def test_the_target_paths(tmp_path: Path) -> None:
    target = SeriesTarget(UID, tmp_path, extract=True)
    assert (target.final, target.staging) == (tmp_path / UID, tmp_path / f".{UID}.tcia-partial")
    archive = SeriesTarget(UID, tmp_path, extract=False)
    assert archive.final == tmp_path / f"{UID}.zip"
    placed = SeriesTarget(UID, tmp_path, extract=True, relative="A/B")
    assert placed.final == tmp_path / "A" / "B" and placed.staging.name == ".B.tcia-partial"


def test_describe_failure() -> None:
    error = TCIAError("x")
    assert describe_failure(error, UID) is error
    storage = describe_failure(OSError(28, "No space left on device"), UID)
    assert isinstance(storage, StorageError)
    other = describe_failure(RuntimeError("boom"), UID)
    assert isinstance(other, DownloadError) and str(other) == f"{UID}: RuntimeError: boom"
    assert other.series_instance_uid == UID


def test_expected_holds() -> None:
    assert Expected(2, 100).holds(2, 100) and not Expected(2, 100).holds(2, 101)
    assert not Expected(2, 100).holds(1, 100) and Expected(2, 100, 5).holds(2, 105)
    assert not Expected(2, 100, 5).holds(2, 106) and Expected(2, 100, 5).holds(2, 95)
    assert Expected(3, 5000).raw_bound() == 5000 + 100 + 4096 + (2 << 20)


def test_remove_path(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "f").write_bytes(b"")
    os.symlink(tmp_path / "d", tmp_path / "link")
    remove_path(tmp_path / "link")
    assert (tmp_path / "d" / "e").is_dir()
    for name in ("d", "f", "missing"):
        remove_path(tmp_path / name)
    assert left(tmp_path) == []


# Parsing -------------------------------------------------------------------------------------

ROW = {"ObjectCount": 3, "TotalSizeInBytes": 12}


@pytest.mark.parametrize(
    ("body", "format"),
    [
        (b'[{"ObjectCount": 3, "TotalSizeInBytes": 12}]', "json"),
        ("ObjectCount,TotalSizeInBytes,Extra\n3,12,\n", "csv"),
        (
            b"<Results><Row><ObjectCount>3</ObjectCount>"
            b"<TotalSizeInBytes>12</TotalSizeInBytes></Row></Results>",
            "xml",
        ),
    ],
)
def test_every_format_gives_the_same_rows(body: Any, format: Any) -> None:
    (row,) = parse(SeriesSize, body, format)
    assert (row.ObjectCount, row.TotalSizeInBytes) == (3, 12)
    assert not (row.model_extra or {})  # an empty CSV cell is no value


@pytest.mark.parametrize("format", ["json", "csv", "xml"])
@pytest.mark.parametrize("body", [b"", b"  \n", "", bytearray(b" ")])
def test_an_empty_body_is_no_rows(format: Any, body: Any) -> None:
    assert parse(Series, body, format) == []


@pytest.mark.parametrize(
    ("body", "format", "message"),
    [
        (
            b"<html>down</html>",
            "json",
            "getSeries: the server sent an HTML page, not JSON (a proxy or maintenance page?); it "
            "starts with '<html>down</html>'. Retry later, or report it if it persists.",
        ),
        (
            b'{"a": 1}',
            "json",
            "getSeries: the response is not a JSON list of rows (Input should be a valid array); it "
            "starts with '{\"a\": 1}'. Retry later, or report it if it persists.",
        ),
        (
            b'[{"TotalSizeInBytes": 1, "ObjectCount": "many"}]',
            "json",
            "getSeries: row 0 does not fit SeriesSize: ObjectCount: Input should be a valid integer, "
            "unable to parse string as an integer (1 problem(s)). The API may have changed: run "
            "`tcia drift`.",
        ),
        (
            b"<html>down</html>",
            "csv",
            "getSeries: the response is not valid CSV (it looks like HTML or XML); it starts with "
            "'<html>down</html>'",
        ),
        (
            b"<html>down</html>",
            "xml",
            "getSeries: the response is not valid XML (the root element is <html>, not "
            "<Results>); it starts with '<html>down</html>'",
        ),
        (b"\xff\xfe", "csv", None),
    ],
)
def test_a_body_that_is_not_its_format(body: bytes, format: Any, message: str | None) -> None:
    with pytest.raises(ResponseFormatError) as raised:
        parse(SeriesSize, body, format, query="getSeries")
    assert raised.value.query == "getSeries"
    if message is not None:
        assert str(raised.value) == message


def test_errors_without_a_query_name_the_model() -> None:
    with pytest.raises(ResponseFormatError) as raised:
        parse(SeriesSize, b'[{"ObjectCount": "x", "TotalSizeInBytes": 1}]')
    assert str(raised.value).startswith("SeriesSize: row 0 does not fit SeriesSize: ObjectCount")
    assert raised.value.query is None


def test_a_secret_is_blanked_out_of_a_parse_error() -> None:
    body = b'[{"ObjectCount": "SECRET", "TotalSizeInBytes": 1}]'
    with pytest.raises(ResponseFormatError) as raised:
        parse_rows(SeriesSize, body, "json", redact=lambda text: text.replace("SECRET", "***"))
    assert "SECRET" not in str(raised.value) and "SECRET" not in raised.value.body


def test_the_rows_under_a_key() -> None:
    body = b'{"resultSet": [{"ObjectCount": 2, "TotalSizeInBytes": 5}], "total": 1}'
    (row,) = parse_rows(SeriesSize, body, "json", rows_key="resultSet")
    assert (row.ObjectCount, row.TotalSizeInBytes) == (2, 5)
    assert parse_rows(SeriesSize, b'{"resultSet": null}', "json", rows_key="resultSet") == []
    with pytest.raises(ResponseFormatError, match="not a JSON object holding 'resultSet'"):
        parse_rows(SeriesSize, b"[]", "json", rows_key="resultSet")


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(InvalidParameterError) as raised:
        parse_rows(SeriesSize, b"[]", "yaml")
    assert (
        str(raised.value) == "format='yaml' does not parse into models; use one of json, csv, xml"
    )
    assert list(READERS) == ["json", "csv", "xml"]


def test_a_large_body_parses_with_the_collector_paused_and_restored() -> None:
    import gc

    rows = [{**ROW, "ObjectCount": n} for n in range(9000)]
    body = __import__("json").dumps(rows).encode()
    assert len(body) > 256 * 1024
    assert gc.isenabled()
    parsed = parse(SeriesSize, body)
    assert len(parsed) == 9000 and parsed[-1].ObjectCount == 8999 and gc.isenabled()


def test_an_archive_of_exactly_its_raw_bound_is_read(tmp_path: Path) -> None:
    expected = Expected(1, 10)
    bound = expected.raw_bound()
    with pytest.raises(DownloadError, match="damaged or incomplete"):  # read, not cut off
        consume(tmp_path, b"\0" * bound, expected=expected, md5=False, batch=bound)
