"""Python names for the API's names."""

from __future__ import annotations

import keyword
import re

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# A plural acronym ("UIDs") is one word, not "UI" + "Ds".
_PLURAL_ACRONYM = re.compile(r"([A-Z]{2,})s(?=[A-Z]|$)")


def snake_case(name: str) -> str:
    """``getSeriesSize`` -> ``get_series_size``, ``PatientID`` -> ``patient_id``,
    ``SOPInstanceUID`` -> ``sop_instance_uid``, ``getSOPInstanceUIDs`` -> ``get_sop_instance_uids``.
    """
    snake = _WORD_BOUNDARY.sub("_", _PLURAL_ACRONYM.sub(r"\1S", name)).lower()
    return f"{snake}_" if keyword.iskeyword(snake) else snake


def constant_case(name: str) -> str:
    return snake_case(name).rstrip("_").upper()
