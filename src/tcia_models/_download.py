"""A series download on disk: stream to a temporary file, check, extract, move into place.

Shared by both clients (only how the bytes arrive differs). Until the last step nothing is at
the final path, and any failure removes what was written: an interrupted or failed download
leaves no partial series behind, and a complete one is skipped on the next run.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ._exceptions import DownloadError, InvalidParameterError, TCIAError

__all__ = ["DownloadOutcome", "DownloadResult", "SeriesDownload"]

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

    def finish(self, *, object_count: int, total_size: int) -> DownloadResult:
        """Check the archive against getSeriesSize, extract it, and move it into place."""
        assert self._archive is not None, "temporary_archive() first"
        try:
            with zipfile.ZipFile(self._archive) as archive:
                images = self._check(archive, object_count, total_size)
                if self.extract:
                    return self._extract(archive, len(images))
            self._archive.replace(self.final)
            self._archive = None
            size = self.final.stat().st_size
            return DownloadResult(self.uid, self.final, (self.final,), size, len(images))
        except zipfile.BadZipFile as error:
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
        try:
            broken = archive.testzip()
        except (zlib.error, EOFError, OSError) as error:
            raise self._error(f"the archive is damaged ({error})") from None
        if broken is not None:
            raise self._error(f"the archive is damaged (bad CRC in {broken!r})")
        images = [info for info in archive.infolist() if _is_image(info.filename)]
        size = sum(info.file_size for info in images)
        if len(images) != object_count or size != total_size:
            raise self._error(
                f"the archive holds {len(images)} images of {size} bytes, but getSeriesSize "
                f"promised {object_count} of {total_size}"
            )
        return images

    def _extract(self, archive: zipfile.ZipFile, image_count: int) -> DownloadResult:
        staging = Path(tempfile.mkdtemp(prefix=f".{self.uid}.", suffix=".partial", dir=self.dest))
        try:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                target = staging.joinpath(*PurePosixPath(info.filename).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, 1024 * 1024)
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
