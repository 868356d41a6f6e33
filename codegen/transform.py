"""Metadata documents -> one JSON Schema per model, and the query specs the client uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codegen.naming import constant_case, snake_case
from tcia_models._model import DICOM_TAG_KEY

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
}

# How each metadata `type` is written as a keyword argument annotation.
PARAMETER_ANNOTATIONS = {
    "string": "str",
    "uid": "str",
    "age": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "date": "datetime.date",
    "datetime": "datetime.datetime",
}

# The formats that parse into models, in the order they are offered.
TABULAR_FORMATS = ("json", "csv", "xml")


@dataclass(frozen=True)
class Parameter:
    name: str
    python_name: str
    required: bool
    description: str
    type: str

    @property
    def annotation(self) -> str:
        annotation = PARAMETER_ANNOTATIONS[self.type]
        return annotation if self.required else f"{annotation} | None"


@dataclass(frozen=True)
class Query:
    name: str
    description: str
    parameters: tuple[Parameter, ...]
    formats: tuple[str, ...]
    model: str | None
    model_description: str
    single_row: bool

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
    def is_archive(self) -> bool:
        return self.formats == ("zip",)


def dicom_tag_hex(tag: str) -> str | None:
    """``"0020 000D"`` -> ``"0020000D"``; ``"NA"`` -> ``None``."""
    return None if tag == "NA" else tag.replace(" ", "")


def _one_newline_style(text: str) -> str:
    """Docstrings are written raw by the generator, and Python reads a raw CR as a newline."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def model_schemas(documents: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One JSON Schema per return object, the object at the root, keyed by model name."""
    schemas: dict[str, dict[str, Any]] = {}
    for document in documents.values():
        if not document["attributes"]:
            continue
        model = document["returnObject"]
        properties: dict[str, Any] = {}
        for attribute in document["attributes"]:
            field = dict(_FIELD_SCHEMAS[attribute["type"]])
            if attribute["description"]:
                field["description"] = _one_newline_style(attribute["description"])
            tag = dicom_tag_hex(attribute["dicomTag"])
            if tag:
                field[DICOM_TAG_KEY] = tag
            properties[attribute["name"]] = field
        schemas[model["name"]] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": model["name"],
            "description": _one_newline_style(model["description"]),
            "type": "object",
            "properties": properties,
            "required": [a["name"] for a in document["attributes"] if a.get("required", False)],
        }
    return schemas


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
                    )
                    for p in document["queryParameters"]
                ),
                formats=tuple(f.lower() for f in document["returnTypes"]),
                model=model["name"] if model else None,
                model_description=model["description"] if model else "",
                single_row=bool(model and model.get("cardinality", "many") == "one"),
            )
        )
    return result
