"""The shape of a query and of an API generation, as the generated code describes each one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from ._model import TCIAModel

__all__ = [
    "ApiGeneration",
    "ApiServer",
    "AuthKind",
    "GenerationWire",
    "HttpMethod",
    "ModelT",
    "ParameterSpec",
    "QuerySpec",
    "WireParameter",
]

ModelT = TypeVar("ModelT", bound=TCIAModel)

AuthKind = Literal["api_key", "oauth", "none"]
HttpMethod = Literal["GET", "POST"]


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    name: str
    """The wire name, e.g. ``PatientID``."""
    python_name: str
    """The keyword argument, e.g. ``patient_id``."""
    required: bool
    description: str
    type: str
    repeated: bool = False
    """True when the parameter takes a list of values."""
    default: str | int | bool | None = None
    """Sent when the caller gives nothing (NBIA's search paging and sort fields)."""


@dataclass(frozen=True, slots=True)
class WireParameter:
    """How one generation spells a parameter."""

    name: str
    """The parameter, as the metadata names it."""
    wire_name: str
    date_format: str | None = None
    """strftime format of a date parameter."""
    criteria_type: str | None = None
    """NBIA's criteria-indexed form: sent as ``criteriaType<i>=<this>`` and ``<value_field><i>``."""
    value_field: str = "value"
    value_offset: int = 0
    """Added to an integer before it is sent."""
    separator: str | None = None
    """A repeated parameter is sent as one field, its values joined by this."""
    chunk_size: int | None = None
    """At most this many values per request; the client splits longer lists."""
    fill_value: str | None = None
    """ISO date (or text) sent when this field is missing but its criteria slot is used."""


@dataclass(frozen=True, slots=True)
class GenerationWire:
    """How one API generation offers a query."""

    api: str
    path: str
    """Relative to the generation's base URL (``getSeries``, ``../v1/getContentsByName``)."""
    parameters: tuple[WireParameter, ...] = ()
    method: HttpMethod = "GET"
    """``POST`` sends the parameters as a form (NBIA's search and bulk metadata queries)."""
    format_parameter: bool = True
    """False when the generation takes no ``format=`` (it answers in one format only)."""
    rows: str | None = None
    """The key holding the rows when the answer is one JSON object (``resultSet``)."""


@dataclass(frozen=True, slots=True)
class ApiGeneration:
    """One generation of TCIA's API, as data: the request core reads it."""

    name: str
    description: str
    base_url: str
    auth: AuthKind
    token_path: str | None = None
    client_id: str | None = None
    guest_username: str | None = None
    guest_password: str | None = None


@dataclass(frozen=True, slots=True)
class ApiServer:
    """A host serving TCIA's API (the public archive, NLST's own NBIA), as data."""

    name: str
    description: str
    generations: tuple[str, ...]
    origin: str | None = None
    """``scheme://host`` replacing the origin of each generation's base URL; ``None``: each
    generation's own."""


@dataclass(frozen=True, slots=True)
class QuerySpec(Generic[ModelT]):
    name: str
    """The wire name, e.g. ``getSeries``."""
    method_name: str
    description: str
    parameters: tuple[ParameterSpec, ...]
    formats: tuple[str, ...]
    """Lower-case return types, e.g. ``("csv", "html", "xml", "json")`` or ``("zip",)``."""
    model: type[ModelT] | None
    single_row: bool
    """True when the query answers with exactly one row (an aggregate such as getSeriesSize)."""
    generations: tuple[GenerationWire, ...] = ()
    """The API generations that offer the query."""
    paging: tuple[str, str] | None = None
    """(offset, limit) parameters when the answer comes a page at a time."""
    attributes: tuple[str, ...] = ()
    """The attributes this query sends, as its own metadata lists them: its model is the union
    of every query returning it, so a field of the model may be one this query never sends."""

    def wire(self, api: str) -> GenerationWire | None:
        return next((g for g in self.generations if g.api == api), None)

    @property
    def required(self) -> tuple[ParameterSpec, ...]:
        return tuple(parameter for parameter in self.parameters if parameter.required)
