"""Is a file a DICOM file of the series it came as? Read from its first bytes only.

Every file must open with DICOM's 128-byte preamble and ``DICM``. With pydicom (it comes with
``tcia-models[idc]``; the check is skipped without it), each file's SeriesInstanceUID is
read too, stopping before the pixels: about 1 ms a file.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

__all__ = ["dicom_problem"]

_MAGIC_AT = 128
_MAGIC = b"DICM"


@functools.cache
def _dcmread() -> Any:
    try:
        from pydicom import dcmread  # pyright: ignore[reportUnknownVariableType]
    except ImportError:
        return None
    return dcmread  # pyright: ignore[reportUnknownVariableType]


def dicom_problem(path: Path, series_instance_uid: str) -> str | None:
    """What is wrong with ``path`` as an image of the series, or ``None``."""
    try:
        with path.open("rb") as image:
            head = image.read(_MAGIC_AT + len(_MAGIC))
            if head[_MAGIC_AT:] != _MAGIC:
                return "is not a DICOM file (no DICM after the preamble)"
            read = _dcmread()
            if read is None:
                return None
            image.seek(0)
            try:
                found = read(image, stop_before_pixels=True, specific_tags=["SeriesInstanceUID"])
            except Exception as error:  # pydicom raises many kinds on a damaged file
                return f"is a damaged DICOM file ({type(error).__name__})"
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    uid = getattr(found, "SeriesInstanceUID", None)
    if uid != series_instance_uid:
        return f"belongs to series {uid!r}, not this one"
    return None
