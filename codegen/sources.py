"""Where metadata documents come from: the checked-in snapshot, or a TCIA server."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from codegen.errors import CodegenError

Documents = dict[str, Any]
"""Query name -> the document as parsed JSON (not yet validated)."""


def read_snapshot(directory: Path) -> Documents:
    """Every ``<query>.json`` under ``directory``, keyed by file stem, in name order."""
    documents: Documents = {}
    for path in sorted(directory.glob("*.json")):
        try:
            documents[path.stem] = json.loads(path.read_text("utf-8"))
        except json.JSONDecodeError as error:
            raise CodegenError(f"{path.stem}: {path} is not valid JSON: {error}") from None
    if not documents:
        raise CodegenError(f"no metadata documents (*.json) in {directory}")
    return documents


def fetch(
    base_url: str, queries: list[str], *, api_key: str | None, timeout: float = 30.0
) -> Documents:
    """GET ``{base_url}/{query}/metadata`` for every query."""
    headers = {"api_key": api_key} if api_key else {}
    documents: Documents = {}
    with httpx.Client(
        base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout
    ) as client:
        for query in queries:
            try:
                response = client.get(f"{query}/metadata")
            except httpx.HTTPError as error:
                raise CodegenError(
                    f"{query}: could not reach {base_url} ({type(error).__name__}); "
                    "check --base-url and that the server is up"
                ) from None
            if response.status_code == 401:
                raise CodegenError(f"{query}: HTTP 401 from {base_url}; pass a valid --api-key")
            if response.status_code != 200:
                raise CodegenError(
                    f"{query}: HTTP {response.status_code} from {base_url}/{query}/metadata; "
                    "check --base-url (it ends before the query name)"
                )
            try:
                documents[query] = response.json()
            except ValueError:
                raise CodegenError(f"{query}: the metadata response is not JSON") from None
    return documents


def serialize_document(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def lock_file(source: str, fetched_on: str, documents: Mapping[str, Any]) -> str:
    """Where the snapshot came from, with a hash per document."""
    hashes = {
        name: hashlib.sha256(serialize_document(document).encode()).hexdigest()
        for name, document in sorted(documents.items())
    }
    return serialize_document({"source": source, "fetched": fetched_on, "sha256": hashes})
