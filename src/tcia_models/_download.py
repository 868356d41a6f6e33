"""A series download on disk: checked and extracted while the bytes arrive, moved into place last.

``SeriesTarget`` is where a series lands and what is on disk for it: a lock, so two processes
never write one series at once; a hidden staging path, swept clean if a killed run left it; and
the test of completeness, against the metadata rather than by mere existence.

``SeriesSink`` takes a series' ZIP as it streams in. One worker thread unzips it as it comes
(stream-unzip: every CRC and size checked), writes each image into the staging folder, hashes it
with MD5 and counts every byte against what getSeriesSize announced, stopping the moment
anything is wrong. Only a complete, verified series is renamed into place; any failure,
cancellation or Ctrl-C removes the staging path.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import stream_unzip

from ._constants import MAX_UID_LENGTH
from ._exceptions import (
    DownloadError,
    InvalidParameterError,
    ResponseTooLargeError,
    StorageError,
    TCIAError,
)
from ._files import storage_error

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows: no advisory locks between processes)
    fcntl = None  # type: ignore[assignment]

__all__ = ["DownloadOutcome", "DownloadResult", "Expected", "SeriesSink", "SeriesTarget"]

_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
LICENSE = "LICENSE"
MD5_LIST = "md5hashes.csv"
_NOT_IMAGES = frozenset({LICENSE, MD5_LIST})
_MAX_LICENSE = 1 << 20
_PARTIAL = ".tcia-partial"
_LOCK = ".tcia-lock"
_RETIRED = ".tcia-old"


@dataclass(frozen=True)
class Expected:
    """What the archive must hold: the metadata's image count and image bytes."""

    image_count: int
    image_bytes: int
    byte_tolerance: int = 0
    """How far the bytes may be off: the archive's sizes are exact, IDC's are rounded."""

    def holds(self, image_count: int, image_bytes: int) -> bool:
        """Whether images on disk are what this promises."""
        return image_count == self.image_count and (
            abs(image_bytes - self.image_bytes) <= self.byte_tolerance
        )

    def raw_bound(self) -> int:
        """Bytes the ZIP itself may take: the images, ZIP headers for each, the LICENSE and the
        MD5 list. DICOM compresses, so a real series stays well under this."""
        return self.image_bytes + self.image_bytes // 50 + 1024 * (self.image_count + 1) + (2 << 20)

    def md5_list_bound(self) -> int:
        return 4096 + 256 * self.image_count


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
    md5_verified: bool = False
    """True when every image was checked against the archive's MD5 hashes."""


@dataclass(frozen=True)
class DownloadOutcome:
    """One series of ``download_many``: its result, or why it failed."""

    series_instance_uid: str
    result: DownloadResult | None = None
    error: TCIAError | None = None
    path: Path | None = None
    """Where the series lands (or would have landed)."""
    metadata: Mapping[str, Any] = field(default_factory=dict[str, Any])
    """What is known of the series: its getSeries row, when the download had one."""
    source: str = "nbia"
    """Where it came from: ``nbia`` (the archive's API) or ``idc`` (IDC's buckets)."""

    @property
    def ok(self) -> bool:
        return self.error is None


def check_uid(series_instance_uid: object) -> str:
    """A DICOM UID, or ``InvalidParameterError`` (before anything is sent or written)."""
    if (
        not isinstance(series_instance_uid, str)
        or len(series_instance_uid) > MAX_UID_LENGTH
        or not _UID.fullmatch(series_instance_uid)
    ):
        shown = repr(series_instance_uid)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise InvalidParameterError(
            f"{shown} is not a DICOM UID (digits and dots, at most {MAX_UID_LENGTH} "
            "characters); nothing was sent",
            query="getImage",
        )
    return series_instance_uid


def _is_image(name: str) -> bool:
    return not name.endswith("/") and PurePosixPath(name).name not in _NOT_IMAGES


