"""Validation: the JSON Schema first, then the rules a schema cannot express."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from pydicom.datadict import keyword_for_tag, tag_for_keyword

from codegen.errors import CodegenError
from codegen.kinds import PYTHON_TYPES
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
    """Queries that return the same object describe parts of one model: the model is the union
    of their attributes, and each query keeps its own list (so drift is reported per query).
    Only a true contradiction stops codegen: one attribute with two DICOM tags or two
    incompatible types, or one object answered as one row by a query and as many by another."""
    seen: dict[str, dict[str, tuple[str, Mapping[str, Any]]]] = {}
    cardinality: dict[str, tuple[str, str]] = {}
    problems: list[str] = []
    for query, document in documents.items():
        if "returnObject" not in document or not document["attributes"]:
            continue
        model = document["returnObject"]["name"]
        rows = document["returnObject"].get("cardinality", "many")
        first_query, first_rows = cardinality.setdefault(model, (query, rows))
        if rows != first_rows:
            problems.append(
                f"{query}: $.returnObject.cardinality: {rows!r}: {first_query} returns {model} "
                f"with cardinality {first_rows!r}; {query} and {first_query} contradict each other"
            )
        attributes = seen.setdefault(model, {})
        for index, attribute in enumerate(document["attributes"]):
            other_query, other = attributes.setdefault(attribute["name"], (query, attribute))
            if other_query == query:
                continue
            where = f"{query}: $.attributes[{index}]"
            name = f"{model}.{attribute['name']}"
            if attribute["dicomTag"] != other["dicomTag"]:
                problems.append(
                    f"{where}.dicomTag: {attribute['dicomTag']!r}: {other_query} gives {name} "
                    f"the tag {other['dicomTag']!r}; one attribute cannot have two tags "
                    f"({query} and {other_query} contradict each other)"
                )
            kind, other_kind = PYTHON_TYPES[attribute["type"]], PYTHON_TYPES[other["type"]]
            repeated = attribute.get("repeated", False)
            if kind != other_kind or repeated != other.get("repeated", False):
                problems.append(
                    f"{where}.type: {_type_text(attribute)}: {other_query} gives {name} the type "
                    f"{_type_text(other)}; one field cannot hold both "
                    f"({query} and {other_query} contradict each other)"
                )
    return problems


def _type_text(attribute: Mapping[str, Any]) -> str:
    text = repr(attribute["type"])
    return f"list of {text}" if attribute.get("repeated", False) else text


def _name_clashes(documents: Mapping[str, Any]) -> list[str]:
    methods = [snake_case(query) for query in documents]
    return [f"{name}: two queries share this method name" for name in _duplicates(methods)]
