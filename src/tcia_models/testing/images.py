"""Real DICOM files for the test server's series, and the ZIP archives ``getImage`` sends.

Files are built with pydicom from the series' metadata, deterministically (the same bytes on
every run), once per process: the cache is shared by every server started on the same dataset.
"""

from __future__ import annotations

import functools
import hashlib
import io
import threading
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .dataset import Dataset, ImageShape

__all__ = ["ImageStore", "SeriesImages", "sop_class_for", "zip_entries"]

# DICOM storage SOP classes by modality; anything else is Secondary Capture.
_SOP_CLASSES = {
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "MG": "1.2.840.10008.5.1.4.1.1.1.2",
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "PT": "1.2.840.10008.5.1.4.1.1.128",
}
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"

# Row attributes copied into every image, as (DICOM keyword, value kind).
_COPIED = {
    "PatientID": "text",
    "PatientName": "text",
    "PatientSex": "text",
    "PatientAge": "text",
    "StudyInstanceUID": "text",
    "StudyDate": "date",
    "StudyDescription": "text",
    "StudyID": "text",
    "SeriesInstanceUID": "text",
    "SeriesDate": "date",
    "SeriesDescription": "text",
    "SeriesNumber": "int",
    "Modality": "text",
    "ProtocolName": "text",
    "BodyPartExamined": "text",
    "Manufacturer": "text",
    "ManufacturerModelName": "text",
    "SoftwareVersions": "text",
}
# Code String values are upper case in DICOM, whatever case the archive's metadata shows.
_CODE_STRINGS = frozenset({"BodyPartExamined", "Modality", "PatientSex"})


@dataclass(frozen=True)
class SeriesImages:
    """The DICOM files of one series, named as TCIA names them in a ZIP."""

    files: tuple[tuple[str, bytes], ...]
    sop_instance_uids: tuple[str, ...]

    @functools.cached_property
    def total_size(self) -> int:
        return sum(len(data) for _, data in self.files)


_NO_IMAGES = SeriesImages(files=(), sop_instance_uids=())


class ImageStore:
    def __init__(
        self, dataset: Dataset, *, rows: Sequence[Mapping[str, Any]] | None = None
    ) -> None:
        """``rows``: the dataset's ``series_rows()``, when the caller has them already."""
        self._dataset = dataset
        joined = dataset.series_rows() if rows is None else rows
        self._rows = {row["SeriesInstanceUID"]: row for row in joined}
        self._images: dict[str, SeriesImages] = {}
        self._archives: dict[tuple[str, bool, bool], bytes] = {}
        self._lock = threading.Lock()

    def __contains__(self, series_uid: str) -> bool:
        return series_uid in self._rows

    def images(self, series_uid: str) -> SeriesImages:
        if not self._rows[series_uid].get("ImageCount"):
            return _NO_IMAGES  # nothing to build, nor to keep a million of
        with self._lock:
            if series_uid not in self._images:
                self._images[series_uid] = _build_series(
                    self._rows[series_uid], self._dataset.image_shape
                )
            return self._images[series_uid]

    def entries(
        self, series_uid: str, *, md5: bool = False, with_license: bool = True
    ) -> list[tuple[str, bytes]]:
        """What ``getImage`` puts in the ZIP: ``LICENSE`` first, then ``00000001.dcm``, ...;
        ``md5`` adds ``md5hashes.csv`` last (NBIA's getImageWithMD5Hash, which has no LICENSE,
        and v4's ``IncludeMD5=Yes``)."""
        images = self.images(series_uid)
        entries = [("LICENSE", self._license_text(series_uid).encode())] if with_license else []
        entries += list(images.files)
        if md5:
            hashes = "".join(
                f"{name},{hashlib.md5(data, usedforsecurity=False).hexdigest()}\n"
                for name, data in images.files
            )
            entries.append(("md5hashes.csv", ("Filename,MD5Hash\n" + hashes).encode()))
        return entries

    def archive(self, series_uid: str, *, md5: bool = False, with_license: bool = True) -> bytes:
        """The ZIP of ``entries()`` (DEFLATE), built once per process."""
        key = (series_uid, md5, with_license)
        with self._lock:
            cached = self._archives.get(key)
        if cached is None:
            cached = zip_entries(self.entries(series_uid, md5=md5, with_license=with_license))
            with self._lock:
                self._archives[key] = cached
        return cached

    def warm(self) -> None:
        """Build every series' files and archives now (with and without MD5 hashes, as
        getImage and getImageWithMD5Hash send them), so no request waits for them."""
        for series_uid in self._rows:
            self.archive(series_uid)
            self.archive(series_uid, md5=True, with_license=False)

    def _license_text(self, series_uid: str) -> str:
        collection = self._rows[series_uid]["Collection"]
        return (
            f"The images of collection {collection} are licensed under the "
            f"{self._dataset.license} ({self._dataset.license_uri}).\n"
        )


def sop_class_for(modality: str) -> str:
    return _SOP_CLASSES.get(modality, _SECONDARY_CAPTURE)


def zip_entries(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in entries:
            archive.writestr(_fixed_time(name), data)
    return buffer.getvalue()


def _fixed_time(name: str) -> zipfile.ZipInfo:
    """An entry with a fixed timestamp, so the archive is the same bytes on every run."""
    info = zipfile.ZipInfo(name, date_time=(2014, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


_cache_lock = threading.Lock()
_series_cache: dict[tuple[str, ImageShape, int], SeriesImages] = {}


def _build_series(row: Mapping[str, Any], shape: ImageShape) -> SeriesImages:
    key = (row["SeriesInstanceUID"], shape, int(row.get("ImageCount") or 0))
    with _cache_lock:
        cached = _series_cache.get(key)
    if cached is None:
        cached = _write_series(row, shape)
        with _cache_lock:
            _series_cache[key] = cached
    return cached


def _write_series(row: Mapping[str, Any], shape: ImageShape) -> SeriesImages:
    # pydicom is imported here: it is only needed once images are asked for.
    from pydicom.dataset import Dataset as DicomDataset
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    series_uid = row["SeriesInstanceUID"]
    sop_class = UID(_SOP_CLASSES.get(row["Modality"], _SECONDARY_CAPTURE))
    files: list[tuple[str, bytes]] = []
    uids: list[str] = []
    for number in range(1, int(row.get("ImageCount") or 0) + 1):
        # A prefix is needed: generate_uid(prefix=None) ignores the entropy and is random.
        sop_uid = generate_uid(entropy_srcs=[series_uid, str(number)])
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        image = DicomDataset()
        image.file_meta = meta
        image.SOPClassUID = sop_class
        image.SOPInstanceUID = sop_uid
        image.InstanceNumber = number
        for keyword, kind in _COPIED.items():
            value = row.get(keyword)
            if value is None:
                continue
            if kind == "date":
                value = value.replace("-", "")
            elif keyword in _CODE_STRINGS:
                value = value.upper()
            setattr(image, keyword, value)
        image.Rows, image.Columns = shape.rows, shape.columns
        image.SamplesPerPixel = 1
        image.PhotometricInterpretation = "MONOCHROME2"
        image.BitsAllocated, image.BitsStored, image.HighBit = 16, 12, 11
        image.PixelRepresentation = 0
        image.PixelData = hashlib.shake_128(sop_uid.encode()).digest(2 * shape.rows * shape.columns)
        buffer = io.BytesIO()
        image.save_as(buffer, enforce_file_format=True)
        files.append((f"{number:08d}.dcm", buffer.getvalue()))
        uids.append(sop_uid)
    return SeriesImages(files=tuple(files), sop_instance_uids=tuple(uids))
