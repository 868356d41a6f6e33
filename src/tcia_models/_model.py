"""The base class of every generated model, and DICOM tag lookup."""

from __future__ import annotations

import functools
from typing import cast

from pydantic import BaseModel, ConfigDict

__all__ = ["DICOM_TAG_KEY", "WIRE_NAMES_KEY", "TCIAModel", "dicom_tags"]

DICOM_TAG_KEY = "x-dicom-tag"
"""The JSON Schema key under which each field carries its DICOM tag (8 hex digits)."""

WIRE_NAMES_KEY = "x-wire-names"
"""The JSON Schema key listing the other keys a field arrives under (``PatientId``)."""


class TCIAModel(BaseModel):
    """One row of a TCIA query result.

    Field names are the API's attribute names (DICOM keywords such as ``SeriesInstanceUID``).
    TCIA omits NULL values, so an absent key is ``None``; a key the model does not know is kept
    in ``model_extra`` rather than dropped, so a newer server never loses data. A field that a
    generation sends under another key (``PatientId``) accepts that key too.
    """

    model_config = ConfigDict(
        extra="allow",
        frozen=True,
        use_attribute_docstrings=True,
        arbitrary_types_allowed=True,
        validate_by_name=True,
        validate_by_alias=True,
        # Validators are built on first use, not at import: importing the models stays cheap.
        defer_build=True,
    )


@functools.cache
def dicom_tags(model: type[BaseModel]) -> dict[str, int]:
    """Map each field of ``model`` that has a DICOM tag to that tag, as an ``int``.

    The ints compare equal to ``pydicom.tag.Tag`` values: ``dicom_tags(Series)["Modality"]
    == 0x00080060``.
    """
    tags: dict[str, int] = {}
    for name, field in model.model_fields.items():
        extra: object = field.json_schema_extra
        if isinstance(extra, dict):
            tag = cast("dict[str, object]", extra).get(DICOM_TAG_KEY)
            if isinstance(tag, str):
                tags[name] = int(tag, 16)
    return tags
