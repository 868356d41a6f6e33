"""Which server, generation and query a URL path names, read from schema/generations.json as
the client reads it: each generation's base URL (and its alternates) is a path prefix, under
each server that offers it (NLST's own host is served under ``/nlst``); its token and logout
endpoints and, where it serves them, the ``/metadata`` documents hang off it."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

__all__ = ["CONTROL_PATH", "Route", "Router"]

CONTROL_PATH = "/_tcia_test/faults"

RouteKind = Literal["query", "metadata", "token", "logout", "control", "unknown"]


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    api: str | None = None
    query: str | None = None
    """The query (its metadata name), when the path names one this generation offers."""
    server: str | None = None
    """The server whose copy of the archive answers (``tcia``, ``nlst``)."""


def _path_of(url: str) -> str:
    return "/" + urlsplit(url).path.strip("/")


class Router:
    def __init__(
        self,
        generations: Mapping[str, Mapping[str, Any]],
        documents: Mapping[str, Mapping[str, Any]],
        *,
        base_paths: Mapping[str, str],
        servers: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """``base_paths`` overrides a generation's path (the server's ``path=`` option). The
        first server is at the root; every other one under ``/<its name>``."""
        self.generations = generations
        self.servers = servers
        default_server = next(iter(servers))
        self.base_paths = {
            api: base_paths.get(api, _path_of(generation["baseUrl"]))
            for api, generation in generations.items()
        }
        self.server_prefixes = {
            name: "" if name == default_server else f"/{name}" for name in servers
        }
        self._token_paths: set[str] = set()
        self._logout_paths: set[str] = set()
        self._metadata: set[str] = set()
        self._exact: dict[str, Route] = {}
        prefixes: list[tuple[str, str, str]] = []
        for server, spec in servers.items():
            root = self.server_prefixes[server]
            for api in spec["generations"]:
                generation = generations[api]
                bases = [
                    self.base_paths[api],
                    *(_path_of(url) for url in generation.get("alternateBaseUrls", [])),
                ]
                prefixes += [(root + base, api, server) for base in bases]
                own = root + self.base_paths[api]
                tokens = [generation.get("tokenPath"), *generation.get("alternateTokenPaths", [])]
                for token in filter(None, tokens):
                    self._token_paths.add(_join(own, token))
                    # NBIA's logout resource sits beside oauth/ (KeycloakLogout, @Path /logout).
                    self._logout_paths.add(_join(_join(own, token), "../../logout"))
                if generation.get("servesMetadata", False):
                    self._metadata.add(api)
                for base in bases:
                    self._add_queries(documents, api, server, root + base)
        # Longest first: /nbia-api/services/v1 before the unversioned /nbia-api/services.
        self._prefixes = sorted(prefixes, key=lambda item: -len(item[0]))
        self._queries: dict[str, set[str]] = {}
        for query, document in documents.items():
            for api in document.get("generations") or {"bindaas": {}}:
                self._queries.setdefault(api, set()).add(query)

    def _add_queries(
        self, documents: Mapping[str, Mapping[str, Any]], api: str, server: str, base: str
    ) -> None:
        """Every query of ``api``, at the path its wire names under ``base``. A path of another
        generation's (``../v1/getContentsByName``) is left to that generation, which answers
        it; a path of another resource (``../../SharedList/query/ContentsByName``) is served
        here."""
        for query, document in documents.items():
            offered: Mapping[str, Any] = document.get("generations") or {"bindaas": {}}
            wire: Mapping[str, Any] | None = offered.get(api)
            if wire is None:
                continue
            path = _join(base + "/", str(wire.get("path", query)))
            route = Route("query", api, query, server)
            if path.startswith(base + "/"):
                self._exact[path] = route
            elif not any(path.startswith(other + "/") for other in self._all_bases(server)):
                self._exact.setdefault(path, route)

    def _all_bases(self, server: str) -> list[str]:
        root = self.server_prefixes[server]
        return [root + self.base_paths[api] for api in self.servers[server]["generations"]]

    def route(self, path: str) -> Route:
        if path == CONTROL_PATH:
            return Route("control")
        if path in self._token_paths:
            return Route("token")
        if path in self._logout_paths:
            return Route("logout")
        if path in self._exact:
            return self._exact[path]
        for prefix, api, server in self._prefixes:
            if not path.startswith(prefix + "/"):
                continue
            name, _, rest = path[len(prefix) + 1 :].partition("/")
            if rest == "metadata" and api in self._metadata:
                offered = name in self._queries.get(api, set())
                return Route("metadata", api, name, server) if offered else Route("unknown", api)
            return Route("query", api, None, server)
        return Route("unknown")


def _join(base: str, relative: str) -> str:
    return posixpath.normpath(posixpath.join(base, relative))
