"""Real DICOM files for the test server's series, and the ZIP archives ``getImage`` sends.

Files are built with pydicom from the series' metadata, deterministically (the same bytes on
every run), once per process: the cache is shared by every server started on the same dataset.
"""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
import threading
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .dataset import Dataset, ImageShape

__all__ = [
    "ImageStore",
    "SeriesImages",
    "header_rows",
    "nbia_file_names",
    "sop_class_for",
    "zip_entries",
]

# DICOM storage SOP classes by modality; anything else is Secondary Capture.
_SOP_CLASSES = {
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "MG": "1.2.840.10008.5.1.4.1.1.1.2",
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "PT": "1.2.840.10008.5.1.4.1.1.128",
    "RTSTRUCT": "1.2.840.10008.5.1.4.1.1.481.3",
    "SEG": "1.2.840.10008.5.1.4.1.1.66.4",
}
# Organs at risk of the RT structure sets, numbered from 1 as planning systems number them.
_ROI_NAMES = ("BrainStem", "SpinalCord", "Parotid_L", "Parotid_R", "GTV")
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
    numbers: tuple[tuple[int | None, int | None], ...] = ()
    """(AcquisitionNumber, InstanceNumber) of each file, for NBIA's NewFileNames."""

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
        self._archives: dict[tuple[str, bool, bool, bool], bytes] = {}
        self._lock = threading.Lock()

    def __contains__(self, series_uid: str) -> bool:
        return series_uid in self._rows

    def images(self, series_uid: str) -> SeriesImages:
        if not self._rows[series_uid].get("ImageCount"):
            return _NO_IMAGES  # nothing to build, nor to keep a million of
        with self._lock:
            if series_uid not in self._images:
                row = self._rows[series_uid]
                referenced = self._rows.get(row.get("ReferencedSeriesInstanceUID") or "")
                self._images[series_uid] = _build_series(row, self._dataset.image_shape, referenced)
            return self._images[series_uid]

    def entries(
        self,
        series_uid: str,
        *,
        md5: bool = False,
        with_license: bool = True,
        new_file_names: bool = False,
    ) -> list[tuple[str, bytes]]:
        """What ``getImage`` puts in the ZIP: ``LICENSE`` first, then ``00000001.dcm``, ...
        (``<acquisition>-<instance>.dcm`` with ``new_file_names``, NBIA's NewFileNames=Yes);
        ``md5`` adds ``md5hashes.csv`` last (NBIA's getImageWithMD5Hash, which has no LICENSE,
        and v4's ``IncludeMD5=Yes``)."""
        images = self.images(series_uid)
        files = list(images.files)
        if new_file_names:
            files = nbia_file_names(files, images.numbers)
        entries = [("LICENSE", self._license_text(series_uid).encode())] if with_license else []
        entries += files
        if md5:
            hashes = "".join(
                f"{name},{hashlib.md5(data, usedforsecurity=False).hexdigest()}\n"
                for name, data in files
            )
            entries.append(("md5hashes.csv", ("Filename,MD5Hash\n" + hashes).encode()))
        return entries

    def archive(
        self,
        series_uid: str,
        *,
        md5: bool = False,
        with_license: bool = True,
        new_file_names: bool = False,
    ) -> bytes:
        """The ZIP of ``entries()`` (DEFLATE), built once per process."""
        key = (series_uid, md5, with_license, new_file_names)
        with self._lock:
            cached = self._archives.get(key)
        if cached is None:
            cached = zip_entries(
                self.entries(
                    series_uid, md5=md5, with_license=with_license, new_file_names=new_file_names
                )
            )
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


def nbia_file_names(
    files: list[tuple[str, bytes]], numbers: tuple[tuple[int | None, int | None], ...]
) -> list[tuple[str, bytes]]:
    """NBIA's NewFileNames=Yes (ImageDAO2Impl.setNewFileNames): images sorted by
    InstanceNumber (NULLs first; NBIA's comparator compares instance to instance, never the
    acquisition), then named ``<a>-<i>.dcm``: ``a`` counts acquisitions from 1, ``i`` the
    images within one from 1, each zero-padded to the width of its count."""
    order = sorted(range(len(files)), key=lambda k: (numbers[k][1] is not None, numbers[k][1] or 0))
    ordered = [(files[k][1], numbers[k]) for k in order]

    def changes(values: list[int | None]) -> int:
        known = [v for v in values if v is not None]
        return 1 + sum(1 for before, now in itertools.pairwise(known) if now != before)

    acc_pad = len(str(changes([acq for _, (acq, _) in ordered])))
    ins_pad = len(str(changes([ins for _, (_, ins) in ordered])))
    named: list[tuple[str, bytes]] = []
    current: int | None = ordered[0][1][0] if ordered else None
    current = current or 0
    a, i = 1, 0
    for data, (acquisition, _) in ordered:
        if (acquisition or 0) != current:
            current, a, i = acquisition or 0, a + 1, 1
        else:
            i += 1
        named.append((f"{a:0{acc_pad}d}-{i:0{ins_pad}d}.dcm", data))
    return named


