"""Parse a TCIA response body (JSON, CSV or XML) into models: ``parse(Series, body, "csv")``.

All formats give the same models. JSON is validated by pydantic-core straight from the bytes;
CSV and XML rows are all strings, which pydantic's lax mode converts, so ``"133"`` is an int
and ``"true"`` a bool. An empty body is an empty list (TCIA's "no rows").

One rule for empty values, in every format: an empty string is a missing value, as an absent
key is. NBIA writes NULL as ``""`` in CSV (and as an absent element in XML, an absent key in
JSON), so a CSV cannot tell ``""`` from NULL; the only rule that gives the same values from the
same data in JSON, CSV and XML is that ``""`` becomes ``None``. (``PatientName: ""`` is ``None``
from all three.)

``READERS`` is the one registry of formats that parse into models: a new format is a reader
here, and codegen offers it to every query whose metadata lists it.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gc
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast

from pydantic import TypeAdapter, ValidationError

from ._exceptions import InvalidParameterError, ResponseFormatError, excerpt, unchanged
from ._specs import ModelT

if TYPE_CHECKING:
    from ._generated.formats import TabularFormat

__all__ = ["READERS", "RowReader", "parse", "parse_rows"]

Body = bytes | bytearray | str

# Above this size the cyclic garbage collector is paused while rows are built: every model is a
# tracked object, and collections triggered mid-parse rescan all of them, doubling parse time.
_PAUSE_GC_ABOVE = 256 * 1024


class RowReader(Protocol):
    """One response format: validate a whole body into rows of a model."""

    def __call__(self, adapter: TypeAdapter[list[Any]], body: Body) -> list[Any]: ...


def _without_empty_values(rows: object) -> object:
    """Each row without its empty-string values (a missing value, as in CSV)."""
    if not isinstance(rows, list):
        return rows  # not rows: the adapter says what is wrong with it
    return [
        {k: v for k, v in cast("dict[str, Any]", row).items() if v != ""}
        if isinstance(row, dict)
        else row
        for row in cast("list[object]", rows)
    ]


def _may_hold_an_empty_string(body: Body) -> bool:
    if isinstance(body, str):
        return '""' in body
    return b'""' in body


def _read_json(adapter: TypeAdapter[list[Any]], body: Body) -> list[Any]:
    # Straight from the bytes in pydantic-core, unless an empty string may be in there.
    if not _may_hold_an_empty_string(body):
        return adapter.validate_json(body)
    try:
        document = json.loads(body)
    except ValueError:
        return adapter.validate_json(body)  # pydantic-core's error says what is wrong
    return adapter.validate_python(_without_empty_values(document))


def _read_json_member(key: str, adapter: TypeAdapter[list[Any]], body: Body) -> list[Any]:
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError(f"the answer is not a JSON object holding {key!r}")
    rows: object = cast("dict[str, Any]", document).get(key) or []
    return adapter.validate_python(_without_empty_values(rows))


def _read_csv(adapter: TypeAdapter[list[Any]], body: Body) -> list[Any]:
    text = _text(body)
    if text[:1024].lstrip().startswith("<"):  # a look at the start, not a copy of the body
        raise csv.Error("it looks like HTML or XML")
    # NULL is written as "" in CSV: a missing value, as an omitted key is in JSON.
    rows = [
        {k: v for k, v in row.items() if v != "" and k is not None}
        for row in csv.DictReader(io.StringIO(text))
    ]
    return adapter.validate_python(rows)


def _read_xml(adapter: TypeAdapter[list[Any]], body: Body) -> list[Any]:
    # expat never fetches external entities and, since 2.4.1, refuses entity-expansion bombs.
    root = ET.fromstring(_text(body))  # noqa: S314
    if root.tag != "Results":
        raise ET.ParseError(f"the root element is <{root.tag}>, not <Results>")
    # NULL is an absent element; an empty one is a missing value too, as "" is in CSV and JSON.
    rows = [{field.tag: field.text for field in row if field.text} for row in root.iter("Row")]
    return adapter.validate_python(rows)


READERS: Mapping[str, RowReader] = {"json": _read_json, "csv": _read_csv, "xml": _read_xml}
"""Format name (as the API's ``format=`` spells it) -> its reader."""

_NOT_THE_FORMAT = (ET.ParseError, csv.Error, UnicodeDecodeError, ValueError)


def _text(body: Body) -> str:
    return body if isinstance(body, str) else body.decode("utf-8")


@functools.cache
def _rows_adapter(model: type[ModelT]) -> TypeAdapter[list[ModelT]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def parse(
    model: type[ModelT],
    body: Body,
    format: TabularFormat = "json",
    *,
    query: str | None = None,
) -> list[ModelT]:
    """Rows of ``model`` from a response body in ``format`` (``json``, ``csv`` or ``xml``).

    Raises ``ResponseFormatError`` when the body is not ``format`` (an HTML error page, say) or a
    row does not fit the model.
    """
    return parse_rows(model, body, format, query=query)


def parse_rows(
    model: type[ModelT],
    body: Body,
    format: str,
    *,
    query: str | None = None,
    redact: Callable[[str], str] | None = None,
    rows_key: str | None = None,
) -> list[ModelT]:
    """``parse``, with the client's redaction of secrets applied to anything an error shows.

    ``rows_key``: the answer is one JSON object holding the rows under this key (NBIA's
    search summary, ``resultSet``)."""
    reader = READERS.get(format)
    if reader is None:
        raise InvalidParameterError(
            f"format={format!r} does not parse into models; use one of {', '.join(READERS)}"
        )
    if not body or body.isspace():  # isspace stops at the first byte of data; strip() copies
        return []
    hide = redact or unchanged
    label = query or model.__name__
    pause = _gc_paused() if len(body) > _PAUSE_GC_ABOVE else contextlib.nullcontext()
    if rows_key is not None and format == "json":
        reader = functools.partial(_read_json_member, rows_key)
    try:
        with pause:
            return reader(_rows_adapter(model), body)
    except ValidationError as error:
        raise _format_error(label, model, format, body, error, hide) from None
    except _NOT_THE_FORMAT as error:
        shown = excerpt(body, hide)
        raise ResponseFormatError(
            f"{label}: the response is not valid {format.upper()} ({hide(str(error))}); "
            f"it starts with {shown[:80]!r}",
            query=query,
            body=shown,
        ) from None


@contextlib.contextmanager
def _gc_paused() -> Generator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _format_error(
    label: str,
    model: type[Any],
    format: str,
    body: Body,
    error: ValidationError,
    hide: Callable[[str], str],
) -> ResponseFormatError:
    first = error.errors()[0]
    location = list(first["loc"])
    shown = excerpt(body, hide)
    query = label if label != model.__name__ else None
    if format == "json" and first["type"] in ("json_invalid", "list_type"):
        problem = f"the response is not a JSON list of rows ({first['msg']})"
        if shown[:1] == "<":
            problem = "the server sent an HTML page, not JSON (a proxy or maintenance page?)"
        return ResponseFormatError(
            f"{label}: {problem}; it starts with {shown[:80]!r}. Retry later, or report it if it "
            "persists.",
            query=query,
            body=shown,
        )
    row = location[0] if location and isinstance(location[0], int) else "?"
    where = ".".join(str(part) for part in location[1:]) or "row"
    return ResponseFormatError(
        f"{label}: row {row} does not fit {model.__name__}: {hide(where)}: {hide(first['msg'])} "
        f"({error.error_count()} problem(s)). The API may have changed: run `tcia drift`.",
        query=query,
        body=shown,
    )
