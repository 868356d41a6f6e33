"""Typed tables at archive scale: every list query as a ``pyarrow.Table``.

``parse_table(Series, body, "csv")`` reads a response body with the rules ``parse`` follows
(every date form in ``_types.DATE_FORMS``, wire names, unknown columns kept, an empty body is an
empty table, ``""`` in CSV a missing value, a missing required value an error), but column by
column in C++ instead of one Python object per row:

- CSV through ``pyarrow.csv`` with an explicit type per column; while it streams in
  (``TableSink``, what the clients' ``tables`` use), the body is never held whole.
- JSON (TCIA sends one array) cut into newline-delimited pieces of a few MB and read by
  ``pyarrow.json``; a body that does not fit that fast path (a value of another JSON type, as
  ``stringValues`` generations send) is read through pydantic-core's parser instead.
- XML through ElementTree, then the same conversion as CSV's strings.

Date and timestamp columns are read as dictionaries of strings, so each distinct value is parsed
once, by ``pyarrow.compute`` with every form of ``DATE_FORMS``: the same list the models use.
"""

# pyarrow-stubs types compute functions per concrete array type; a column whose type is known
# only at run time is Array[Unknown] to pyright, so its "partially unknown" reports are off here
# (mypy --strict still checks this module, and every public signature is fully typed).
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false
# pyright: reportUnknownArgumentType=false, reportUnknownParameterType=false

from __future__ import annotations

import contextlib
import csv
import io
import json
import queue
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

try:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv
    import pyarrow.json as pa_json
except ImportError:
    raise ImportError("typed tables need pyarrow: pip install 'tcia-models[arrow]'") from None

import pydantic_core

from ._body import Fed
from ._exceptions import InvalidParameterError, ResponseFormatError, excerpt, unchanged
from ._generated.arrow_schemas import SCHEMAS
from ._model import WIRE_NAMES_KEY, TCIAModel
from ._types import DATE_FORMS

if TYPE_CHECKING:
    from typing import TypeAlias

    from ._generated.formats import TabularFormat
    from ._specs import QuerySpec

    Column: TypeAlias = pa.Array[Any]
    ArrowField: TypeAlias = pa.Field[Any]

__all__ = ["TableSink", "arrow_schema", "parse_table"]

Body = bytes | bytearray | str

_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
_TIMESTAMP = pa.timestamp("us")

# What pydantic's lax mode reads as a bool from a string (it lower-cases first).
_TRUE = ("1", "on", "t", "true", "y", "yes")
_FALSE = ("0", "off", "f", "false", "n", "no")

# ISO 8601 as pyarrow's cast reads it (and pydantic): a date, then an optional time.
_ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}(:\d{2}(:\d{2}(\.\d{1,9})?)?)?)?$"
_INTEGER = r"^[+-]?\d+$"

_JSON_PIECE = 8 << 20
"""Bytes of a JSON array converted to newline-delimited JSON and parsed at a time."""
_CSV_BLOCK = 8 << 20
"""Bytes pyarrow's CSV reader takes per block (a record batch each)."""


def arrow_schema(model: type[TCIAModel]) -> pa.Schema:
    """The Arrow schema of ``model``'s table: one field per attribute, in the model's order.

    Dates are ``date32``, timestamps ``timestamp[us]``, counts ``int64``, flags ``bool``;
    attributes with few distinct values (Collection, Modality, ...) are dictionary-encoded. Each
    field's metadata carries its DICOM tag (``x-dicom-tag``), its description and the other keys
    it arrives under (``x-wire-names``); a required attribute is not nullable.
    """
    schema = SCHEMAS.get(model.__name__)
    if schema is None:
        raise InvalidParameterError(
            f"{model.__name__} has no Arrow schema; use one of {', '.join(SCHEMAS)}"
        )
    return schema


