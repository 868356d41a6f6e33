"""Value types for TCIA attributes whose wire form pydantic cannot parse on its own.

Every form TCIA has sent a date or a timestamp in is listed once, in ``DATE_FORMS``: the models'
Python fallback below and the Arrow tables' vectorised parser (``tcia_models.tables``) both read
that list, so a new form is one line here. ISO 8601 (``2008-10-18``, ``2003-12-12 00:00:00.0``)
is parsed natively by pydantic's (Rust) parser and by pyarrow's cast, so the common case never
calls into Python.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = ["DATE_FORMS", "Date", "DateForm", "DateTime", "parse_tcia_date", "parse_tcia_datetime"]


@dataclass(frozen=True)
class DateForm:
    """One way TCIA has written a date or a timestamp."""

    example: str
    strptime: str | None
    """Its ``strptime`` format, or ``None`` for ISO 8601 (parsed natively everywhere)."""
    sent_by: str
    rewrite: tuple[str, str] | None = None
    """(regular expression, replacement) applied before ``strptime``: what a format cannot say
    (Java's time zone name, which is dropped: every TCIA time is naive). Written for both
    Python's ``re`` and RE2 (pyarrow): no lookarounds, ``\\1`` for groups."""


DATE_FORMS: tuple[DateForm, ...] = (
    DateForm("2008-10-18", None, "Bindaas (SQL DATE)"),
    DateForm("2003-12-12 00:00:00.0", None, "NBIA v1 and v2 (Java Timestamp.toString())"),
    DateForm("12-12-2003", "%m-%d-%Y", "NBIA v4 (MySQL date_format '%m-%d-%Y')"),
    DateForm("20031212", "%Y%m%d", "DICOM DA values"),
    DateForm(
        "Mon Nov 04 11:45:52 UTC 2013",
        "%a %b %d %H:%M:%S %Y",
        "NBIA v1 and v2 getSeriesMetaData (Java Date.toString(), for Series Date, Date Released "
        "and TimeStamp)",
        rewrite=(
            r"^([A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}) "
            r"[A-Za-z]{1,6}(?:[+-]\d{1,2}(?::\d{2})?)? (\d{4})$",
            r"\1 \2",
        ),
    ),
    DateForm(
        "12/12/2003", "%m/%d/%Y", "NBIA (NCIAConfig's date format, SimpleDateFormat MM/dd/yyyy)"
    ),
    DateForm(
        "12/12/2003 14:45:52 PM",
        "%m/%d/%Y %H:%M:%S %p",
        "NBIA QC search results (SimpleDateFormat MM/dd/yyyy HH:mm:ss a: 24-hour, with a marker)",
    ),
)
"""Every form, in the order they are tried."""

_DATE_FORMS = ", ".join(form.example for form in DATE_FORMS)

# strptime directives of fixed width, which a regular expression parses several times faster
# than datetime.strptime (a v4 response has a few dates per row, a million rows at archive scale).
_FIXED_WIDTH = {
    "%Y": r"(?P<year>\d{4})",
    "%m": r"(?P<month>\d{2})",
    "%d": r"(?P<day>\d{2})",
    "%H": r"(?P<hour>\d{2})",
    "%M": r"(?P<minute>\d{2})",
    "%S": r"(?P<second>\d{2})",
    "%a": r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)",
    "%b": r"(?P<month_name>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)",
}
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}


def _compile(form: DateForm) -> Callable[[str], datetime.datetime | None]:
    """A parser for one form: ``None`` when the text is not of that form."""
    assert form.strptime is not None
    parser = _compile_strptime(form.strptime)
    if form.rewrite is None:
        return parser
    pattern, replacement = re.compile(form.rewrite[0]), form.rewrite[1]

    def rewritten(text: str) -> datetime.datetime | None:
        text, count = pattern.subn(replacement, text)
        return parser(text) if count else None

    return rewritten


def _compile_strptime(form: str) -> Callable[[str], datetime.datetime | None]:
    pieces = re.split(r"(%.)", form)
    fixed_width = all(piece in _FIXED_WIDTH or "%" not in piece for piece in pieces)
    if fixed_width and {"%Y", "%d"} <= set(pieces) and {"%m", "%b"} & set(pieces):
        pattern = re.compile("".join(_FIXED_WIDTH.get(p) or re.escape(p) for p in pieces))

        def fixed(text: str) -> datetime.datetime | None:
            match = pattern.fullmatch(text)
            if match is None:
                return None
            part = {
                key: _MONTHS[value] if key == "month_name" else int(value)
                for key, value in match.groupdict().items()
            }
            part.setdefault("month", part.get("month_name", 0))
            return datetime.datetime(
                part["year"],
                part["month"],
                part["day"],
                part.get("hour", 0),
                part.get("minute", 0),
                part.get("second", 0),
            )

        return fixed

    def general(text: str) -> datetime.datetime | None:
        try:
            return datetime.datetime.strptime(text, form)
        except ValueError:
            return None

    return general


def _iso(text: str) -> datetime.datetime | None:
    if len(text) < 10 or text[4] != "-" or text[7] != "-":
        return None
    return datetime.datetime.fromisoformat(text)


_PARSERS = [_iso if form.strptime is None else _compile(form) for form in DATE_FORMS]


def parse_tcia_datetime(value: str) -> datetime.datetime | None:
    """Parse a timestamp in any form TCIA has sent; a bare date means midnight, and an empty
    string is a missing value."""
    text = value.strip()
    if not text:
        return None
    try:
        for parser in _PARSERS:
            moment = parser(text)
            if moment is not None:
                return moment
    except ValueError as error:  # the form fits but the values do not (month 13)
        raise ValueError(f"invalid date {value!r}: {error}") from None
    raise ValueError(f"invalid date {value!r}: expected one of {_DATE_FORMS}")


def parse_tcia_date(value: str) -> datetime.date | None:
    """Parse a date in any form TCIA has sent (a timestamp's time is dropped); an empty string
    is a missing value."""
    moment = parse_tcia_datetime(value)
    return None if moment is None else moment.date()


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
