"""Requests as data: what to send for a query, in the spelling of one API generation."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

import httpx

from ._exceptions import InvalidParameterError
from ._specs import ApiGeneration, GenerationWire, HttpMethod, QuerySpec, WireParameter
from .parsing import READERS

__all__ = ["Origin", "PreparedRequest", "RequestBuilder", "display_url", "parse_base_url"]

Origin = tuple[str, str, int]
"""(scheme, host, port): where a secret may be sent."""

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: httpx.URL) -> Origin:
    return (url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme, 0))


def display_url(url: str | httpx.URL) -> str:
    """A URL fit to print: no user info and no query string (either may hold a secret)."""
    parsed = httpx.URL(str(url))
    return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))


def parse_base_url(text: str) -> httpx.URL:
    """The base URL, checked: ``http(s)://host[:port]/path``, ending in ``/``."""
    try:
        url = httpx.URL(text.strip().rstrip("/") + "/")
    except (httpx.InvalidURL, TypeError, ValueError) as error:
        raise InvalidParameterError(
            f"base_url={display_url_or_redacted(text)!r} is not a URL ({error}); "
            "give http(s)://host/path"
        ) from None
    if url.scheme not in _DEFAULT_PORTS or not url.host:
        raise InvalidParameterError(
            f"base_url={display_url_or_redacted(text)!r} is not an http(s) URL with a host; "
            "give http(s)://host/path"
        )
    return url


def display_url_or_redacted(text: str) -> str:
    try:
        return display_url(text)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<unparseable>"


@dataclass(frozen=True)
class PreparedRequest:
    """One request as data: what to send, never how."""

    query: str
    """The wire name of the query, for messages."""
    method: HttpMethod
    url: str
    params: Mapping[str, str] = field(default_factory=dict[str, str])
    """The query string (GET) or the form (POST)."""
    format: str = ""
    """The format asked for (``json``, ``csv``, ``zip``, ...), or ``""``."""
    follow_redirects: bool = True
    """False for requests that carry secrets in their body (the OAuth token POST)."""

    def redirected(self, url: str, *, keep_method: bool) -> PreparedRequest:
        """The request to send to ``url`` after a redirect (RFC 9110 15.4: 301/302/303 turn a
        POST into a GET without a body; 307/308 keep both)."""
        if keep_method or self.method == "GET":
            params: Mapping[str, str] = self.params if self.method == "POST" else {}
            return replace(self, url=url, params=params)
        return replace(self, method="GET", url=url, params=dict[str, str]())

    def describe(self) -> str:
        """The parameters, for messages (never a secret: secrets travel in headers)."""
        shown = [f"{k}={v}" for k, v in self.params.items() if k != "format"]
        return ", ".join(shown) or "no parameters"