class _BadValue(Exception):
    """A value that does not fit its column: which row, which column, why."""

    def __init__(self, row: int, column: str, problem: str, value: str | None = None) -> None:
        super().__init__(problem)
        self.row, self.column, self.problem, self.value = row, column, problem, value


class _Plan:
    """How one model's rows become its table: the column types to read each wire name as, and
    what to do with each column once read."""

    def __init__(self, model: type[TCIAModel]) -> None:
        self.model = model
        self.schema = arrow_schema(model)
        self.fields: dict[str, ArrowField] = {field.name: field for field in self.schema}
        self.canonical: dict[str, str] = {}
        """Every key an attribute arrives under -> its name."""
        for field in self.schema:
            self.canonical[field.name] = field.name
            for wire in json.loads((field.metadata or {}).get(WIRE_NAMES_KEY.encode(), b"[]")):
                self.canonical.setdefault(wire, field.name)

    def field_for(self, key: str) -> ArrowField | None:
        name = self.canonical.get(key)
        return self.fields[name] if name is not None else None

    def csv_type(self, key: str) -> pa.DataType:
        """What pyarrow's CSV reader builds for a column: dates as dictionaries of strings
        (parsed per distinct value afterwards); unknown columns as strings, as ``parse`` keeps
        them."""
        field = self.field_for(key)
        if field is None:
            return pa.string()
        kind: pa.DataType = field.type
        return _DICTIONARY if _is_temporal(kind) else kind

    def json_type(self, key: str) -> pa.DataType:
        """What pyarrow's JSON reader builds: it cannot build dictionaries, nor parse our dates."""
        field = self.field_for(key)
        assert field is not None
        kind: pa.DataType = field.type
        return pa.string() if _is_temporal(kind) or pa.types.is_dictionary(kind) else kind

    def json_schema(self) -> pa.Schema:
        return pa.schema([(key, self.json_type(key)) for key in self.canonical])

    def finish(self, columns: Sequence[tuple[str, Column]], length: int, offset: int) -> pa.Table:
        """One piece of a table, in the model's order then unknown columns; ``offset`` is the
        row number of its first row, for messages."""
        known: dict[str, Column] = {}
        extra: dict[str, Column] = {}
        for key, column in columns:
            field = self.field_for(key)
            if field is None:
                extra.setdefault(key, column)
                continue
            value = _convert(column, field, offset)
            earlier = known.get(field.name)
            # A row may carry an attribute under several keys: the first one present wins,
            # as with the models' AliasChoices.
            known[field.name] = value if earlier is None else pc.coalesce(earlier, value)
        arrays: list[Column] = []
        for field in self.schema:
            found = known.get(field.name)
            column = _nulls(length, field.type) if found is None else found
            if not field.nullable and column.null_count:
                row = offset + _first(pc.is_null(column))
                raise _BadValue(row, field.name, "Field required")
            arrays.append(column)
        fields = [*self.schema, *(pa.field(k, v.type) for k, v in extra.items())]
        return pa.Table.from_arrays([*arrays, *extra.values()], schema=pa.schema(fields))


def _is_temporal(kind: pa.DataType) -> bool:
    return pa.types.is_date32(kind) or pa.types.is_timestamp(kind)


def _array(value: object) -> Column:
    """A compute function's result: an array for arrays (the stubs pick it by static type)."""
    assert isinstance(value, pa.Array)
    return value


def _first(mask: Column) -> int:
    return int(pc.index(mask, True).as_py())


def _convert(column: Column, field: ArrowField, offset: int) -> Column:
    """A column as read (typed already, or strings) -> ``field``'s type, with the lax rules of
    ``parse``: ``"133"`` is an int, ``"yes"`` a bool, every TCIA date form a date."""
    try:
        return _convert_values(column, field.type)
    except _BadValue as bad:
        row = bad.row
        if pa.types.is_dictionary(column.type) and bad.value is not None:
            row = _first(pc.equal(_strings(column), pa.scalar(bad.value)))  # its first row
        raise _BadValue(offset + row, field.name, bad.problem) from None


