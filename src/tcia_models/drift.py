"""Drift check: does a TCIA server's metadata still match what these models were generated from?

``tcia drift`` runs this; a user's CI can too: ``check_drift(base_url)`` fetches every query's
``/metadata``, validates it against the schema the installed package carries, and compares it
with the installed package's own snapshot.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._constants import API_KEY_ENV, API_KEY_HEADER, BASE_URL_ENV
from ._exceptions import TCIAError
from ._generated import GENERATIONS
from ._metadata import (
    QueryDrift,
    compare_documents,
    format_drift,
    packaged_metadata,
    schema_problems,
)

__all__ = ["DriftCheckError", "DriftReport", "check_drift"]


class DriftCheckError(TCIAError):
    """The check itself could not run: the server is unreachable, refused us, or sent documents
    that break the metadata schema."""


@dataclass(frozen=True)
class DriftReport:
    base_url: str
    drifts: list[QueryDrift] = field(default_factory=list[QueryDrift])

    @property
    def drifted(self) -> bool:
        return bool(self.drifts)

    def as_text(self) -> str:
        head = f"Metadata at {self.base_url} compared with the installed models:"
        return f"{head}\n{format_drift(self.drifts)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "drift": self.drifted,
            "queries": [drift.as_dict() for drift in self.drifts],
        }


def check_drift(
    base_url: str | None = None, *, api_key: str | None = None, timeout: float = 30.0
) -> DriftReport:
    """Compare the server's metadata with the packaged snapshot; raise ``DriftCheckError`` when
    the comparison cannot be made."""
    # Only the original (Bindaas) API serves /metadata.
    base = (base_url or os.environ.get(BASE_URL_ENV) or GENERATIONS["bindaas"].base_url).rstrip("/")
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    packaged = packaged_metadata()
    # NBIA has no /metadata: its queries' documents are checked with `tcia drift --responses`.
    served = {
        name: document
        for name, document in packaged.documents.items()
        if "bindaas" in (document.get("generations") or {"bindaas": {}})
    }
    fetched = _fetch(base, key, list(served), timeout)
    problems = [
        problem
        for query, document in fetched.items()
        for problem in schema_problems(document, packaged.schema, query=query)
    ]
    if problems:
        raise DriftCheckError(
            "the server's metadata breaks the schema, so it cannot be compared:\n  "
            + "\n  ".join(problems)
        )
    return DriftReport(base, compare_documents(served, fetched))


def _fetch(base: str, api_key: str | None, queries: list[str], timeout: float) -> Mapping[str, Any]:
    headers = {API_KEY_HEADER: api_key} if api_key else {}
    documents: dict[str, Any] = {}
    with httpx.Client(headers=headers, timeout=timeout, follow_redirects=True) as client:
        for query in queries:
            try:
                response = client.get(f"{base}/{query}/metadata")
            except httpx.TransportError as error:
                raise DriftCheckError(
                    f"could not reach {base} ({type(error).__name__}); check --base-url",
                    query=query,
                ) from None
            if response.status_code in (401, 403):
                raise DriftCheckError(
                    f"{query}: HTTP {response.status_code}: the server wants a valid API key "
                    "(--api-key or TCIA_API_KEY)",
                    query=query,
                    status=response.status_code,
                )
            if response.status_code == 404:
                continue  # the query is gone: reported as removed
            if response.status_code != 200:
                raise DriftCheckError(
                    f"{query}: HTTP {response.status_code} for its metadata; try again later",
                    query=query,
                    status=response.status_code,
                )
            try:
                documents[query] = response.json()
            except ValueError:
                raise DriftCheckError(f"{query}: the metadata is not JSON", query=query) from None
    if not documents:
        raise DriftCheckError(f"no query answered at {base}/<query>/metadata; check --base-url")
    return documents
