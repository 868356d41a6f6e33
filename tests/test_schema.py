"""The metadata JSON Schema accepts the snapshot and rejects each kind of broken document."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tcia_models._metadata import schema_problems

from .conftest import ROOT

SCHEMA = json.loads((ROOT / "schema" / "tcia-metadata.schema.json").read_text())
SNAPSHOT = {
    path.stem: json.loads(path.read_text())
    for path in sorted((ROOT / "schema" / "metadata").glob("*.json"))
}


def test_snapshot_holds_the_seeds_queries_and_nbias() -> None:
    original = {name for name, doc in SNAPSHOT.items() if "bindaas" in doc["generations"]}
    nbia_only = set(SNAPSHOT) - original
    assert nbia_only == {
        "getSOPInstanceUIDs",
        "getSingleImage",
        "NewPatientsInCollection",
        "NewStudiesInPatientCollection",
        "getPatientByCollectionAndModality",
        "getUpdatedSeries",
        "getSeriesMetaData",
        "getImageWithMD5Hash",
        # NBIA v4's and the unversioned API's own (issue 13)
        "getCollectionValuesAndCounts",
        "getModalityValuesAndCounts",
        "getBodyPartValuesAndCounts",
        "getManufacturerValuesAndCounts",
        "getCollectionDescriptions",
        "getCollectionOrSeriesForDOI",
        "getDicomTags",
        "getSimpleSearch",
        "getManifestForSimpleSearch",
        "getSeriesMetadataList",
    }
    assert all("NBIA has no /metadata" in SNAPSHOT[name]["source"] for name in nbia_only)
    assert original == {
        "getCollectionValues",
        "getModalityValues",
        "getBodyPartValues",
        "getManufacturerValues",
        "getPatient",
        "getPatientStudy",
        "getSeries",
        "getSeriesSize",
        "getImage",
        "ContentsByName",
    }


@pytest.mark.parametrize("query", sorted(SNAPSHOT))
def test_schema_accepts_every_snapshot_document(query: str) -> None:
    assert schema_problems(SNAPSHOT[query], SCHEMA, query=query) == []


def _series() -> dict[str, Any]:
    return copy.deepcopy(SNAPSHOT["getSeries"])


Breakage = Callable[[dict[str, Any]], object]

BREAKAGES: dict[str, tuple[Breakage, str]] = {
    "missing name": (lambda d: d.pop("name"), "'name' is a required property"),
    "unknown top-level key": (lambda d: d.update(extra=1), "Additional properties"),
    "query name with a space": (lambda d: d.update(name="get Series"), "does not match"),
    "attribute name with code": (
        lambda d: d["attributes"][0].update(name='x"); import os #'),
        "does not match",
    ),
    "attribute name starting with a digit": (
        lambda d: d["attributes"][0].update(name="1Series"),
        "does not match",
    ),
    "parameter name with a dot": (
        lambda d: d["queryParameters"][0].update(name="Patient.ID"),
        "does not match",
    ),
    "tag without the space": (
        lambda d: d["attributes"][0].update(dicomTag="0020000E"),
        "does not match",
    ),
    "tag in lower case": (
        lambda d: d["attributes"][0].update(dicomTag="0020 000e"),
        "does not match",
    ),
    "unknown return type": (lambda d: d["returnTypes"].append("PDF"), "is not one of"),
    "no return type": (lambda d: d.update(returnTypes=[]), "should be non-empty"),
    "repeated return type": (lambda d: d["returnTypes"].append("CSV"), "non-unique"),
    "unknown value type": (lambda d: d["attributes"][0].update(type="float"), "is not one of"),
    "attribute without a type": (lambda d: d["attributes"][0].pop("type"), "'type' is a required"),
    "parameter without required flag": (
        lambda d: d["queryParameters"][0].pop("required"),
        "'required' is a required property",
    ),
    "required flag as a string": (
        lambda d: d["queryParameters"][0].update(required="yes"),
        "is not of type 'boolean'",
    ),
    "attributes without a return object": (
        lambda d: d.pop("returnObject"),
        "'returnObject' is a required property",
    ),
    "return object name not a class name": (
        lambda d: d["returnObject"].update(name="series"),
        "does not match",
    ),
}


@pytest.mark.parametrize("case", sorted(BREAKAGES))
def test_schema_rejects_broken_document(case: str) -> None:
    document = _series()
    breakage, expected = BREAKAGES[case]
    breakage(document)
    problems = schema_problems(document, SCHEMA, query="getSeries")
    assert problems, f"{case} was accepted"
    assert any(expected in problem for problem in problems), problems
    assert all(problem.startswith("getSeries: $") for problem in problems)