def header_rows(data: bytes) -> list[dict[str, str | None]]:
    """A DICOM file's header as NBIA's getDicomTags prints it (NCIADicomTextObject): the file
    meta group, then the dataset, in tag order, pixel data left out; ``(GGGG,EEEE)`` after one
    ``>`` per sequence level; a sequence opens with its own row and closes with one of the
    same element named ``End <name>``; values joined by a backslash."""
    from pydicom.filereader import dcmread  # pyright: ignore[reportUnknownVariableType]

    image = dcmread(io.BytesIO(data), stop_before_pixels=True)
    rows: list[dict[str, str | None]] = []
    for element in [*image.file_meta, *image]:
        rows += _element_rows(element, 0)
    return rows


def _element_rows(element: Any, depth: int) -> list[dict[str, str | None]]:
    tag = element.tag
    name = "" if element.name.startswith("[") else element.name
    where = ">" * depth + f"({tag.group:04X},{tag.element:04X})"
    if element.VR == "SQ":
        rows: list[dict[str, str | None]] = [{"element": where, "name": name, "data": None}]
        for item in element.value:
            for inner in item:
                rows += _element_rows(inner, depth + 1)
        rows.append({"element": where, "name": f"End {name}", "data": None})
        return rows
    return [{"element": where, "name": name, "data": _text(element)}]


def _text(element: Any) -> str | None:
    from pydicom.multival import MultiValue

    if element.tag.group >= 0x6000:
        return "..."
    value = element.value
    if value is None or value == "":
        return None
    if isinstance(value, bytes):
        return "\\".join(f"{byte:02X}" for byte in value[:64])
    if isinstance(value, MultiValue):
        values: list[Any] = list(value)  # pyright: ignore[reportUnknownArgumentType]
        return "\\".join(str(v) for v in values)
    return str(value)


_cache_lock = threading.Lock()
_series_cache: dict[tuple[str, ImageShape, int], SeriesImages] = {}


def _build_series(
    row: Mapping[str, Any], shape: ImageShape, referenced: Mapping[str, Any] | None = None
) -> SeriesImages:
    key = (row["SeriesInstanceUID"], shape, int(row.get("ImageCount") or 0))
    with _cache_lock:
        cached = _series_cache.get(key)
    if cached is None:
        cached = _write_series(row, shape, referenced)
        with _cache_lock:
            _series_cache[key] = cached
    return cached


def _sop_uid(series_uid: str, number: int) -> str:
    from pydicom.uid import generate_uid

    # A prefix is needed: generate_uid(prefix=None) ignores the entropy and is random.
    return str(generate_uid(entropy_srcs=[series_uid, str(number)]))


def _write_series(
    row: Mapping[str, Any], shape: ImageShape, referenced: Mapping[str, Any] | None = None
) -> SeriesImages:
    # pydicom is imported here: it is only needed once images are asked for.
    from pydicom.dataset import Dataset as DicomDataset
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian

    series_uid = row["SeriesInstanceUID"]
    sop_class = UID(_SOP_CLASSES.get(row["Modality"], _SECONDARY_CAPTURE))
    files: list[tuple[str, bytes]] = []
    uids: list[str] = []
    for number in range(1, int(row.get("ImageCount") or 0) + 1):
        sop_uid = _sop_uid(series_uid, number)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = UID(sop_uid)
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
        if row["Modality"] == "RTSTRUCT" and referenced is not None:
            _structure_set(image, referenced)
        elif row["Modality"] == "SEG" and referenced is not None:
            _segmentation(image, referenced, shape)
        else:
            image.Rows, image.Columns = shape.rows, shape.columns
            image.SamplesPerPixel = 1
            image.PhotometricInterpretation = "MONOCHROME2"
            image.BitsAllocated, image.BitsStored, image.HighBit = 16, 12, 11
            image.PixelRepresentation = 0
            image.PixelData = hashlib.shake_128(sop_uid.encode()).digest(
                2 * shape.rows * shape.columns
            )
        buffer = io.BytesIO()
        image.save_as(buffer, enforce_file_format=True)
        files.append((f"{number:08d}.dcm", buffer.getvalue()))
        uids.append(sop_uid)
    numbers = tuple((None, n) for n in range(1, len(files) + 1))
    return SeriesImages(files=tuple(files), sop_instance_uids=tuple(uids), numbers=numbers)


