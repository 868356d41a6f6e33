"""Names the metadata may not give, because the generated code would not import or would
silently shadow something: a schema can say "an identifier", not "an identifier that is free".

Each rule is checked before anything is written, with a message naming the document.
"""

from __future__ import annotations

import builtins
import keyword
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from codegen.naming import constant_case, snake_case

# Modules every generation writes beside the models: a model may not take their file name.
GENERATED_MODULES = frozenset({"__init__", "queries", "methods", "generations", "formats"})

# Names the generated modules import or define at module level: a model (a class in those
# modules' namespace) or a query constant may not take them.
GENERATED_NAMES = frozenset(
    {
        "QuerySpec",
        "ParameterSpec",
        "GenerationWire",
        "WireParameter",
        "ApiGeneration",
        "MappingProxyType",
        "Mapping",
        "Any",
        "Final",
        "Literal",
        "Annotated",
        "TYPE_CHECKING",
        "Path",
        "TCIAModel",
        "Date",
        "DateTime",
        "Field",
        "ConfigDict",
        "AliasChoices",
        "AsyncQueryRunner",
        "SyncQueryRunner",
        "SyncQueries",
        "AsyncQueries",
        "QUERIES",
        "GENERATIONS",
        "DEFAULT_API",
        "ApiName",
        "TabularFormat",
        "annotations",
        "datetime",
        "importlib",
        "os",
    }
)

# Keyword arguments every generated method has besides the query's own parameters.
RESERVED_PARAMETERS = frozenset({"self", "format", "path"})


def _client_attributes() -> frozenset[str]:
    """What the hand-written client defines itself: a query method of the same name would
    shadow it (``close``, ``raw``, ``download_series``, ...) or be shadowed by it."""
    from tcia_models._async.client import AsyncTCIAClient
    from tcia_models._generated.methods import AsyncQueries

    generated = set(vars(AsyncQueries))
    return frozenset(name for name in dir(AsyncTCIAClient) if name not in generated)


def _is_plain_identifier(name: str) -> bool:
    """ASCII letters, digits and underscores: ``isidentifier`` alone admits other scripts,
    and a JSON Schema ``$`` admits a trailing newline."""
    return name.isascii() and name.isidentifier() and "\n" not in name


def name_problems(documents: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    client = _client_attributes()
    for query, document in documents.items():
        names = [("$.name", document["name"])]
        names += [
            (f"$.queryParameters[{i}].name", p["name"])
            for i, p in enumerate(document["queryParameters"])
        ]
        names += [
            (f"$.attributes[{i}].name", a["name"]) for i, a in enumerate(document["attributes"])
        ]
        if "returnObject" in document:
            names.append(("$.returnObject.name", document["returnObject"]["name"]))
        for where, name in names:
            if not _is_plain_identifier(name) or keyword.iskeyword(name):
                problems.append(f"{query}: {where}: {name!r}: not a plain ASCII identifier")
        method = snake_case(document["name"])
        if method in client or method.startswith("_"):
            problems.append(
                f"{query}: $.name: {document['name']!r}: its method {method}() would shadow the "
                "client's own"
            )
        if constant_case(document["name"]) in GENERATED_NAMES:
            problems.append(
                f"{query}: $.name: {document['name']!r}: its constant "
                f"{constant_case(document['name'])} is a name the generated code uses"
            )
        for index, parameter in enumerate(document["queryParameters"]):
            if snake_case(parameter["name"]) in RESERVED_PARAMETERS:
                problems.append(
                    f"{query}: $.queryParameters[{index}].name: {parameter['name']!r}: "
                    f"{snake_case(parameter['name'])}= is a keyword every generated method has"
                )
        model = document.get("returnObject", {}).get("name")
        if model is None:
            continue
        if model in GENERATED_NAMES or model in vars(builtins):
            problems.append(
                f"{query}: $.returnObject.name: {model!r}: a name the generated code or Python "
                "already uses"
            )
        if snake_case(model) in GENERATED_MODULES:
            problems.append(
                f"{query}: $.returnObject.name: {model!r}: its module {snake_case(model)}.py is "
                "one the generator writes"
            )
    problems += _module_collisions(documents)
    return problems


def _module_collisions(documents: Mapping[str, Any]) -> list[str]:
    """Two models whose module files would be one (``SeriesSize`` and ``SERIESSize``)."""
    by_module: dict[str, set[str]] = defaultdict(set)
    for document in documents.values():
        if "returnObject" in document:
            name = document["returnObject"]["name"]
            by_module[snake_case(name)].add(name)
    return [
        f"models {', '.join(sorted(names))}: would share the module {module}.py; rename one"
        for module, names in sorted(by_module.items())
        if len(names) > 1
    ]
