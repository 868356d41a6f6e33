"""Which series a segmentation or structure set is drawn on, read from its DICOM header as
``getDicomTags`` prints it (tcia_utils' getSegRefSeries and nbiatoolkit's
getRefSeriesUIDs read the same rows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ._exceptions import InvalidParameterError

__all__ = ["referenced_series"]

_MODALITY = "(0008,0060)"
_SERIES_UID = "(0020,000E)"
# Where each modality names the series it refers to: RTSTRUCT in its Referenced Frame of
# Reference Sequence (> RT Referenced Study > RT Referenced Series), SEG in its Referenced
# Series Sequence.
_REFERENCES = {"RTSTRUCT": "(3006,0010)", "SEG": "(0008,1115)"}


class TagRow(Protocol):
    @property
    def element(self) -> str | None: ...
    @property
    def data(self) -> str | None: ...


def referenced_series(series_instance_uid: str, rows: Sequence[TagRow]) -> list[str]:
    """The SeriesInstanceUIDs a SEG or RTSTRUCT series refers to, each once, in header order.

    Raises ``InvalidParameterError`` for a series of another modality (only these two refer
    to series) and when the header has no reference."""
    modality = next((row.data for row in rows if row.element == _MODALITY), None)
    sequence = _REFERENCES.get(modality or "")
    if sequence is None:
        raise InvalidParameterError(
            f"get_referenced_series(): series {series_instance_uid} is "
            f"{modality or 'of no modality'}, not SEG or RTSTRUCT: only those refer to the "
            "series they are drawn on",
            query="getDicomTags",
        )
    found: list[str] = []
    inside = False
    for row in rows:
        if row.element == sequence:  # the sequence's opening row, then its closing one
            inside = not inside
            continue
        element = row.element or ""  # getDicomTags does not promise one in every row
        nested = element.startswith(">")
        if inside and nested and element.lstrip(">") == _SERIES_UID and row.data:
            found.append(row.data)
    if not found:
        raise InvalidParameterError(
            f"get_referenced_series(): the {modality} series {series_instance_uid} names no "
            f"referenced series (no SeriesInstanceUID in its {sequence} sequence)",
            query="getDicomTags",
        )
    return list(dict.fromkeys(found))
