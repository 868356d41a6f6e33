"""Parse a TCIA response body (JSON, CSV or XML) into models: ``parse(Series, body, "csv")``.

All three formats give the same models. JSON is validated by pydantic-core straight from the
bytes; CSV and XML rows are all strings, which pydantic's lax mode converts, so
``"133"`` is an int and ``"true"`` a bool. An empty body is an empty list (TCIA's "no rows").
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gc
import io
import xml.etree.ElementTree as ET
from collections.abc import Generator
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ._exceptions import ResponseFormatError, excerpt
from ._specs import ModelT, TabularFormat

__all__ = ["parse"]

# Above this size the cyclic garbage collector is paused while rows are built: every model is a
# tracked object, and collections triggered mid-parse rescan all of them, doubling parse time.
_PAUSE_GC_ABOVE = 256 * 1024


@functools.cache
def _rows_adapter(model: type[ModelT]) -> TypeAdapter[list[ModelT]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def parse(
    model: type[ModelT],
    body: bytes | str,
    format: TabularFormat = "json",
    *,
    query: str | None = None,
) -> list[ModelT]:
    """Rows of ``model`` from a response body in ``format``.

    Raises ``ResponseFormatError`` when the body is not ``format`` (an HTML error page, say) or a
    row does not fit the model.
    """
    if not body or body.isspace():  # isspace stops at the first byte of data; strip() copies
        return []
    adapter = _rows_adapter(model)
    label = query or model.__name__
    pause = _gc_paused() if len(body) > _PAUSE_GC_ABOVE else contextlib.nullcontext()
    try:
        with pause:
            if format == "json":
                return adapter.validate_json(body)
            text = body.decode("utf-8") if isinstance(body, bytes) else body
            rows = _csv_rows(text) if format == "csv" else _xml_rows(text)
            return adapter.validate_python(rows)
    except ValidationError as error:
        raise _format_error(label, model, format, body, error) from None
    except (ET.ParseError, csv.Error, UnicodeDecodeError) as error:
        raise ResponseFormatError(
            f"{label}: the response is not valid {format.upper()} ({error}); "
            f"it starts with {excerpt(body)[:80]!r}",
            query=query,
            body=excerpt(body),
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


def _csv_rows(text: str) -> list[dict[str, str]]:
    if text[:1024].lstrip().startswith("<"):  # a look at the start, not a copy of the body
        raise csv.Error("it looks like HTML or XML")
    # NULL is written as "" in CSV: a missing value, as an omitted key is in JSON.
    return [
        {k: v for k, v in row.items() if v != "" and k is not None}
        for row in csv.DictReader(io.StringIO(text))
    ]


def _xml_rows(text: str) -> list[dict[str, str]]:
    # expat never fetches external entities and, since 2.4.1, refuses entity-expansion bombs.
    root = ET.fromstring(text)  # noqa: S314
    if root.tag != "Results":
        raise ET.ParseError(f"the root element is <{root.tag}>, not <Results>")
    return [{field.tag: field.text or "" for field in row} for row in root.iter("Row")]


def _format_error(
    label: str, model: type[Any], format: str, body: bytes | str, error: ValidationError
) -> ResponseFormatError:
    first = error.errors()[0]
    location = list(first["loc"])
    if format == "json" and first["type"] in ("json_invalid", "list_type"):
        problem = f"the response is not a JSON list of rows ({first['msg']})"
        if body.lstrip()[:1] in (b"<", "<"):
            problem = "the server sent an HTML page, not JSON (a proxy or maintenance page?)"
        return ResponseFormatError(
            f"{label}: {problem}; it starts with {excerpt(body)[:80]!r}. Retry later, or report it "
            "if it persists.",
            query=label if label != model.__name__ else None,
            body=excerpt(body),
        )
    row = location[0] if location and isinstance(location[0], int) else "?"
    where = ".".join(str(part) for part in location[1:]) or "row"
    return ResponseFormatError(
        f"{label}: row {row} does not fit {model.__name__}: {where}: {first['msg']} "
        f"({error.error_count()} problem(s)). The API may have changed: run `tcia drift`.",
        query=label if label != model.__name__ else None,
        body=excerpt(body),
    )