class SeriesTarget:
    """Where one series lands (``dest/<relative>``), and its state on disk."""

    def __init__(
        self,
        series_instance_uid: str,
        dest: str | os.PathLike[str],
        *,
        extract: bool,
        relative: str | None = None,
    ) -> None:
        self.uid = check_uid(series_instance_uid)
        self.dest = Path(dest)
        self.extract = extract
        name = relative or (self.uid if extract else f"{self.uid}.zip")
        self.final = self.dest / name
        self.staging = self.final.with_name(f".{self.final.name}{_PARTIAL}")
        self._lock_path = self.final.with_name(f".{self.final.name}{_LOCK}")
        self._lock_fd: int | None = None

    def _storage_error(self, error: OSError) -> StorageError:
        return storage_error(error, self.dest, query="getImage")

    # The lock ---------------------------------------------------------------------------------

    def acquire(self) -> None:
        """Hold the series' lock (waiting while another process or thread holds it), then sweep
        away what a killed run left."""
        try:
            if self.dest.exists() and not self.dest.is_dir():
                raise StorageError(
                    f"cannot download into {self.dest}: it is a file, not a folder; choose "
                    "another destination",
                    path=str(self.dest),
                    query="getImage",
                )
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = self._acquire()
            self._sweep()
        except OSError as error:
            self.release()
            raise self._storage_error(error) from None

    def release(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._lock_path)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _acquire(self) -> int | None:
        if fcntl is None:  # pragma: no cover
            return None
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        while True:
            fd = os.open(self._lock_path, flags, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            held = os.fstat(fd)
            try:
                current = os.stat(self._lock_path, follow_symlinks=False)
            except FileNotFoundError:
                current = None
            if current is not None and (current.st_dev, current.st_ino) == (
                held.st_dev,
                held.st_ino,
            ):
                return fd
            os.close(fd)  # its holder removed it as we waited: lock the new one

    def _sweep(self) -> None:
        """Remove what an interrupted run of this series left: safe, as we hold its lock."""
        parent = self.final.parent
        leftovers = [self.staging, self.final.with_name(f".{self.final.name}{_RETIRED}")]
        # Earlier versions named them .<uid>.<random>.zip.part and .<uid>.<random>.partial.
        leftovers += parent.glob(f".{self.uid}.*.zip.part")
        leftovers += parent.glob(f".{self.uid}.*.partial")
        for path in leftovers:
            remove_path(path)

    # Completeness -----------------------------------------------------------------------------

    def complete(self, expected: Expected) -> DownloadResult | None:
        """The earlier download, when what is on disk holds every image the metadata lists."""
        try:
            if self.extract:
                if not self.final.is_dir():
                    return None
                files = tuple(sorted(p for p in self.final.rglob("*") if p.is_file()))
                images = [p for p in files if p.name not in _NOT_IMAGES]
                sizes = sum(p.stat().st_size for p in images)
                if not expected.holds(len(images), sizes):
                    return None
                total = sum(p.stat().st_size for p in files)
                return DownloadResult(self.uid, self.final, files, total, len(images), True)
            if not self.final.is_file():
                return None
            with zipfile.ZipFile(self.final) as archive:
                infos = [i for i in archive.infolist() if _is_image(i.filename)]
            if len(infos) != expected.image_count or sum(i.file_size for i in infos) != (
                expected.image_bytes
            ):
                return None
            size = self.final.stat().st_size
            return DownloadResult(self.uid, self.final, (self.final,), size, len(infos), True)
        except (OSError, zipfile.BadZipFile, EOFError):
            return None  # unreadable or damaged: download it again

    def install(self) -> None:
        """Move the verified staging path into place, replacing an incomplete earlier copy."""
        retired = self.final.with_name(f".{self.final.name}{_RETIRED}")
        try:
            if self.final.exists() or self.final.is_symlink():
                os.replace(self.final, retired)
            os.replace(self.staging, self.final)
        except OSError as error:
            raise self._storage_error(error) from None
        finally:
            remove_path(retired)


def remove_path(path: Path) -> None:
    """Remove a file or a folder tree, if it is there."""
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


class ByteProgress(Protocol):
    def advance(self, amount: float) -> None: ...
    def restart(self) -> None: ...


class SeriesSink:
    """A series' ZIP, streamed in: see the module's docstring. ``extract=False`` keeps the ZIP
    itself (checked the same way) instead of the images.

    A pull consumer: ``consume`` takes the body's pieces as they arrive and unzips them in the
    same thread (the sync client reads the network there too), so no thread waits on another.
    """

    blocking = True

    def __init__(
        self,
        target: SeriesTarget,
        expected: Expected,
        *,
        md5: bool,
        verify_listed: bool = False,
        keep_md5_list: bool = False,
        progress: ByteProgress | None = None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        self.target = target
        self.expected = expected
        self.md5 = md5
        """The archive must hold md5hashes.csv, and every image must match it."""
        self.hash_images = md5 or verify_listed
        """Hash every image, to check it against md5hashes.csv should the archive hold one."""
        self.md5_verified = False
        self.keep_md5_list = keep_md5_list
        self._progress = progress
        self._cancelled = cancelled
        self._zip: io.BufferedWriter | None = None
        self._received = 0
        self.image_count = 0
        self.written: list[tuple[str, int]] = []
        """(entry name, bytes) of each file extracted into the staging folder."""

    def refusal(self, problem: str) -> DownloadError:
        return DownloadError(
            f"{self.target.uid}: {problem}; nothing was kept. Try again, and report the series "
            "if it persists.",
            series_instance_uid=self.target.uid,
        )

    def consume(self, batches: Iterable[Sequence[bytes]]) -> DownloadResult:
        """Unzip, check and install one attempt's body; any failure removes what it wrote."""
        self._received = 0
        self.image_count = 0
        self.md5_verified = False
        self.written = []
        if self._progress is not None:
            self._progress.restart()
        try:
            try:
                remove_path(self.target.staging)
                if self.target.extract:
                    self.target.staging.mkdir()
                else:
                    self._zip = open(self.target.staging, "xb")  # noqa: SIM115 (closed below)
            except OSError as error:
                raise storage_error(error, self.target.dest, query="getImage") from None
            try:
                _Extraction(self).run(self._pieces(batches))
            except (stream_unzip.UnzipError, EOFError, ValueError) as error:
                if isinstance(error, TCIAError):
                    raise
                raise self.refusal(
                    f"the archive is damaged or incomplete ({type(error).__name__})"
                ) from None
            except OSError as error:
                raise storage_error(error, self.target.dest, query="getImage") from None
            if self._zip is not None:
                self._zip.close()
                self._zip = None
            self.target.install()
            return self._result()
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove whatever is not in its final place."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        remove_path(self.target.staging)

    def _pieces(self, batches: Iterable[Sequence[bytes]]) -> Iterator[bytes]:
        """The body's pieces, each batch counted against the bound and checked for a cancel."""
        for batch in batches:
            self._received += sum(map(len, batch))
            if self._received > self.expected.raw_bound():
                raise ResponseTooLargeError(
                    f"{self.target.uid}: the archive grew past {self.expected.raw_bound()} "
                    f"bytes, more than {self.expected.image_count} images of "
                    f"{self.expected.image_bytes} bytes can take; stopped there, nothing was "
                    "kept. Report the series.",
                    query="getImage",
                )
            if self._cancelled():
                raise self.refusal("the download was cancelled")
            if self._zip is not None:
                try:
                    self._zip.writelines(batch)
                except OSError as error:
                    raise storage_error(error, self.target.dest, query="getImage") from None
            if self._progress is not None:
                self._progress.advance(sum(map(len, batch)))
            yield from batch

    def _result(self) -> DownloadResult:
        final = self.target.final
        if self.target.extract:  # what the extraction wrote: no walk of the folder needed
            files = tuple(sorted(final.joinpath(*name.split("/")) for name, _ in self.written))
            size = sum(written for _, written in self.written)
        else:
            files, size = (final,), final.stat().st_size
        return DownloadResult(
            self.target.uid, final, files, size, self.image_count, md5_verified=self.md5_verified
        )


class _Extraction:
    """One pass over the ZIP."""

    def __init__(self, sink: SeriesSink) -> None:
        self.sink = sink
        self.target = sink.target
        self.expected = sink.expected
        self.image_bytes = 0
        self.digests: dict[str, str] = {}
        self.listed: dict[str, str] | None = None
        self.files: set[str] = set()
        self.folders: set[str] = set()
        self.made: set[Path] = set()
        """Folders created in the staging folder so far."""

    def run(self, chunks: Iterator[bytes]) -> None:
        entries = 0
        for raw_name, _, data in stream_unzip.stream_unzip(chunks, chunk_size=65536):
            entries += 1
            if entries > self.expected.image_count + 16:
                raise self.sink.refusal("the archive holds more entries than the series has images")
            name = _entry_name(raw_name)
            problem = self._refuse(name)
            if problem:
                raise self.sink.refusal(f"the archive holds an unsafe entry {name!r} ({problem})")
            if name.endswith("/"):
                for _ in data:
                    pass
                continue
            base = PurePosixPath(name).name
            if base == MD5_LIST:
                self._read_md5_list(name, data)
            else:
                self._write(name, data, image=base != LICENSE)
        self._verify()

    def _refuse(self, name: str) -> str | None:
        if not name or name in ("/", "."):
            return "an empty name"
        if any(not ch.isprintable() for ch in name):
            return "control characters in its name"
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\\" in name:
            return "absolute path"
        parts = name.rstrip("/").split("/")
        if ".." in parts:
            return "it climbs out of the folder"
        if any(part in ("", ".") for part in parts):
            return "an empty part in its path"
        path = name.rstrip("/")
        if path in self.files or (not name.endswith("/") and path in self.folders):
            return "a second entry of the same name"
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in self.files:
                return "a file of that name is also a folder"
        if name.endswith("/"):
            self.folders.add(path)
        else:
            self.files.add(path)
            self.folders.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
        return None

    def _write(self, name: str, data: Iterator[bytes], *, image: bool) -> None:
        if image:
            self.sink.image_count += 1
        bound = self.expected.image_bytes if image else _MAX_LICENSE
        digest = hashlib.md5(usedforsecurity=False) if image and self.sink.hash_images else None
        handle: int | None = None
        if self.target.extract:
            path = self.target.staging.joinpath(*name.split("/"))
            if "/" in name and path.parent not in self.made:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.made.add(path.parent)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            handle = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o666)
        size = 0
        try:
            for chunk in data:
                size += len(chunk)
                if (self.image_bytes if image else 0) + size > bound:
                    what = "images" if image else f"its {LICENSE}"
                    raise self.sink.refusal(
                        f"the archive's {what} grew past the {bound} bytes getSeriesSize "
                        "announced; stopped there"
                    )
                if digest is not None:
                    digest.update(chunk)
                if handle is not None:
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(handle, view) :]
        finally:
            if handle is not None:
                os.close(handle)
        if image:
            self.image_bytes += size
        if handle is not None:
            self.sink.written.append((name, size))
        if digest is not None:
            self.digests[name] = digest.hexdigest()

    def _read_md5_list(self, name: str, data: Iterator[bytes]) -> None:
        bound = self.expected.md5_list_bound()
        text = bytearray()
        for chunk in data:
            text += chunk
            if len(text) > bound:
                raise self.sink.refusal(f"its {MD5_LIST} is larger than {bound} bytes")
        if self.sink.keep_md5_list and self.target.extract:
            self._write(name, iter([bytes(text)]), image=False)
        listed: dict[str, str] = {}
        for row in csv.reader(io.StringIO(text.decode("utf-8", "replace"))):
            if len(row) >= 2 and row[0] != "Filename":
                listed[row[0].strip()] = row[1].strip().lower()
        self.listed = listed

    def _verify(self) -> None:
        count, size = self.sink.image_count, self.image_bytes
        expected = self.expected
        if count != expected.image_count or size != expected.image_bytes:
            raise self.sink.refusal(
                f"the archive holds {count} images of {size} bytes, but getSeriesSize promised "
                f"{expected.image_count} of {expected.image_bytes}"
            )
        if self.listed is None:
            if self.sink.md5:
                raise self.sink.refusal(f"the archive has no {MD5_LIST} to verify the images with")
            return
        if not self.sink.hash_images:
            return
        for name, digest in sorted(self.digests.items()):
            listed = self.listed.get(name)
            if listed is None:
                raise self.sink.refusal(f"{MD5_LIST} does not list {name!r}")
            if listed != digest:
                raise self.sink.refusal(
                    f"MD5 mismatch for {name!r}: the image is not what the server hashed"
                )
        self.sink.md5_verified = True


def _entry_name(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


def describe_failure(error: BaseException, uid: str) -> TCIAError:
    """Any failure of one series in ``download_many``, as a ``TCIAError``."""
    if isinstance(error, TCIAError):
        return error
    if isinstance(error, OSError):
        return storage_error(error, uid, query="getImage")
    return DownloadError(f"{uid}: {type(error).__name__}: {error}", series_instance_uid=uid)
