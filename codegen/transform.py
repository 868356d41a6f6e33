"""Metadata documents -> one JSON Schema per model, and the query specs the client uses."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codegen.kinds import PYTHON_TYPES
from codegen.naming import constant_case, snake_case
from codegen.validate import offered_by
from tcia_models._model import DICOM_TAG_KEY, WIRE_NAMES_KEY
from tcia_models.parsing import READERS

# How each metadata `type` is written in the model schemas handed to datamodel-code-generator.
_FIELD_SCHEMAS: dict[str, dict[str, str]] = {
    "string": {"type": "string"},
    "uid": {"type": "string"},
    "age": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "customTypePath": "tcia_models._types.Date"},
    "datetime": {"type": "string", "customTypePath": "tcia_models._types.DateTime"},
    "object": {"type": "object"},
}

# How each metadata `type` is written as a keyword argument annotation: a mapping argument is
# annotated with object values, so the generated methods need no `Any`.
PARAMETER_ANNOTATIONS = {**PYTHON_TYPES, "object": "dict[str, object]"}

# How each metadata `type` is written in the Arrow schemas (counts int64, flags bool, dates date32,
# timestamps in microseconds like datetime.datetime, naive as TCIA sends them).
ARROW_TYPES = {
    "string": "pa.string()",
    "uid": "pa.string()",
    "age": "pa.string()",
    "integer": "pa.int64()",
    "number": "pa.float64()",
    "boolean": "pa.bool_()",
    "date": "pa.date32()",
    "datetime": 'pa.timestamp("us")',
}
ARROW_DICTIONARY = "pa.dictionary(pa.int32(), pa.string())"
_STRING_TYPES = frozenset({"string", "uid", "age"})

# The formats that parse into models: the runtime's one registry of readers.
TABULAR_FORMATS: tuple[str, ...] = tuple(READERS)


@dataclass(frozen=True)
class Parameter:
    name: str
    python_name: str
    required: bool
    description: str
    type: str
    repeated: bool = False
    default: str | int | bool | None = None
    """Sent when the caller gives nothing; the keyword is then optional and not ``None``."""

    @property
    def value_type(self) -> str:
        """The type of the values the keyword takes, without the ``None`` of an optional one."""
        annotation = PARAMETER_ANNOTATIONS[self.type]
        return f"Sequence[{annotation}]" if self.repeated else annotation

    @property
    def annotation(self) -> str:
        optional = not self.required and self.default is None
        return f"{self.value_type} | None" if optional else self.value_type


@dataclass(frozen=True)
class WireParameter:
    name: str
    wire_name: str
    date_format: str | None
    criteria_type: str | None = None
    value_field: str = "value"
    value_offset: int = 0
    separator: str | None = None
    chunk_size: int | None = None
    fill_value: str | None = None


@dataclass(frozen=True)
class GenerationWire:
    api: str
    path: str
    parameters: tuple[WireParameter, ...]
    method: str
    format_parameter: bool = True
    rows: str | None = None


@dataclass(frozen=True)
class Query:
    name: str
    description: str
    parameters: tuple[Parameter, ...]
    formats: tuple[str, ...]
    model: str | None
    model_description: str
    single_row: bool
    generations: tuple[GenerationWire, ...]
    paging: tuple[str, str] | None = None
    """(offset parameter, limit parameter): the query is also offered as an iterator."""
    attributes: tuple[str, ...] = ()
    """The attributes this query's own document lists (its model may hold more: the union of
    every query returning it)."""

    @property
    def method_name(self) -> str:
        return snake_case(self.name)

    @property
    def constant(self) -> str:
        return constant_case(self.name)

    @property
    def tabular_formats(self) -> tuple[str, ...]:
        return tuple(f for f in TABULAR_FORMATS if f in self.formats)

    @property
    def table_formats(self) -> tuple[str, ...]:
        """The formats a table may be read from, CSV first where offered: pyarrow reads it in
        C++, column by column, while it streams in."""
        return tuple(sorted(self.tabular_formats, key=lambda f: f != "csv"))

    @property
    def writes_file(self) -> bool:
        """A ZIP, DICOM or .tcia manifest answer, streamed to a file rather than parsed."""
        return self.formats in (("zip",), ("dicom",), ("tcia",))


def dicom_tag_hex(tag: str) -> str | None:
    """``"0020 000D"`` -> ``"0020000D"``; ``"NA"`` -> ``None``."""
    return None if tag == "NA" else tag.replace(" ", "")


def _one_newline_style(text: str) -> str:
    """Docstrings are written raw by the generator, and Python reads a raw CR as a newline."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass(frozen=True)
