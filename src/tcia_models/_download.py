"""A series download on disk: stream to a temporary file, check, extract, move into place.

Shared by both clients (only how the bytes arrive differs). Until the last step nothing is at
the final path, and any failure removes what was written: an interrupted or failed download
leaves no partial series behind, and a complete one is skipped on the next run.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from ._exceptions import DownloadError, InvalidParameterError, TCIAError

__all__ = ["DownloadOutcome", "DownloadResult", "SeriesDownload"]

_CHUNK = 1024 * 1024
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
# Entries TCIA adds beside the images.
_NOT_IMAGES = frozenset({"LICENSE", "md5hashes.csv"})


@dataclass(frozen=True)
class DownloadResult:
    """What a download wrote."""

    series_instance_uid: str
    path: Path
    """The series folder (``dest/<uid>``), or the ZIP when ``extract=False``."""
    files: tuple[Path, ...]
    """Every file written (the DICOM images and TCIA's LICENSE), or the ZIP."""
    bytes: int
    """Bytes on disk."""
    file_count: int
    """DICOM images in the series."""
    skipped: bool = False
    """True when the series was already complete on disk and nothing was downloaded."""


@dataclass(frozen=True)
class DownloadOutcome:
    """One series of ``download_many``: its result, or why it failed."""

    series_instance_uid: str
    result: DownloadResult | None = None
    error: TCIAError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class SeriesDownload:
    """The files of one series download, from the temporary archive to the final path."""

    def __init__(
        self, series_instance_uid: str, dest: str | os.PathLike[str], *, extract: bool
    ) -> None:
        if not _UID.match(series_instance_uid):
            raise InvalidParameterError(
                f"{series_instance_uid!r} is not a DICOM UID (digits and dots); nothing was sent",
                query="getImage",
            )
        self.uid = series_instance_uid
        self.dest = Path(dest)
        self.extract = extract
        self.final = self.dest / (series_instance_uid if extract else f"{series_instance_uid}.zip")
        self._archive: Path | None = None

    def existing(self) -> DownloadResult | None:
        """The result of an earlier complete download, if there is one."""
        if self.extract and self.final.is_dir():
            files = tuple(sorted(p for p in self.final.rglob("*") if p.is_file()))
            images = [p for p in files if p.name not in _NOT_IMAGES]
            return DownloadResult(
                self.uid, self.final, files, sum(p.stat().st_size for p in files), len(images), True
            )
        if not self.extract and self.final.is_file():
            with zipfile.ZipFile(self.final) as archive:
                count = sum(1 for name in archive.namelist() if _is_image(name))
            size = self.final.stat().st_size
            return DownloadResult(self.uid, self.final, (self.final,), size, count, True)
        return None

    def temporary_archive(self) -> Path:
        """The temporary file for the ZIP, beside the destination (same file system)."""
        if self._archive is None:
            self.dest.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(
                prefix=f".{self.uid}.", suffix=".zip.part", dir=self.dest
            )
            os.close(handle)
            self._archive = Path(name)
        return self._archive

    def finish(self, *, object_count: int, total_size: int, md5: bool = False) -> DownloadResult:
        """Check the archive against getSeriesSize (and its ``md5hashes.csv`` when ``md5``),
        extract it, and move it into place.

        One pass reads every entry: zipfile checks each entry's CRC as it reaches its end, and
        the MD5 is computed on the same bytes.
        """
        assert self._archive is not None, "temporary_archive() first"
        try:
            with zipfile.ZipFile(self._archive) as archive:
                images = self._check(archive, object_count, total_size)
                hashes = self._hashes(archive, images) if md5 else None
                if self.extract:
                    return self._extract(archive, len(images), hashes)
                for info in archive.infolist():
                    with archive.open(info) as source:
                        self._copy(info.filename, source, None, hashes)
            self._archive.replace(self.final)
            self._archive = None
            size = self.final.stat().st_size
            return DownloadResult(self.uid, self.final, (self.final,), size, len(images))
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise self._error(f"the archive is damaged or incomplete ({error})") from None
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove whatever this download wrote that is not in its final place."""
        if self._archive is not None:
            self._archive.unlink(missing_ok=True)
            self._archive = None

    def _error(self, problem: str) -> DownloadError:
        return DownloadError(
            f"{self.uid}: {problem}; nothing was kept. Try again, and report the series "
            "if it persists.",
            series_instance_uid=self.uid,
        )

    def _check(
        self, archive: zipfile.ZipFile, object_count: int, total_size: int
    ) -> list[zipfile.ZipInfo]:
        for info in archive.infolist():
            problem = _unsafe(info)
            if problem:
                raise self._error(
                    f"the archive holds an unsafe entry {info.filename!r} ({problem})"
                )
        images = [info for info in archive.infolist() if _is_image(info.filename)]
        size = sum(info.file_size for info in images)
        if len(images) != object_count or size != total_size:
            raise self._error(
                f"the archive holds {len(images)} images of {size} bytes, but getSeriesSize "
                f"promised {object_count} of {total_size}"
            )
        return images

    def _hashes(self, archive: zipfile.ZipFile, images: list[zipfile.ZipInfo]) -> dict[str, str]:
        """``md5hashes.csv`` (``Filename,MD5Hash``), which must name every image."""
        try:
            text = archive.read("md5hashes.csv").decode("utf-8")
        except KeyError:
            raise self._error(
                "the archive has no md5hashes.csv to verify the images with"
            ) from None
        hashes: dict[str, str] = {}
        for line in text.splitlines()[1:]:
            name, _, digest = line.partition(",")
            if name:
                hashes[name.strip()] = digest.strip().lower()
        unlisted = [info.filename for info in images if info.filename not in hashes]
        if unlisted:
            raise self._error(f"md5hashes.csv does not list {unlisted[0]!r}")
        return hashes

    def _copy(
        self, name: str, source: IO[bytes], sink: IO[bytes] | None, hashes: dict[str, str] | None
    ) -> None:
        """Read one entry to its end (so its CRC is checked), writing and hashing on the way."""
        digest = (
            hashlib.md5(usedforsecurity=False) if hashes is not None and name in hashes else None
        )
        while chunk := source.read(_CHUNK):
            if sink is not None:
                sink.write(chunk)
            if digest is not None:
                digest.update(chunk)
        if digest is not None and hashes is not None and digest.hexdigest() != hashes[name]:
            raise self._error(f"MD5 mismatch for {name!r}: the image is not what the server hashed")

    def _extract(
        self, archive: zipfile.ZipFile, image_count: int, hashes: dict[str, str] | None
    ) -> DownloadResult:
        staging = Path(tempfile.mkdtemp(prefix=f".{self.uid}.", suffix=".partial", dir=self.dest))
        try:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                target = staging.joinpath(*PurePosixPath(info.filename).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, target.open("wb") as sink:
                    self._copy(info.filename, source, sink, hashes)
            staging.rename(self.final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        files = tuple(sorted(p for p in self.final.rglob("*") if p.is_file()))
        return DownloadResult(
            self.uid, self.final, files, sum(p.stat().st_size for p in files), image_count
        )


def _is_image(name: str) -> bool:
    return not name.endswith("/") and PurePosixPath(name).name not in _NOT_IMAGES


def _unsafe(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "it climbs out of the folder"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a link"
    return None
