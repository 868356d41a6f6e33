"""Metadata documents: the packaged snapshot, schema validation, and what changed between two sets.

Shared by ``python -m codegen --check`` and ``tcia drift``: both compare the metadata the models
were generated from with another set of documents and report per query what was added, removed
or changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

__all__ = [
    "Change",
    "PackagedMetadata",
    "QueryDrift",
    "compare_documents",
    "format_drift",
    "packaged_metadata",
    "schema_problems",
]

Document = Mapping[str, Any]


@dataclass(frozen=True)
class PackagedMetadata:
    """The schema and documents the installed models were generated from."""

    schema: Mapping[str, Any]
    documents: Mapping[str, Document]
    generations: Mapping[str, Any]
    """schema/generations.json: each API generation's base URL, auth and value forms."""


def packaged_metadata() -> PackagedMetadata:
    raw = resources.files("tcia_models._generated").joinpath("metadata.json").read_text("utf-8")
    data = json.loads(raw)
    return PackagedMetadata(
        schema=data["schema"], documents=data["documents"], generations=data["generations"]
    )


def schema_problems(document: object, schema: Mapping[str, Any], *, query: str) -> list[str]:
    """Every way ``document`` breaks ``schema``, as ``query: $.json.path: value: reason`` lines."""
    import jsonschema  # imported here: only validation needs it, and it is slow to import

    validator = jsonschema.Draft202012Validator(schema)
    problems: list[str] = []
    errors: list[jsonschema.ValidationError] = list(validator.iter_errors(document))  # pyright: ignore[reportUnknownMemberType, reportArgumentType]
    for error in sorted(errors, key=lambda e: list(map(str, e.path))):
        value = json.dumps(error.instance, ensure_ascii=False)
        if len(value) > 80:
            value = value[:77] + "..."
        problems.append(f"{query}: {error.json_path}: {value}: {error.message}")
    return problems


ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Change:
    """One difference inside a query's metadata."""

    kind: ChangeKind
    what: str
    """``attribute``, ``parameter``, ``return type`` or ``query``."""
    name: str
    details: tuple[str, ...] = ()

    def describe(self) -> str:
        text = f"{self.what} {self.name} {self.kind}"
        return f"{text}: {'; '.join(self.details)}" if self.details else text

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "what": self.what, "name": self.name, "details": self.details}


@dataclass(frozen=True)
class QueryDrift:
    query: str
    status: ChangeKind
    changes: list[Change] = field(default_factory=list[Change])

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "status": self.status,
            "changes": [change.as_dict() for change in self.changes],
        }


_ATTRIBUTE_FIELDS = ("dicomTag", "type", "required", "description", "wireNames")
_PARAMETER_FIELDS = ("required", "type", "description")
_FIELD_LABELS = {
    "dicomTag": "tag",
    "type": "type",
    "required": "required",
    "description": "description",
    "wireNames": "wire names",
}


def _by_name(items: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(item["name"]): item for item in items}


def _compare_items(
    what: str,
    old: Iterable[Mapping[str, Any]],
    new: Iterable[Mapping[str, Any]],
    fields: tuple[str, ...],
) -> list[Change]:
    before, after = _by_name(old), _by_name(new)
    changes = [Change("removed", what, name) for name in before if name not in after]
    for name, item in after.items():
        if name not in before:
            summary = tuple(
                f"{_FIELD_LABELS[key]} {item[key]!r}" for key in fields[:2] if key in item
            )
            changes.append(Change("added", what, name, summary))
            continue
        details = tuple(
            f"{_FIELD_LABELS[key]} {before[name].get(key)!r} -> {item.get(key)!r}"
            for key in fields
            if before[name].get(key, False) != item.get(key, False)
        )
        if details:
            changes.append(Change("changed", what, name, details))
    return changes


def compare_documents(old: Mapping[str, Document], new: Mapping[str, Document]) -> list[QueryDrift]:
    """What changed from ``old`` to ``new`` (both keyed by query name), query by query."""
    drifts = [QueryDrift(name, "removed") for name in old if name not in new]
    for name, document in new.items():
        if name not in old:
            drifts.append(QueryDrift(name, "added"))
            continue
        before = old[name]
        changes = _compare_items(
            "parameter", before["queryParameters"], document["queryParameters"], _PARAMETER_FIELDS
        )
        changes += _compare_items(
            "attribute", before["attributes"], document["attributes"], _ATTRIBUTE_FIELDS
        )
        old_types, new_types = set(before["returnTypes"]), set(document["returnTypes"])
        changes += [Change("removed", "return type", t) for t in sorted(old_types - new_types)]
        changes += [Change("added", "return type", t) for t in sorted(new_types - old_types)]
        for key in ("description", "returnObject"):
            if before.get(key) != document.get(key):
                changes.append(
                    Change(
                        "changed", "query", key, (f"{before.get(key)!r} -> {document.get(key)!r}",)
                    )
                )
        if changes:
            drifts.append(QueryDrift(name, "changed", changes))
    return sorted(drifts, key=lambda drift: drift.query)


def format_drift(drifts: list[QueryDrift]) -> str:
    """A readable report, one block per query."""
    if not drifts:
        return "No drift: every query's metadata matches."
    lines: list[str] = []
    for drift in drifts:
        if drift.status != "changed":
            lines.append(f"{drift.query}: query {drift.status}")
            continue
        lines.append(f"{drift.query}:")
        lines.extend(f"  {change.describe()}" for change in drift.changes)
    return "\n".join(lines)