class ModelShape:
    """One return object: the union of the attributes of every query returning it."""

    name: str
    description: str
    attributes: tuple[Mapping[str, Any], ...]
    queries: tuple[str, ...]
    """The queries returning it, in snapshot order."""


def model_shapes(documents: Mapping[str, Any]) -> dict[str, ModelShape]:
    """Model name -> its shape. Attributes come in the order they first appear; a field is
    required only where every query returning the model marks it required (a query that does
    not send it at all makes it optional); the description is the first one that is not empty.
    validate_documents has already refused two tags or two incompatible types for one name."""
    found: dict[str, tuple[str, dict[str, dict[str, Any]], list[str]]] = {}
    for query, document in documents.items():
        if not document["attributes"]:
            continue
        model = document["returnObject"]
        _, attributes, queries = found.setdefault(model["name"], (model["description"], {}, []))
        queries.append(query)
        for attribute in document["attributes"]:
            merged = attributes.get(attribute["name"])
            if merged is None:
                merged = attributes[attribute["name"]] = dict(attribute)
                merged["_in"] = 1
                continue
            merged["_in"] += 1
            merged["required"] = merged.get("required", False) and attribute.get("required", False)
            if not merged["description"]:
                merged["description"] = attribute["description"]
    shapes: dict[str, ModelShape] = {}
    for name, (description, attributes, queries) in found.items():
        union: list[Mapping[str, Any]] = []
        for attribute in attributes.values():
            sent_by_all = attribute.pop("_in") == len(queries)
            attribute["required"] = sent_by_all and attribute.get("required", False)
            union.append(attribute)
        shapes[name] = ModelShape(name, description, tuple(union), tuple(queries))
    return shapes


