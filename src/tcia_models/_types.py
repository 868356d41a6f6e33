"""Value types for TCIA attributes whose wire form pydantic cannot parse on its own.

TCIA has sent dates as ``2008-10-18`` (Bindaas), ``2003-12-12 00:00:00.0`` (NBIA v1/v2),
``12-12-2003`` (NBIA v4) and DICOM ``20031212``. pydantic's own (Rust) date parser handles the
first two, so it runs first and the Python fallback below only sees the other forms: the common
case never calls into Python.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = ["Date", "DateTime", "parse_tcia_date", "parse_tcia_datetime"]

_DATE_FORMS = "YYYY-MM-DD, YYYY-MM-DD HH:MM:SS[.f], MM-DD-YYYY or YYYYMMDD"


def parse_tcia_date(value: str) -> datetime.date | None:
    """Parse a date in any form TCIA has sent; an empty string is a missing value."""
    text = value.strip()
    if not text:
        return None
    try:
        if len(text) == 10 and text[2] == "-" and text[5] == "-":
            return datetime.date(int(text[6:]), int(text[:2]), int(text[3:5]))
        if len(text) == 8 and text.isdigit():
            return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if len(text) > 10 and text[4] == "-" and text[7] == "-" and text[10] in " T":
            return datetime.datetime.fromisoformat(text).date()
    except ValueError as error:
        raise ValueError(f"invalid date {value!r}: {error}") from None
    raise ValueError(f"invalid date {value!r}: expected {_DATE_FORMS}")


def parse_tcia_datetime(value: str) -> datetime.datetime | None:
    """Parse a timestamp in any form TCIA has sent; a bare date means midnight."""
    day = parse_tcia_date(value)
    if day is None:
        return None
    text = value.strip()
    if len(text) > 10 and text[4] == "-":
        return datetime.datetime.fromisoformat(text)
    return datetime.datetime(day.year, day.month, day.day)


class _TCIADateSchema:
    """Core schema: pydantic's native parser first, the TCIA fallback second."""

    def __init__(self, native: core_schema.CoreSchema, fallback: Any) -> None:
        self._native = native
        self._fallback = fallback

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.union_schema(
            [
                self._native,
                core_schema.no_info_after_validator_function(
                    self._fallback, core_schema.str_schema()
                ),
            ],
            mode="left_to_right",
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(self._native)


Date = Annotated[datetime.date, _TCIADateSchema(core_schema.date_schema(), parse_tcia_date)]
"""A ``datetime.date`` that accepts every date form TCIA has sent."""

DateTime = Annotated[
    datetime.datetime, _TCIADateSchema(core_schema.datetime_schema(), parse_tcia_datetime)
]
"""A ``datetime.datetime`` that accepts every timestamp form TCIA has sent."""