def _referenced_images(referenced: Mapping[str, Any]) -> list[Any]:
    from pydicom.dataset import Dataset as DicomDataset

    items: list[Any] = []
    for number in range(1, int(referenced.get("ImageCount") or 0) + 1):
        item = DicomDataset()
        item.ReferencedSOPClassUID = _SOP_CLASSES.get(referenced["Modality"], _SECONDARY_CAPTURE)
        item.ReferencedSOPInstanceUID = _sop_uid(referenced["SeriesInstanceUID"], number)
        items.append(item)
    return items


def _structure_set(image: Any, referenced: Mapping[str, Any]) -> None:
    """An RT Structure Set over the referenced series: ReferencedFrameOfReferenceSequence >
    RTReferencedStudySequence > RTReferencedSeriesSequence (its SeriesInstanceUID, which
    tcia_utils and nbiatoolkit read), and one ROI per organ."""
    from pydicom.dataset import Dataset as DicomDataset

    frame = _sop_uid(referenced["StudyInstanceUID"], 0)  # the frame of the referenced images
    image.StructureSetLabel = "OAR"
    image.StructureSetDate = image.get("SeriesDate", "")
    series = DicomDataset()
    series.SeriesInstanceUID = referenced["SeriesInstanceUID"]
    series.ContourImageSequence = _referenced_images(referenced)
    study = DicomDataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management
    study.ReferencedSOPInstanceUID = referenced["StudyInstanceUID"]
    study.RTReferencedSeriesSequence = [series]
    frame_item = DicomDataset()
    frame_item.FrameOfReferenceUID = frame
    frame_item.RTReferencedStudySequence = [study]
    image.ReferencedFrameOfReferenceSequence = [frame_item]
    rois: list[Any] = []
    contours: list[Any] = []
    observations: list[Any] = []
    for number, roi_name in enumerate(_ROI_NAMES, start=1):
        roi = DicomDataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = frame
        roi.ROIName = roi_name
        roi.ROIGenerationAlgorithm = "MANUAL"
        rois.append(roi)
        contour = DicomDataset()
        contour.ReferencedROINumber = number
        contour.ROIDisplayColor = [255, 0, 0]
        contours.append(contour)
        observation = DicomDataset()
        observation.ObservationNumber = number
        observation.ReferencedROINumber = number
        observation.RTROIInterpretedType = "GTV" if roi_name == "GTV" else "ORGAN"
        observations.append(observation)
    image.StructureSetROISequence = rois
    image.ROIContourSequence = contours
    image.RTROIObservationsSequence = observations


def _segmentation(image: Any, referenced: Mapping[str, Any], shape: ImageShape) -> None:
    """A binary DICOM SEG of one segment over the referenced series: ReferencedSeriesSequence
    > (ReferencedInstanceSequence, SeriesInstanceUID), as tcia_utils reads it."""
    from pydicom.dataset import Dataset as DicomDataset

    image.FrameOfReferenceUID = _sop_uid(referenced["StudyInstanceUID"], 0)
    series = DicomDataset()
    series.ReferencedInstanceSequence = _referenced_images(referenced)
    series.SeriesInstanceUID = referenced["SeriesInstanceUID"]
    image.ReferencedSeriesSequence = [series]
    segment = DicomDataset()
    segment.SegmentNumber = 1
    segment.SegmentLabel = "GTV"
    segment.SegmentAlgorithmType = "MANUAL"
    image.SegmentSequence = [segment]
    image.SegmentationType = "BINARY"
    image.Rows, image.Columns = shape.rows, shape.columns
    image.NumberOfFrames = 1
    image.SamplesPerPixel = 1
    image.PhotometricInterpretation = "MONOCHROME2"
    image.BitsAllocated, image.BitsStored, image.HighBit = 1, 1, 0
    image.PixelRepresentation = 0
    bits = shape.rows * shape.columns
    image.PixelData = hashlib.shake_128(image.SOPInstanceUID.encode()).digest((bits + 7) // 8)