def model_schemas(documents: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One JSON Schema per return object, the object at the root, keyed by model name."""
    schemas: dict[str, dict[str, Any]] = {}
    wire_names = _wire_names_per_model(documents)
    for model in model_shapes(documents).values():
        properties: dict[str, Any] = {}
        for attribute in model.attributes:
            field: dict[str, Any] = dict(_FIELD_SCHEMAS[attribute["type"]])
            if attribute.get("repeated", False):
                field = {"type": "array", "items": field}
            if attribute["description"]:
                field["description"] = _one_newline_style(attribute["description"])
            tag = dicom_tag_hex(attribute["dicomTag"])
            if tag:
                field[DICOM_TAG_KEY] = tag
            aliases = wire_names[model.name].get(attribute["name"])
            if aliases:
                field[WIRE_NAMES_KEY] = aliases
            properties[attribute["name"]] = field
        schemas[model.name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": model.name,
            "description": _one_newline_style(model.description),
            "type": "object",
            "properties": properties,
            "required": [a["name"] for a in model.attributes if a["required"]],
        }
    return schemas


def wire_spellings(attribute: Mapping[str, Any]) -> dict[str, list[str]]:
    """Generation -> every key it sends the attribute under (a document may give one or a list)."""
    spellings: dict[str, list[str]] = {}
    for generation, names in attribute.get("wireNames", {}).items():
        spellings[generation] = [names] if isinstance(names, str) else list(names)
    return spellings


def _wire_names_per_model(documents: Mapping[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Every other key each attribute arrives under, over all queries returning the model."""
    names: dict[str, dict[str, set[str]]] = {}
    for document in documents.values():
        if not document["attributes"]:
            continue
        model = names.setdefault(document["returnObject"]["name"], {})
        for attribute in document["attributes"]:
            for spellings in wire_spellings(attribute).values():
                for wire in spellings:
                    if wire != attribute["name"]:
                        model.setdefault(attribute["name"], set()).add(wire)
    return {m: {a: sorted(w) for a, w in attrs.items()} for m, attrs in names.items()}


def _generations(document: Mapping[str, Any]) -> tuple[GenerationWire, ...]:
    wires: list[GenerationWire] = []
    for api, wire in offered_by(document).items():
        parameters = tuple(
            WireParameter(
                name,
                spelling.get("name", name),
                spelling.get("dateFormat"),
                criteria_type=spelling.get("criteriaType"),
                value_field=spelling.get("valueField", "value"),
                value_offset=spelling.get("valueOffset", 0),
                separator=spelling.get("separator"),
                chunk_size=spelling.get("chunkSize"),
                fill_value=spelling.get("fillValue"),
            )
            for name, spelling in wire.get("parameters", {}).items()
        )
        path = wire.get("path", document["name"])
        wires.append(
            GenerationWire(
                api,
                path,
                parameters,
                wire.get("method", "GET"),
                format_parameter=wire.get("formatParameter", True),
                rows=wire.get("rows"),
            )
        )
    return tuple(wires)


def queries(documents: Mapping[str, Any]) -> list[Query]:
    result: list[Query] = []
    for document in documents.values():
        model = document.get("returnObject") if document["attributes"] else None
        result.append(
            Query(
                name=document["name"],
                description=document["description"],
                parameters=tuple(
                    Parameter(
                        name=p["name"],
                        python_name=snake_case(p["name"]),
                        required=p["required"],
                        description=p["description"],
                        type=p["type"],
                        repeated=p.get("repeated", False),
                        default=p.get("default"),
                    )
                    for p in document["queryParameters"]
                ),
                formats=tuple(f.lower() for f in document["returnTypes"]),
                model=model["name"] if model else None,
                model_description=model["description"] if model else "",
                single_row=bool(model and model.get("cardinality", "many") == "one"),
                generations=_generations(document),
                paging=(
                    (document["paging"]["offset"], document["paging"]["limit"])
                    if "paging" in document
                    else None
                ),
                attributes=tuple(a["name"] for a in document["attributes"]),
            )
        )
    return result


def field_aliases(documents: Mapping[str, Any]) -> dict[str, list[str]]:
    """``Model.Field`` -> every key the field arrives under (its own name first), for
    datamodel-code-generator's ``aliases`` (``validation_alias=AliasChoices(...)``)."""
    return {
        f"{model}.{name}": [name, *wires]
        for model, attributes in sorted(_wire_names_per_model(documents).items())
        for name, wires in sorted(attributes.items())
    }


@dataclass(frozen=True)
class ArrowField:
    name: str
    type: str
    """pyarrow code for the type, e.g. ``pa.int64()``."""
    nullable: bool
    metadata: tuple[tuple[str, str], ...]


def arrow_fields(
    documents: Mapping[str, Any], tables: Mapping[str, Any]
) -> dict[str, tuple[str, tuple[ArrowField, ...]]]:
    """Model name -> (its description, one Arrow field per attribute), in the models' order;
    ``tables`` is schema/tables.json (which string attributes are dictionary-encoded)."""
    dictionary = set(tables["dictionaryEncoded"]["attributes"])
    wire_names = _wire_names_per_model(documents)
    result: dict[str, tuple[str, tuple[ArrowField, ...]]] = {}
    for model in model_shapes(documents).values():
        if any(a["type"] == "object" for a in model.attributes):
            continue  # nested answers (a search's patients with their studies) have no table form
        fields: list[ArrowField] = []
        for attribute in model.attributes:
            name, kind = attribute["name"], attribute["type"]
            encoded = name in dictionary and kind in _STRING_TYPES
            metadata: list[tuple[str, str]] = []
            tag = dicom_tag_hex(attribute["dicomTag"])
            if tag:
                metadata.append((DICOM_TAG_KEY, tag))
            if attribute["description"]:
                metadata.append(("description", _one_newline_style(attribute["description"])))
            aliases = wire_names[model.name].get(name)
            if aliases:
                metadata.append((WIRE_NAMES_KEY, json.dumps(aliases)))
            fields.append(
                ArrowField(
                    name,
                    ARROW_DICTIONARY if encoded else ARROW_TYPES[kind],
                    not attribute["required"],
                    tuple(metadata),
                )
            )
        result[model.name] = (_one_newline_style(model.description), tuple(fields))
    return result


def table_problems(documents: Mapping[str, Any], tables: Mapping[str, Any]) -> list[str]:
    """schema/tables.json names only string attributes that exist, so the list cannot rot."""
    kinds: dict[str, set[str]] = {}
    for document in documents.values():
        for attribute in document["attributes"]:
            kinds.setdefault(attribute["name"], set()).add(attribute["type"])
    problems: list[str] = []
    for name in tables["dictionaryEncoded"]["attributes"]:
        if name not in kinds:
            problems.append(f"tables.json: {name!r} is no attribute of any query; remove it")
        elif not kinds[name] <= _STRING_TYPES:
            problems.append(
                f"tables.json: {name!r} is of type {', '.join(sorted(kinds[name]))}; only "
                "string attributes can be dictionary-encoded"
            )
    return problems