def _convert_values(column: Column, target: pa.DataType) -> Column:
    if _is_string(column.type) and (pa.types.is_string(target) or pa.types.is_dictionary(target)):
        # One rule in every format, as parse has it: "" is a missing value (NULL in TCIA's CSV).
        empty = _array(pc.equal(column, pa.scalar("", column.type)))
        if pc.any(empty).as_py():
            column = _array(pc.if_else(empty, pa.scalar(None, column.type), column))
    if column.type == target:
        return column
    if _is_temporal(target) and _is_string(column.type) and len(column) > 64:
        column = pc.dictionary_encode(column)  # dates repeat: parse each distinct one once
    if isinstance(column, pa.DictionaryArray):
        if _is_temporal(target):
            return pc.take(_convert_values(column.dictionary, target), column.indices)
        column = _strings(column)
    if pa.types.is_null(column.type):
        return _nulls(len(column), target)
    if _is_string(column.type):
        return _from_strings(column, target)
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise _BadValue(0, "", f"cannot be read as {target}: {error}") from None


def _is_string(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _strings(column: Column) -> Column:
    if isinstance(column, pa.DictionaryArray):
        return column.dictionary_decode()
    return column


def _nulls(length: int, kind: pa.DataType) -> Column:
    return pa.nulls(length).cast(kind)


def _from_strings(strings: Column, target: pa.DataType) -> Column:
    if pa.types.is_dictionary(target):
        return strings.cast(target)
    if pa.types.is_string(target):
        return strings
    text = pc.utf8_trim_whitespace(strings)
    # "" is a missing value for every type that is not a string (it cannot be anything else).
    text = pc.if_else(pc.equal(text, pa.scalar("")), pa.scalar(None, pa.string()), text)
    if _is_temporal(target):
        return _dates(text).cast(target, safe=False)  # a date keeps the day of a timestamp
    if pa.types.is_boolean(target):
        folded = pc.utf8_lower(text)
        true = pc.match_substring_regex(folded, f"^({'|'.join(_TRUE)})$")
        false = pc.match_substring_regex(folded, f"^({'|'.join(_FALSE)})$")
        _check(text, _array(pc.or_(true, false)), "Input should be a valid boolean")
        return _array(pc.if_else(true, True, pc.if_else(false, False, pa.scalar(None, pa.bool_()))))
    if pa.types.is_integer(target):
        fits = _array(pc.match_substring_regex(text, _INTEGER))
        _check(text, fits, "Input should be a valid integer")
    try:
        return _array(text.cast(target))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise _BadValue(0, "", f"cannot be read as {target}: {error}") from None


def _check(text: Column, fits: Column, problem: str) -> None:
    bad = _array(
        pc.and_(pc.is_valid(text), pc.invert(_array(pc.fill_null(fits, pa.scalar(False)))))
    )
    if pc.any(bad).as_py():
        row = _first(bad)
        value = text[row].as_py()
        raise _BadValue(row, "", f"{problem}, got {value!r}", value)


def _dates(text: Column) -> Column:
    """Strings in any of ``DATE_FORMS`` -> timestamps, every form tried on the whole column."""
    with contextlib.suppress(pa.ArrowInvalid):
        return text.cast(_TIMESTAMP)  # all ISO 8601: pyarrow's own parser, in one pass
    parsed: Column | None = None
    for form in DATE_FORMS:
        if form.strptime is None:
            iso = pc.fill_null(pc.match_substring_regex(text, _ISO), pa.scalar(False))
            candidate = _iso_or_null(pc.if_else(iso, text, pa.scalar(None, pa.string())))
        else:
            source = text
            if form.rewrite is not None:  # only the rows the pattern fits are candidates
                fits = pc.fill_null(
                    pc.match_substring_regex(text, form.rewrite[0]), pa.scalar(False)
                )
                rewritten = pc.replace_substring_regex(
                    text, pattern=form.rewrite[0], replacement=form.rewrite[1]
                )
                source = pc.if_else(fits, rewritten, pa.scalar(None, pa.string()))
            candidate = pc.strptime(source, format=form.strptime, unit="us", error_is_null=True)
        parsed = candidate if parsed is None else pc.coalesce(parsed, candidate)
    assert parsed is not None
    forms = ", ".join(form.example for form in DATE_FORMS)
    bad = pc.and_(pc.is_valid(text), pc.is_null(parsed))
    if pc.any(bad).as_py():
        row = _first(bad)
        value = text[row].as_py()
        raise _BadValue(row, "", f"invalid date {value!r}: expected one of {forms}", value)
    return parsed


def _iso_or_null(text: Column) -> Column:
    """ISO strings -> timestamps; one whose numbers are out of range (month 13) -> null."""
    try:
        return text.cast(_TIMESTAMP)
    except pa.ArrowInvalid:
        values = [_iso_value(value) for value in text.to_pylist()]  # only when one is broken
        return pa.array(values, _TIMESTAMP)


def _iso_value(text: str | None) -> Any:
    try:
        return None if text is None else pa.scalar(text).cast(_TIMESTAMP)
    except pa.ArrowInvalid:
        return None


# Reading each format ---------------------------------------------------------------------------


def _csv_options(
    plan: _Plan, header: Sequence[str], *, streaming: bool = False
) -> tuple[pa_csv.ReadOptions, pa_csv.ParseOptions, pa_csv.ConvertOptions]:
    # Streaming, pyarrow's threads would read ahead of the batches taken, holding more and
    # more of the body as it outruns them: one block at a time keeps memory bounded.
    read = pa_csv.ReadOptions(block_size=_CSV_BLOCK, use_threads=True)
    parse = pa_csv.ParseOptions(newlines_in_values=True)  # a description may hold a newline
    convert = pa_csv.ConvertOptions(
        column_types={key: plan.csv_type(key) for key in header},
        # NULL is written as "" in CSV (quoted, as TCIA quotes every value): a missing value.
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        true_values=[v for t in _TRUE for v in (t, t.title(), t.upper())],
        false_values=[v for f in _FALSE for v in (f, f.title(), f.upper())],
    )
    return read, parse, convert


def _csv_header(head: bytes) -> list[str]:
    """The column names, from the first line (before pyarrow is told each column's type)."""
    line = head.split(b"\n", 1)[0].decode("utf-8-sig")
    return next(csv.reader([line]), [])


def _batches_to_table(plan: _Plan, batches: Iterable[pa.RecordBatch]) -> pa.Table:
    pieces: list[pa.Table] = []
    offset = 0
    for batch in batches:
        columns = list(zip(batch.schema.names, batch.columns, strict=True))
        pieces.append(plan.finish(columns, batch.num_rows, offset))
        offset += batch.num_rows
    if not pieces:
        return plan.schema.empty_table()
    return _concat(pieces).unify_dictionaries()


def _concat(pieces: list[pa.Table]) -> pa.Table:
    if all(piece.schema == pieces[0].schema for piece in pieces):
        return pa.concat_tables(pieces)
    return pa.concat_tables(pieces, promote_options="permissive")  # unknown keys, per piece


def _read_csv(plan: _Plan, body: bytes) -> pa.Table:
    options = _csv_options(plan, _csv_header(body[: 1 << 20]))
    # A Buffer is read in place (the stubs know only paths and files).
    table = pa_csv.read_csv(pa.py_buffer(body), *options)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    return _batches_to_table(plan, table.to_batches())


def _read_json(plan: _Plan, body: bytes) -> pa.Table:
    try:
        return _read_json_pieces(plan, body)
    except pa.ArrowInvalid:  # not the compact array TCIA writes: read it the general way
        return _read_json_rows(plan, body)


def _read_json_pieces(plan: _Plan, body: bytes) -> pa.Table:
    """A JSON array of flat objects, cut between objects (``},{``) into pieces of a few MB,
    each turned into newline-delimited JSON for pyarrow. A ``},{`` inside a string becomes a
    raw newline there, which no JSON parser accepts: such a body fails here and is read the
    general way, never misread."""
    start, end = _strip(body)
    if body[start : start + 1] != b"[" or body[end - 1 : end] != b"]":
        raise pa.ArrowInvalid("not a JSON array")
    start, end = start + 1, end - 1
    options = pa_json.ParseOptions(explicit_schema=plan.json_schema(), newlines_in_values=False)
    pieces: list[pa.Table] = []
    offset = 0
    while start < end:
        cut = body.find(b"},{", start + _JSON_PIECE, end)
        stop = end if cut < 0 else cut + 1
        piece = bytes(body[start:stop]).replace(b"},{", b"}\n{")
        start = stop + 1
        if not piece.strip():
            continue
        buffer = pa.py_buffer(piece)
        table = pa_json.read_json(buffer, parse_options=options)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
        columns = list(
            zip(table.column_names, (c.combine_chunks() for c in table.columns), strict=True)
        )
        pieces.append(plan.finish(columns, table.num_rows, offset))
        offset += table.num_rows
    if not pieces:
        return plan.schema.empty_table()
    return _concat(pieces).unify_dictionaries()


def _strip(body: bytes) -> tuple[int, int]:
    start, end = 0, len(body)
    while start < end and body[start : start + 1].isspace():
        start += 1
    while end > start and body[end - 1 : end].isspace():
        end -= 1
    return start, end


def _read_json_rows(plan: _Plan, body: bytes) -> pa.Table:
    """The general way: pydantic-core's parser (a Python object per row), then the same
    conversion, value types checked by pyarrow."""
    try:
        rows = pydantic_core.from_json(body)
    except ValueError as error:
        raise _NotTheFormat(f"the response is not a JSON list of rows ({error})") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise _NotTheFormat("the response is not a JSON list of rows")
    return _rows_to_table(plan, rows)


def _rows_to_table(plan: _Plan, rows: list[dict[str, Any]]) -> pa.Table:
    keys = dict.fromkeys(key for row in rows for key in row)
    columns = [(key, _python_column([row.get(key) for row in rows])) for key in keys]
    return plan.finish(columns, len(rows), 0).unify_dictionaries()


def _python_column(values: list[Any]) -> Column:
    try:
        return _array(pa.array(values))
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: their text, as parse's lax mode
        return pa.array([None if v is None else _text(v) for v in values], pa.string())


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _read_xml(plan: _Plan, body: bytes) -> pa.Table:
    # expat never fetches external entities and, since 2.4.1, refuses entity-expansion bombs.
    root = ET.fromstring(body)  # noqa: S314
    if root.tag != "Results":
        raise ET.ParseError(f"the root element is <{root.tag}>, not <Results>")
    rows = [{field.tag: field.text or "" for field in row} for row in root.iter("Row")]
    keys = dict.fromkeys(key for row in rows for key in row)
    columns = [(key, pa.array([row.get(key) for row in rows], pa.string())) for key in keys]
    return plan.finish(columns, len(rows), 0).unify_dictionaries()


class _NotTheFormat(Exception):
    pass


_READERS: Mapping[str, Callable[[_Plan, bytes], pa.Table]] = {
    "csv": _read_csv,
    "json": _read_json,
    "xml": _read_xml,
}


def parse_table(
    model: type[TCIAModel],
    body: Body,
    format: TabularFormat = "json",
    *,
    query: str | None = None,
    redact: Callable[[str], str] | None = None,
) -> pa.Table:
    """Rows of ``model`` from a response body in ``format``, as a ``pyarrow.Table`` with
    ``arrow_schema(model)`` (then any columns the model does not know, kept as sent).

    Raises ``ResponseFormatError`` when the body is not ``format`` (an HTML error page, say) or
    a row does not fit the model.
    """
    reader = _READERS.get(format)
    if reader is None:
        raise InvalidParameterError(
            f"format={format!r} does not parse into tables; use one of {', '.join(_READERS)}"
        )
    plan = _Plan(model)
    data = body.encode() if isinstance(body, str) else body
    if not data or data.isspace():
        return plan.schema.empty_table()
    label = query or model.__name__
    hide = redact or unchanged
    _refuse_html(data[:1024], format, label, query, hide)
    try:
        return reader(plan, bytes(data) if isinstance(data, bytearray) else data)
    except _BadValue as bad:
        raise _row_error(bad, plan, label, query, data, hide) from None
    except (_NotTheFormat, pa.ArrowInvalid, ET.ParseError, UnicodeDecodeError) as error:
        raise _format_error(error, format, label, query, data, hide) from None


def _refuse_html(
    head: bytes | bytearray, format: str, label: str, query: str | None, hide: Callable[[str], str]
) -> None:
    if format != "xml" and head.lstrip()[:1] == b"<":
        shown = excerpt(head, hide)
        raise ResponseFormatError(
            f"{label}: the server sent an HTML page, not {format.upper()} (a proxy or "
            f"maintenance page?); it starts with {shown[:80]!r}. Retry later, or report it if "
            "it persists.",
            query=query,
            body=shown,
        )


def _row_error(
    bad: _BadValue,
    plan: _Plan,
    label: str,
    query: str | None,
    body: Body,
    hide: Callable[[str], str],
) -> ResponseFormatError:
    shown = excerpt(body, hide)
    return ResponseFormatError(
        f"{label}: row {bad.row} does not fit {plan.model.__name__}: {hide(bad.column)}: "
        f"{hide(bad.problem)}. The API may have changed: run `tcia drift`.",
        query=query,
        body=shown,
    )


def _format_error(
    error: Exception,
    format: str,
    label: str,
    query: str | None,
    body: Body,
    hide: Callable[[str], str],
) -> ResponseFormatError:
    shown = excerpt(body, hide)
    problem = " ".join(str(error).split())[:300]
    return ResponseFormatError(
        f"{label}: the response is not valid {format.upper()} ({hide(problem)}); it starts "
        f"with {shown[:80]!r}",
        query=query,
        body=shown,
    )


# Streaming ------------------------------------------------------------------------------------


class _Pipe(io.RawIOBase):
    """Bytes handed over from the thread receiving a body to the thread parsing it. ``put``
    blocks while the parser is behind (a bounded queue), so memory stays bounded; ``read``
    copies into buffers pyarrow owns, because a Python ``bytes`` it was given stays alive for
    as long as any array parsed from it (the whole body, by the end)."""

    _END = b""

    def __init__(self, depth: int = 2) -> None:
        super().__init__()
        self._queue: queue.Queue[bytes] = queue.Queue(depth)
        self._pending = memoryview(b"")
        self._ended = False
        self.aborted = False

    def put(self, chunk: bytes, alive: Callable[[], bool]) -> None:
        while alive():
            try:
                self._queue.put(chunk, timeout=0.1)
                return
            except queue.Full:
                continue

    def end(self) -> None:
        self._queue.put(self._END)

    def abort(self) -> None:
        self.aborted = True
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(self._END)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> Any:
        """Up to ``size`` bytes (fewer only at the end), in an Arrow buffer."""
        want = size if size >= 0 else _CSV_BLOCK
        buffer = pa.allocate_buffer(want, None, True)
        target = memoryview(buffer).cast("B")
        filled = 0
        while filled < want:
            if not self._pending:
                if self._ended:
                    break
                chunk = self._queue.get()
                if not chunk or self.aborted:
                    self._ended = True
                    continue
                self._pending = memoryview(chunk)
            size_ = min(want - filled, len(self._pending))
            target[filled : filled + size_] = self._pending[:size_]
            self._pending = self._pending[size_:]
            filled += size_
        target.release()
        buffer.resize(filled)
        return buffer


class TableSink(Fed["pa.Table"]):
    """A response body parsed into a table while it arrives (a ``Sink`` for the clients).

    CSV goes to pyarrow's streaming reader in a thread of its own, through a bounded pipe, so
    at most a few MB of the body are ever held; JSON and XML are read whole, then parsed.
    """

    blocking = True
    """Parsing is CPU work: the async client feeds this from a worker thread."""

    def __init__(
        self,
        spec: QuerySpec[Any],
        format: str,
        *,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        assert spec.model is not None
        self._model: type[TCIAModel] = spec.model
        self._format = format
        self._query = spec.name
        self._hide = redact or unchanged
        self._plan = _Plan(self._model)
        self._head = bytearray()
        self._pipe: _Pipe | None = None
        self._thread: threading.Thread | None = None
        self._result: pa.Table | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        self.discard()

    def feed(self, chunks: Sequence[bytes]) -> None:
        for chunk in chunks:
            self._feed(chunk)

    def _feed(self, chunk: bytes) -> None:
        if self._pipe is None:
            self._head += chunk
            if self._format != "csv" or (b"\n" not in self._head and len(self._head) < 1 << 20):
                return
            self._begin()
        else:
            assert self._pipe is not None
            self._pipe.put(chunk, self._alive)
        self._raise_if_failed()

    def finish(self) -> pa.Table:
        if self._pipe is None:
            if self._format != "csv" or not self._head.strip():
                return parse_table(
                    self._model,
                    self._head,
                    self._format,  # type: ignore[arg-type]
                    query=self._query,
                    redact=self._hide,
                )
            self._begin()
        assert self._pipe is not None and self._thread is not None
        self._pipe.end()
        self._thread.join()
        self._raise_if_failed()
        assert self._result is not None
        result, self._result = self._result, None
        self._pipe = self._thread = None
        return result

    def discard(self) -> None:
        if self._pipe is not None:
            self._pipe.abort()
        if self._thread is not None:
            self._thread.join()
        self._head = bytearray()
        self._pipe = self._thread = None
        self._result = self._error = None

    def _begin(self) -> None:
        head = bytes(self._head)
        self._head = bytearray()
        _refuse_html(head[:1024], "csv", self._query, self._query, self._hide)
        options = _csv_options(self._plan, _csv_header(head), streaming=True)
        self._pipe = _Pipe()
        self._thread = threading.Thread(
            target=self._parse, args=(self._pipe, options), name="tcia-table", daemon=True
        )
        self._thread.start()
        self._pipe.put(head, self._alive)

    def _parse(
        self,
        pipe: _Pipe,
        options: tuple[pa_csv.ReadOptions, pa_csv.ParseOptions, pa_csv.ConvertOptions],
    ) -> None:
        try:
            reader = pa_csv.open_csv(pipe, *options)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
            table = _batches_to_table(self._plan, reader)
            if not pipe.aborted:
                self._result = table
        except BaseException as error:  # handed to the receiving thread
            self._error = error
            pipe.abort()  # the receiving thread must never wait on a pipe nobody reads

    def _alive(self) -> bool:
        return self._error is None and self._thread is not None and self._thread.is_alive()

    def _raise_if_failed(self) -> None:
        error = self._error
        if error is None:
            return
        self._error = None
        if isinstance(error, _BadValue):
            raise _row_error(error, self._plan, self._query, self._query, b"", self._hide)
        if isinstance(error, pa.ArrowInvalid | UnicodeDecodeError):
            raise _format_error(error, "csv", self._query, self._query, b"", self._hide)
        raise error
