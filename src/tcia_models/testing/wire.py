"""How each API generation writes a query's rows and reads its parameters, from the metadata.

The server speaks every generation over one dataset: a query's document says which generations
offer it, under which path, with which parameter spellings and date formats, which attributes
each generation sends and under which keys; schema/generations.json says how each writes dates.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from typing import Any

__all__ = ["Dialect", "MissingCriterionValue"]

Row = dict[str, Any]


class MissingCriterionValue(ValueError):
    """A criterion without its value field: NBIA fails with a NullPointerException (500)."""


class Dialect:
    """One query as one generation speaks it."""

    def __init__(
        self, api: str, document: Mapping[str, Any], generation: Mapping[str, Any]
    ) -> None:
        self.api = api
        self.document = document
        offered: Mapping[str, Any] = document.get("generations") or {"bindaas": {}}
        self.wire: Mapping[str, Any] = offered[api]
        self._generation = generation
        self.attributes = [
            a for a in document["attributes"] if api in a.get("generations", list(offered))
        ]
        self._spellings: Mapping[str, Any] = self.wire.get("parameters", {})
        self._parameters: dict[str, Mapping[str, Any]] = {
            self._spellings.get(p["name"], {}).get("name", p["name"]): p
            for p in document["queryParameters"]
            if "criteriaType" not in self._spellings.get(p["name"], {})
        }
        self.criteria = {
            name: spelling
            for name, spelling in self._spellings.items()
            if "criteriaType" in spelling
        }
        self.string_values = bool(self.wire.get("stringValues", False))
        self.method = str(self.wire.get("method", "GET"))
        self.takes_format = bool(self.wire.get("formatParameter", True))
        # NBIA's criteria-indexed forms take any field; its other v4 resources check theirs.
        self.rejects_unknown = bool(
            generation.get("rejectsUnknownParameters", False) and not self.criteria
        )
        self.empty_answer = str(self.wire.get("emptyAnswer", "bare"))
        self.denies_unknown_series = self.wire.get("unknownSeries") == "accessDenied"
        # (name, key, is text) per attribute, worked out once: render runs once per row, and an
        # archive-scale answer has a million rows.
        temporal = ("date", "datetime")
        self._plain = [
            (a["name"], self._key(a), a["type"] in ("string", "uid", "age"))
            for a in self.attributes
            if a["type"] not in temporal
        ]
        self._dates = [
            (a["name"], self._key(a), a["type"]) for a in self.attributes if a["type"] in temporal
        ]
        # A dataset holds few distinct dates: each is formatted once per dialect.
        self._written_date = functools.lru_cache(maxsize=65536)(self._format_date)

    def wire_name(self, parameter: str) -> str:
        return str(self._spellings.get(parameter, {}).get("name", parameter))

    @property
    def allowed_parameters(self) -> list[str]:
        return [*self._parameters, *(["format"] if self.takes_format else [])]

    def unknown_parameters(self, params: Mapping[str, str]) -> list[str]:
        allowed = set(self.allowed_parameters)
        return [name for name in params if name not in allowed]

    def canonical_parameters(self, params: Mapping[str, str]) -> dict[str, Any]:
        """Wire names -> the metadata's names; dates parsed with this generation's format,
        joined lists split, criteria slots read into lists (an unknown criteria type is
        ignored, as NBIA ignores it).

        Raises ``ValueError`` for a date that is not in that format, and
        ``MissingCriterionValue`` for a criterion without its value.
        """
        canonical: dict[str, Any] = {}
        consumed = self._read_criteria(params, canonical) if self.criteria else set[str]()
        for wire_name, value in params.items():
            if wire_name in consumed:
                continue
            parameter = self._parameters.get(wire_name)
            if parameter is None:
                canonical[wire_name] = value
                continue
            name = parameter["name"]
            spelling = self._spellings.get(name, {})
            if parameter.get("repeated") and "separator" in spelling:
                canonical[name] = [v for v in value.split(spelling["separator"]) if v]
            elif parameter["type"] == "date" and value:
                canonical[name] = self._date(wire_name, value, spelling.get("dateFormat"))
            else:
                canonical[name] = value
        return canonical

    def _read_criteria(self, params: Mapping[str, str], canonical: dict[str, Any]) -> set[str]:
        """``criteriaType0=...&value0=...``, from 0 while the index exists (NBIA stops at a
        gap); returns the fields read."""
        by_type: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        for name, spelling in self.criteria.items():
            by_type.setdefault(str(spelling["criteriaType"]).lower(), []).append((name, spelling))
        types = {p["name"]: p for p in self.document["queryParameters"]}
        consumed: set[str] = set()
        index = 0
        while f"criteriaType{index}" in params:
            consumed.add(f"criteriaType{index}")
            for name, spelling in by_type.get(params[f"criteriaType{index}"].lower(), []):
                field = f"{spelling.get('valueField', 'value')}{index}"
                if field not in params:
                    raise MissingCriterionValue(field)
                consumed.add(field)
                value: Any = params[field]
                kind = types[name]["type"]
                if kind == "date":
                    value = self._date(field, value, spelling.get("dateFormat"))
                elif kind == "integer":
                    value = int(value) - int(spelling.get("valueOffset", 0))
                if types[name].get("repeated"):
                    canonical.setdefault(name, []).append(value)
                else:
                    canonical[name] = value
            index += 1
        return consumed

    @staticmethod
    def _date(wire_name: str, value: str, date_format: str | None) -> datetime.date:
        form = date_format or "%Y-%m-%d"
        try:
            return datetime.datetime.strptime(value, form).date()
        except ValueError:
            raise ValueError(f"{wire_name}={value!r} is not a date of the form {form}") from None

    def columns(self) -> list[tuple[str, str]]:
        return [
            (self._key(a), "string" if self.string_values else a["type"]) for a in self.attributes
        ]

    def render(self, row: Row) -> Row:
        """A projected row, with this generation's keys and value forms."""
        rendered: Row = {}
        for name, key, text in self._plain:
            value = row.get(name)
            if value is not None:
                # A text column is text on the wire (v4's SliceThickness(mm)).
                rendered[key] = str(value) if text and not isinstance(value, str) else value
        for name, key, kind in self._dates:
            value = row.get(name)
            if value is not None:
                rendered[key] = self._written_date(value, kind) if isinstance(value, str) else value
        if self.string_values:
            return {key: str(value) for key, value in rendered.items()}
        return rendered

    def key(self, attribute: str) -> str:
        """The key this generation sends ``attribute`` under."""
        found = next((a for a in self.attributes if a["name"] == attribute), None)
        return self._key(found) if found is not None else attribute

    def _key(self, attribute: Mapping[str, Any]) -> str:
        names = attribute.get("wireNames", {}).get(self.api, attribute["name"])
        return str(names if isinstance(names, str) else names[0])  # a list: its first spelling

    def _format_date(self, value: str, kind: str) -> str:
        moment = datetime.datetime.fromisoformat(value)
        form = self._generation["dateForm" if kind == "date" else "datetimeForm"]
        return moment.strftime(form)
