"""Validation: the JSON Schema first, then the rules a schema cannot express."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from pydicom.datadict import keyword_for_tag, tag_for_keyword

from codegen.errors import CodegenError
from codegen.naming import snake_case
from codegen.reserved import name_problems
from tcia_models._metadata import schema_problems


def validate_documents(
    documents: Mapping[str, Any],
    schema: Mapping[str, Any],
    generations: Mapping[str, Any] | None = None,
    generations_schema: Mapping[str, Any] | None = None,
) -> None:
    """Raise ``CodegenError`` listing every problem; return only when all documents are sound."""
    problems: list[str] = []
    if generations is not None and generations_schema is not None:
        problems += schema_problems(generations, generations_schema, query="generations.json")
    for query, document in documents.items():
        problems += schema_problems(document, schema, query=query)
    if not problems:
        for query, document in documents.items():
            problems += _document_problems(query, document)
            if generations is not None:
                problems += _generation_problems(query, document, generations["generations"])
        problems += _shared_model_problems(documents)
        problems += _name_clashes(documents)
        problems += name_problems(documents)
        if generations is not None and generations["default"] not in generations["generations"]:
            problems.append(
                f"generations.json: $.default: {generations['default']!r}: no such generation"
            )
        for server, spec in (generations or {}).get("servers", {}).items():
            for api in spec["generations"]:
                if api not in generations["generations"]:  # type: ignore[index]
                    problems.append(
                        f"generations.json: $.servers.{server}: {api!r}: no such generation"
                    )
    if problems:
        raise CodegenError("invalid metadata, nothing written:\n  " + "\n  ".join(problems))


def offered_by(document: Mapping[str, Any]) -> dict[str, Any]:
    """The generations offering a query (the original API when the document does not say)."""
    return dict(document.get("generations") or {"bindaas": {}})


def _generation_problems(
    query: str, document: Mapping[str, Any], known: Mapping[str, Any]
) -> list[str]:
    problems: list[str] = []
    offered = offered_by(document)
    parameters = {p["name"] for p in document["queryParameters"]}
    for generation, wire in offered.items():
        if generation not in known:
            problems.append(f"{query}: $.generations: {generation!r}: not in generations.json")
        for name in wire.get("parameters", {}):
            if name not in parameters:
                problems.append(
                    f"{query}: $.generations.{generation}.parameters: {name!r}: no such parameter"
                )
    for index, attribute in enumerate(document["attributes"]):
        for generation in [*attribute.get("generations", []), *attribute.get("wireNames", {})]:
            if generation not in offered:
                problems.append(
                    f"{query}: $.attributes[{index}]: {generation!r}: not a generation of the query"
                )
    return problems


def _duplicates(names: list[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def _document_problems(query: str, document: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    if document["name"] != query:
        problems.append(
            f"{query}: $.name: {document['name']!r}: does not match the query it was served for"
        )
    parameters = [p["name"] for p in document["queryParameters"]]
    for name in _duplicates(parameters):
        problems.append(f"{query}: $.queryParameters: {name!r}: duplicate parameter name")
    for name in _duplicates([snake_case(name) for name in parameters]):
        problems.append(
            f"{query}: $.queryParameters: {name!r}: two parameters share this Python name"
        )
    for role, name in document.get("paging", {}).items():
        if name not in parameters:
            problems.append(f"{query}: $.paging.{role}: {name!r}: no such parameter")
    attributes = [a["name"] for a in document["attributes"]]
    for name in _duplicates(attributes):
        problems.append(f"{query}: $.attributes: {name!r}: duplicate attribute name")
    for index, attribute in enumerate(document["attributes"]):
        problem = _tag_problem(attribute["name"], attribute["dicomTag"])
        if problem:
            problems.append(
                f"{query}: $.attributes[{index}].dicomTag: {attribute['dicomTag']!r}: {problem}"
            )
    return problems


def _tag_problem(name: str, tag_text: str) -> str | None:
    """A tag must agree with pydicom's data dictionary, both ways."""
    keyword_tag = tag_for_keyword(name)
    if tag_text == "NA":
        return None
    tag = int(tag_text.replace(" ", ""), 16)
    if keyword_tag is not None and keyword_tag != tag:
        group, element = keyword_tag >> 16, keyword_tag & 0xFFFF
        return f"{name} is ({group:04X},{element:04X}) in the DICOM dictionary"
    dictionary_keyword = keyword_for_tag(tag)
    if dictionary_keyword and dictionary_keyword != name:
        return f"this tag is {dictionary_keyword} in the DICOM dictionary, not {name}"
    return None


def _shared_model_problems(documents: Mapping[str, Any]) -> list[str]:
    """Queries that return the same object must describe it the same way (one model each)."""
    first_seen: dict[str, tuple[str, Any]] = {}
    problems: list[str] = []
    for query, document in documents.items():
        if "returnObject" not in document:
            continue
        model = document["returnObject"]["name"]
        # Wire names and generations are facts of each query (ContentsByName's "Date Released",
        # PatientBirthDate on the original API only); the model takes them all.
        per_query = ("wireNames", "generations")
        attributes = [
            {k: v for k, v in a.items() if k not in per_query} for a in document["attributes"]
        ]
        shape = (document["returnObject"], attributes)
        if model not in first_seen:
            first_seen[model] = (query, shape)
        elif first_seen[model][1] != shape:
            problems.append(
                f"{query}: $.returnObject: {model!r}: {first_seen[model][0]} returns {model} "
                "with other attributes; queries sharing a return object must agree"
            )
    return problems


def _name_clashes(documents: Mapping[str, Any]) -> list[str]:
    methods = [snake_case(query) for query in documents]
    return [f"{name}: two queries share this method name" for name in _duplicates(methods)]