def wire_value(value: object, date_format: str | None = None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.strftime(date_format) if date_format else value.isoformat()
    return str(value)


def _repeated(spec: QuerySpec[Any], name: str) -> bool:
    return any(p.name == name and p.repeated for p in spec.parameters)


def _as_list(value: object) -> object:
    """A repeated parameter's values as a list; one string is one value, not its letters."""
    if value is None or isinstance(value, str):
        return value if value in (None, "") else [value]
    if isinstance(value, Iterable):
        return list(cast("Iterable[object]", value))
    return [value]


def _listed(value: object) -> list[object]:
    return cast("list[object]", value) if isinstance(value, list) else [value]


def _offset(value: object, offset: int) -> object:
    if offset and isinstance(value, int) and not isinstance(value, bool):
        return value + offset
    return value


class _CriteriaForm:
    """NBIA's criteria-indexed form: ``criteriaType0=CollectionCriteria&value0=TCGA-KIRC&...``,
    slots numbered from 0 without gaps (NBIA stops reading at the first missing index). A
    repeated value takes one slot each; fields of another name (``fromDate``/``toDate`` of a
    DateRangeCriteria) share their type's slot."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self._shared: dict[str, int] = {}
        self._next = 0

    def add(self, criteria_type: str, value_field: str, values: list[str]) -> None:
        for value in values:
            shared = self._shared.get(criteria_type)
            if value_field == "value":
                index = self._slot(criteria_type)
            elif shared is None:
                index = self._shared[criteria_type] = self._slot(criteria_type)
            else:
                index = shared
            self.fields[f"{value_field}{index}"] = value

    def fill(self, spellings: Iterable[WireParameter]) -> None:
        """The open end of a shared slot (a date range given only its start): NBIA needs both."""
        for spelling in spellings:
            index = self._shared.get(spelling.criteria_type or "")
            field = f"{spelling.value_field}{index}"
            if index is None or field in self.fields or spelling.fill_value is None:
                continue
            value: object = spelling.fill_value
            if spelling.date_format is not None:
                value = datetime.date.fromisoformat(spelling.fill_value)
            self.fields[field] = wire_value(value, spelling.date_format)

    def _slot(self, criteria_type: str) -> int:
        index, self._next = self._next, self._next + 1
        self.fields[f"criteriaType{index}"] = criteria_type
        return index


class RequestBuilder:
    """Builds the requests of one API generation at one base URL."""

    def __init__(self, generation: ApiGeneration, base_url: httpx.URL) -> None:
        self.generation = generation
        self.base_url = base_url

    def url(self, path: str) -> str:
        return str(self.base_url.join(path))

    def prepare(
        self, spec: QuerySpec[Any], arguments: Mapping[str, object], format: str
    ) -> PreparedRequest:
        """The request for ``spec``; ``InvalidParameterError`` when it cannot be sent."""
        requests = self.prepare_all(spec, arguments, format)
        if len(requests) != 1:
            raise InvalidParameterError(
                f"{spec.method_name}() takes at most one request's worth of values here; "
                "call it once per chunk",
                query=spec.name,
            )
        return requests[0]

    def prepare_all(
        self, spec: QuerySpec[Any], arguments: Mapping[str, object], format: str
    ) -> list[PreparedRequest]:
        """The requests for ``spec``: one, or one per chunk of a repeated parameter whose wire
        spelling has a ``chunk_size`` (NBIA's bulk getSeriesMetadata: 10 000 UIDs a POST)."""
        arguments = {
            name: _as_list(value) if _repeated(spec, name) else value
            for name, value in arguments.items()
        }
        missing = [p for p in spec.required if arguments.get(p.name) in (None, "", [])]
        if missing:
            names = ", ".join(p.python_name for p in missing)
            raise InvalidParameterError(
                f"{spec.method_name}() needs {names} ({spec.name} requires "
                f"{', '.join(p.name for p in missing)}); nothing was sent",
                query=spec.name,
            )
        if spec.model is not None and format not in spec.formats:
            offered = ", ".join(repr(f) for f in spec.formats if f in READERS)
            raise InvalidParameterError(
                f"{spec.method_name}() cannot return format={format!r}; use one of {offered}",
                query=spec.name,
            )
        wire = spec.wire(self.generation.name)
        if wire is None:
            offered = ", ".join(repr(g.api) for g in spec.generations)
            raise InvalidParameterError(
                f"{spec.method_name}(): api={self.generation.name!r} has no {spec.name}; it is "
                f"offered by {offered} (TCIAClient(api=...))",
                query=spec.name,
            )
        spellings = {p.name: p for p in wire.parameters}
        chunked = next(
            (
                (name, spelling.chunk_size)
                for name, spelling in spellings.items()
                if spelling.chunk_size and isinstance(arguments.get(name), list)
            ),
            None,
        )
        if chunked is None:
            chunks = [arguments]
        else:
            name, size = chunked
            values = list(dict.fromkeys(_listed(arguments[name])))  # each value once
            chunks = [
                {**arguments, name: values[start : start + size]}
                for start in range(0, len(values), size)
            ]
        return [self._request(spec, wire, chunk, format) for chunk in chunks]

    def _request(
        self,
        spec: QuerySpec[Any],
        wire: GenerationWire,
        arguments: Mapping[str, object],
        format: str,
    ) -> PreparedRequest:
        spellings = {p.name: p for p in wire.parameters}
        params: dict[str, str] = {}
        criteria = _CriteriaForm()
        for name, value in arguments.items():
            if value is None or value == []:
                continue
            spelling = spellings.get(name)
            if spelling is None:
                params[name] = wire_value(value)
                continue
            values = _listed(value)
            texts = [
                wire_value(_offset(v, spelling.value_offset), spelling.date_format) for v in values
            ]
            if spelling.criteria_type is not None:
                criteria.add(spelling.criteria_type, spelling.value_field, texts)
            elif spelling.separator is not None:
                params[spelling.wire_name] = spelling.separator.join(texts)
            else:
                params[spelling.wire_name] = texts[0]
        criteria.fill(wire.parameters)
        params = {**criteria.fields, **params}
        if spec.model is not None and wire.format_parameter:
            params["format"] = format
        return PreparedRequest(spec.name, wire.method, self.url(wire.path), params, format)

    def prepare_raw(
        self, query: str, params: Mapping[str, object], format: str | None, method: HttpMethod
    ) -> PreparedRequest:
        wire = {name: wire_value(value) for name, value in params.items() if value is not None}
        if format is not None:
            wire["format"] = format
        return PreparedRequest(query, method, self.url(query), wire, format or "")
