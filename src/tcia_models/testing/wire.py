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

__all__ = ["Dialect"]

Row = dict[str, Any]


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
        spellings: Mapping[str, Any] = self.wire.get("parameters", {})
        self._parameters: dict[str, Mapping[str, Any]] = {
            spellings.get(p["name"], {}).get("name", p["name"]): p
            for p in document["queryParameters"]
        }
        self.string_values = bool(self.wire.get("stringValues", False))
        self.rejects_unknown = bool(generation.get("rejectsUnknownParameters", False))
        # (name, key, type) per attribute, worked out once: render runs once per row, and an
        # archive-scale answer has a million rows.
        temporal = ("date", "datetime")
        self._plain = [
            (a["name"], self._key(a)) for a in self.attributes if a["type"] not in temporal
        ]
        self._dates = [
            (a["name"], self._key(a), a["type"]) for a in self.attributes if a["type"] in temporal
        ]
        # A dataset holds few distinct dates: each is formatted once per dialect.
        self._date = functools.lru_cache(maxsize=65536)(self._format_date)

    def wire_name(self, parameter: str) -> str:
        return str(self.wire.get("parameters", {}).get(parameter, {}).get("name", parameter))

    @property
    def allowed_parameters(self) -> list[str]:
        return [*self._parameters, "format"]

    def unknown_parameters(self, params: Mapping[str, str]) -> list[str]:
        return [name for name in params if name not in self._parameters and name != "format"]

    def canonical_parameters(self, params: Mapping[str, str]) -> dict[str, Any]:
        """Wire names -> the metadata's names; dates parsed with this generation's format.

        Raises ``ValueError`` for a date that is not in that format.
        """
        canonical: dict[str, Any] = {}
        spellings: Mapping[str, Any] = self.wire.get("parameters", {})
        for wire_name, value in params.items():
            parameter = self._parameters.get(wire_name)
            if parameter is None:
                canonical[wire_name] = value
                continue
            name = parameter["name"]
            date_format = spellings.get(name, {}).get("dateFormat")
            if parameter["type"] == "date" and value:
                form = date_format or "%Y-%m-%d"
                try:
                    canonical[name] = datetime.datetime.strptime(value, form).date()
                except ValueError:
                    raise ValueError(
                        f"{wire_name}={value!r} is not a date of the form {form}"
                    ) from None
            else:
                canonical[name] = value
        return canonical

    def columns(self) -> list[tuple[str, str]]:
        return [
            (self._key(a), "string" if self.string_values else a["type"]) for a in self.attributes
        ]

    def render(self, row: Row) -> Row:
        """A projected row, with this generation's keys and value forms."""
        rendered: Row = {
            key: value for name, key in self._plain if (value := row.get(name)) is not None
        }
        for name, key, kind in self._dates:
            value = row.get(name)
            if value is not None:
                rendered[key] = self._date(value, kind) if isinstance(value, str) else value
        if self.string_values:
            return {key: str(value) for key, value in rendered.items()}
        return rendered

    def _key(self, attribute: Mapping[str, Any]) -> str:
        return str(attribute.get("wireNames", {}).get(self.api, attribute["name"]))

    def _format_date(self, value: str, kind: str) -> str:
        moment = datetime.datetime.fromisoformat(value)
        form = self._generation["dateForm" if kind == "date" else "datetimeForm"]
        return moment.strftime(form)
