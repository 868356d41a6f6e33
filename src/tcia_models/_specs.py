"""The shape of a query, as the generated code describes each one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from ._model import TCIAModel

__all__ = ["ModelT", "ParameterSpec", "QuerySpec", "TabularFormat"]

ModelT = TypeVar("ModelT", bound=TCIAModel)

TabularFormat = Literal["json", "csv", "xml"]
"""The formats that parse into models. HTML is available as bytes through ``raw()``."""


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    name: str
    """The wire name, e.g. ``PatientID``."""
    python_name: str
    """The keyword argument, e.g. ``patient_id``."""
    required: bool
    description: str
    type: str


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

    @property
    def required(self) -> tuple[ParameterSpec, ...]:
        return tuple(parameter for parameter in self.parameters if parameter.required)

    def parameter(self, name: str) -> ParameterSpec:
        for parameter in self.parameters:
            if parameter.name == name or parameter.python_name == name:
                return parameter
        raise KeyError(name)
