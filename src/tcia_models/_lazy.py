"""Lazy attributes of a package, read from its stub: one list serves the type checkers and the
import machinery (scientific-python's lazy_loader does the same; it refuses star imports, which
the package needs for its generated models).

``from .module import Name as Name`` in ``__init__.pyi`` makes ``Name`` load ``.module`` on
first use; what the stub star-imports comes from a fallback module, lazy in its own right.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["attach"]


def attach(
    package: str, init_file: str, fallback: ModuleType
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package``, from its ``__init__.pyi``;
    names the stub star-imports come from ``fallback`` (itself lazy)."""
    with open(os.path.splitext(init_file)[0] + ".pyi", encoding="utf-8") as stub_file:
        stub = ast.parse(stub_file.read())
    where: dict[str, str] = {}
    for node in stub.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            for alias in node.names:
                if alias.name != "*":
                    where[alias.asname or alias.name] = node.module
    names = sorted([*where, *fallback.__all__])

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is not None:
            value = getattr(importlib.import_module(f".{module}", package), name)
        elif name in fallback.__all__:
            value = getattr(fallback, name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)  # found directly from now on
        return value

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__, names
