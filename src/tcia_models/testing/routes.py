"""Which generation and query a URL path names, read from schema/generations.json as the client
reads it: each generation's base URL (and its alternates) is a path prefix; its token endpoint
and, where it serves them, the ``/metadata`` documents hang off it."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

__all__ = ["CONTROL_PATH", "Route", "Router"]

CONTROL_PATH = "/_tcia_test/faults"

RouteKind = Literal["query", "metadata", "token", "control", "unknown"]


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    api: str | None = None
    query: str | None = None
    """The query (its metadata name), when the path names one this generation offers."""


def _path_of(url: str) -> str:
    return "/" + urlsplit(url).path.strip("/")


class Router:
    def __init__(
        self,
        generations: Mapping[str, Mapping[str, Any]],
        documents: Mapping[str, Mapping[str, Any]],
        *,
        base_paths: Mapping[str, str],
    ) -> None:
        """``base_paths`` overrides a generation's path (the server's ``path=`` option)."""
        self.generations = generations
        self.base_paths = {
            api: base_paths.get(api, _path_of(generation["baseUrl"]))
            for api, generation in generations.items()
        }
        prefixes = [(path, api) for api, path in self.base_paths.items()]
        self._token_paths: set[str] = set()
        self._metadata: set[str] = set()
        for api, generation in generations.items():
            prefixes += [(_path_of(url), api) for url in generation.get("alternateBaseUrls", [])]
            base = self.base_paths[api]
            for token in [generation.get("tokenPath"), *generation.get("alternateTokenPaths", [])]:
                if token:
                    self._token_paths.add(posixpath.normpath(posixpath.join(base, token)))
            if generation.get("servesMetadata", False):
                self._metadata.add(api)
        # Longest first: /nbia-api/services/v1 before the unversioned /nbia-api/services.
        self._prefixes = sorted(prefixes, key=lambda item: -len(item[0]))
        self._paths: dict[tuple[str, str], str] = {}
        for query, document in documents.items():
            offered: Mapping[str, Any] = document.get("generations") or {"bindaas": {}}
            for api, wire in offered.items():
                wire_path = str(wire.get("path", query))
                if not wire_path.startswith("../"):  # served where its own generation lives
                    self._paths[(api, wire_path)] = query

    def route(self, path: str) -> Route:
        if path == CONTROL_PATH:
            return Route("control")
        if path in self._token_paths:
            return Route("token")
        for prefix, api in self._prefixes:
            if not path.startswith(prefix + "/"):
                continue
            name, _, rest = path[len(prefix) + 1 :].partition("/")
            if rest == "metadata" and api in self._metadata:
                query = self._paths.get((api, name))
                return Route("metadata", api, query) if query else Route("unknown", api)
            if rest:
                return Route("unknown", api)
            return Route("query", api, self._paths.get((api, name)))
        return Route("unknown")
