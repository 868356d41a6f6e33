"""Metadata that passes the schema yet would make code that does not import, or that shadows the
client's own methods, is refused by codegen before anything is written (issue 11); whatever it
accepts, imports."""

from __future__ import annotations

import copy
import importlib
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.config import CodegenConfig
from codegen.errors import CodegenError
from codegen.render import render
from codegen.sources import read_snapshot
from codegen.validate import validate_documents

CONFIG = CodegenConfig.load()
SCHEMA = json.loads(CONFIG.schema_path.read_text())
GENERATIONS = json.loads(CONFIG.generations.read_text())
GENERATIONS_SCHEMA = json.loads(CONFIG.generations_schema.read_text())
TABLES = json.loads(CONFIG.tables.read_text())
SNAPSHOT = read_snapshot(CONFIG.snapshot)


def _documents() -> dict[str, Any]:
    return copy.deepcopy(SNAPSHOT)


def _refusal(documents: dict[str, Any]) -> str:
    with pytest.raises(CodegenError) as raised:
        validate_documents(documents, SCHEMA, GENERATIONS, GENERATIONS_SCHEMA)
    return str(raised.value)


def _rename_query(documents: dict[str, Any], old: str, new: str) -> None:
    document = documents.pop(old)
    document["name"] = new
    documents[new] = document


@pytest.mark.parametrize("query", ["queries", "close", "download_series", "raw", "downloadMany"])
def test_a_query_whose_method_or_constant_is_taken_is_refused(query: str) -> None:
    documents = _documents()
    _rename_query(documents, "getModalityValues", query)
    assert "shadow the client's own" in _refusal(documents) or "constant" in _refusal(documents)


def test_a_parameter_named_path_on_an_archive_query_is_refused() -> None:
    documents = _documents()
    documents["getImage"]["queryParameters"].append(
        {"name": "path", "required": False, "description": "x", "type": "string"}
    )
    assert "path= is a keyword every generated method has" in _refusal(documents)


@pytest.mark.parametrize(
    "model", ["QuerySpec", "Date", "Queries", "Methods", "TCIAModel", "None", "True", "Exception"]
)
def test_a_return_object_named_like_the_generated_code_is_refused(model: str) -> None:
    documents = _documents()
    documents["getModalityValues"]["returnObject"]["name"] = model
    problems = _refusal(documents)
    assert "getModalityValues: $.returnObject.name" in problems or model in problems


def test_two_models_that_would_share_a_module_file_are_refused() -> None:
    documents = _documents()
    documents["getModalityValues"]["returnObject"]["name"] = "SERIESSize"
    assert "SERIESSize, SeriesSize: would share the module series_size.py" in _refusal(documents)


@pytest.mark.parametrize("where", ["query", "parameter", "attribute", "model"])
def test_a_name_with_a_trailing_newline_is_refused(where: str) -> None:
    documents = _documents()
    document = documents["getSeries"]
    if where == "query":
        _rename_query(documents, "getSeries", "getSeries\n")
    elif where == "parameter":
        document["queryParameters"][0]["name"] = "Collection\n"
    elif where == "attribute":
        document["attributes"][3]["name"] = "ProtocolName\n"
    else:
        document["returnObject"]["name"] = "Series\n"
    assert "\\n" in _refusal(documents)


# Whatever is accepted imports -----------------------------------------------------------------

_CANDIDATES = [
    "queries",
    "close",
    "raw",
    "QUERIES",
    "Queries",
    "Date",
    "path",
    "format",
    "self",
    "Any",
    "Mapping",
    "Field",
    "Path",
    "os",
    "datetime",
    "importlib",
    "class",
    "None",
    "True",
    "list",
    "SeriesSize",
    "SERIESSize",
    "Series",
    "x\n",
    "é",
    "Ünïcode",
    "_private",
    "A" * 64,
    "Z9",
    "getSeries",
    "get_series",
    "GetSeries",
    "annotations",
    "TYPE_CHECKING",
    "AliasChoices",
]
_names = st.one_of(
    st.sampled_from(_CANDIDATES),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,12}", fullmatch=True),
)
_counter = itertools.count()


@st.composite
def hostile_documents(draw: st.DrawFn) -> dict[str, Any]:
    documents = _documents()
    for _ in range(draw(st.integers(1, 3))):
        query = draw(st.sampled_from(sorted(documents)))
        document = documents[query]
        where = draw(st.sampled_from(["query", "parameter", "attribute", "model"]))
        name = draw(_names)
        if where == "query" and name not in documents:
            _rename_query(documents, query, name)
        elif where == "parameter" and document["queryParameters"]:
            document["queryParameters"][0]["name"] = name
        elif where == "attribute" and document["attributes"]:
            document["attributes"][-1]["name"] = name
        elif where == "model" and "returnObject" in document:
            document["returnObject"]["name"] = name
    return documents


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(documents=hostile_documents())
def test_every_document_codegen_accepts_generates_code_that_imports(
    tmp_path_factory: pytest.TempPathFactory, documents: dict[str, Any]
) -> None:
    try:
        validate_documents(documents, SCHEMA, GENERATIONS, GENERATIONS_SCHEMA)
    except CodegenError:
        return  # refused before anything was written: fine
    root = tmp_path_factory.mktemp("generated")
    package = f"accepted_{next(_counter)}"
    (root / package).mkdir()
    for name, text in render(documents, SCHEMA, GENERATIONS, TABLES).items():
        (root / package / name).write_text(text)
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(package)
        for name in module.__all__:
            getattr(module, name)  # every lazily loaded module imports
        for spec in module.QUERIES.values():
            assert callable(getattr(module.SyncQueries, spec.method_name))
            if spec.model is not None:
                spec.model.model_json_schema()  # the model builds
    finally:
        sys.path.remove(str(root))
        for loaded in [m for m in sys.modules if m.split(".")[0] == package]:
            del sys.modules[loaded]


def test_the_real_snapshot_is_accepted() -> None:
    validate_documents(_documents(), SCHEMA, GENERATIONS, GENERATIONS_SCHEMA)
    assert Path(CONFIG.output, "__init__.py").exists()


def test_what_a_killed_codegen_left_is_removed_by_the_next_run(project_copy: Path) -> None:
    """Staging and retired folders have fixed names, so a run killed midway leaves nothing the
    next run does not clean up; one killed between its two renames gets its output back."""
    from .conftest import run_codegen

    output = project_copy / "src" / "tcia_models" / "_generated"
    staging = output.with_name("._generated.codegen-staging")
    staging.mkdir()
    (staging / "half-written.py").write_text("x =")
    retired = output.with_name("._generated.codegen-old")
    output.rename(retired)  # killed after the first rename
    result = run_codegen(project_copy)
    assert result.returncode == 0, result.stderr
    assert not staging.exists() and not retired.exists()
    assert (output / "__init__.py").exists()
    assert run_codegen(project_copy, "--check").returncode == 0
